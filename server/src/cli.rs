//! The command line. Options shared by every command come first; each can also be given as an
//! environment variable or in the config file (command line > environment > file > default).
//!
//! Long file: every command's options in one place, in the order `trove --help` lists them, so
//! the whole command line reads as one document.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use trove_engine::catalog::Sort;
use trove_engine::describe::CaptionChoice;

use crate::settings::{DeviceChoice, Overrides, PrecisionChoice};

const AFTER_HELP: &str = "\
Configuration file (TOML), used when --config or TROVE_CONFIG names it, or when
<platform config dir>/trove/config.toml exists (~/.config/trove/config.toml on Linux):

    data_dir = \"~/.local/share/trove\"
    libraries = [\"~/Pictures\", \"/mnt/photos\"]
    model = \"google/siglip-base-patch16-224\"
    device = \"auto\"
    precision = \"auto\"  # \"fp32\": no bf16 matrix products on the CPU
    addr = \"127.0.0.1:3000\"
    lan = false      # true: serve the whole network (like trove serve --lan)
    allowed_hosts = [\"photos.example.org\"]  # names a proxy forwards (see --allowed-host)
    loopback_admin = true     # false: this machine needs the token too (behind a proxy)
    guests_see_paths = false  # true: guests see folders, paths and GPS positions

TROVE_LIBRARY takes several folders separated like PATH (':' on Unix, ';' on Windows).
With no command, trove serves the web UI.";

/// Trove: local-first semantic search for your photo and meme library.
#[derive(Debug, Parser)]
#[command(
    name = "trove",
    version,
    about = "Trove: local-first semantic search for your photo and meme library",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command understands.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Where Trove keeps its catalog, vector index, thumbnails and models
    /// [default: the platform's data directory, e.g. ~/.local/share/trove].
    #[arg(long, env = "TROVE_DATA_DIR", value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// A library root folder to index and search; repeat for several [env: TROVE_LIBRARY].
    #[arg(long = "library", value_name = "DIR", global = true)]
    pub libraries: Vec<PathBuf>,

    /// Embedding model: a Hugging Face repository id or a local model folder
    /// [default: openai/clip-vit-base-patch32].
    #[arg(long, env = "TROVE_MODEL", value_name = "MODEL", global = true)]
    pub model: Option<String>,

    /// Where models run: `auto` uses a usable GPU and falls back to the CPU [default: auto].
    #[arg(long, env = "TROVE_DEVICE", value_enum, global = true)]
    pub device: Option<DeviceChoice>,

    /// The arithmetic of models on the CPU: `auto` multiplies in bf16 where the CPU has
    /// AVX512_BF16 (about twice as fast, embeddings within cosine 0.999 of fp32, so a library
    /// embedded either way stays searchable), `fp32` never [default: auto].
    #[arg(long, env = "TROVE_PRECISION", value_enum, global = true)]
    pub precision: Option<PrecisionChoice>,

    /// A TOML configuration file (see below).
    #[arg(long, env = "TROVE_CONFIG", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,

    /// Allow the whole disk (`/`) or the home folder itself as a library folder, which is
    /// refused otherwise (it would index every icon, cache and download).
    #[arg(long, env = "TROVE_ALLOW_BROAD_LIBRARY", global = true)]
    pub allow_broad_library: bool,

    /// Do not read the words in pictures (OCR) during crawls; search then finds words only in
    /// file and folder names and camera facts.
    #[arg(long, env = "TROVE_NO_OCR", global = true)]
    pub no_ocr: bool,

    /// Whether crawls caption pictures (after embedding and reading words): `auto` captions on
    /// a GPU, or with a small captioner such as the demo one, and waits for `on` where a full
    /// Florence-2 would take seconds a picture on the CPU [default: auto].
    #[arg(long, env = "TROVE_CAPTIONS", value_name = "auto|on|off", global = true, value_parser = parse_captions)]
    pub captions: Option<CaptionChoice>,
}

fn parse_captions(s: &str) -> Result<CaptionChoice, String> {
    CaptionChoice::parse(s).ok_or_else(|| format!("{s:?}: auto, on or off"))
}

impl GlobalArgs {
    /// What the settings take from the command line.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            libraries: self.libraries.clone(),
            model: self.model.clone(),
            device: self.device,
            precision: self.precision,
            config: self.config.clone(),
            allow_broad_library: self.allow_broad_library,
            no_ocr: self.no_ocr,
            captions: self.captions,
        }
    }
}

/// Trove's commands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve the web UI and the HTTP API (the default).
    Serve(ServeArgs),
    /// List installed embedding models, or download one from the Hugging Face Hub.
    Model(ModelArgs),
    /// Crawl folders (default: the configured libraries) into the catalog: new and changed
    /// images are decoded, embedded with the configured model and made searchable. Safe to
    /// interrupt; the next run resumes.
    Index(IndexArgs),
    /// Show the catalog: libraries, counts, the last crawl and the files skipped, with reasons.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Search the catalog by text: `trove search "red circle"`, `trove search "dog -cat"`.
    Search {
        /// What to look for; words starting with `-` are excluded.
        text: String,
        /// Paging, filters, output.
        #[command(flatten)]
        options: QueryOptions,
    },
    /// Images that look like an indexed image (its id) or any image file.
    Similar(SimilarArgs),
    /// Print the admin link's token (made on first use), or replace it with `--rotate`.
    AdminToken {
        /// Make a new token: old admin links and cookies stop working.
        #[arg(long)]
        rotate: bool,
    },
    /// Generate Trove's captioned synthetic images (the demo library and the demo model's
    /// training data): PNGs or raw pixels, plus captions.jsonl.
    Synth(SynthArgs),
    /// Describe pictures with the local captioner: `trove caption photo.jpg`, or an indexed
    /// image by its id (`trove caption 42`).
    Caption(CaptionArgs),
    /// Lightroom Classic catalogs, read-only: `trove lightroom recover CATALOG.lrcat OUT/`.
    Lightroom(LightroomArgs),
    /// Bring in what a photographer's catalog says about the photos (keywords, titles,
    /// captions, ratings, picks, labels, collections, people), read-only: `trove import
    /// lightroom CATALOG.lrcat`, `trove import photos LIBRARY.photoslibrary`. Importing again
    /// picks up changes.
    Import(ImportArgs),
}

/// Options of `trove import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// What to import or forget.
    #[command(subcommand)]
    pub action: ImportAction,
}

/// The import subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum ImportAction {
    /// Import (or import again) a Lightroom Classic catalog (`.lrcat`).
    Lightroom {
        /// The catalog file.
        catalog: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import (or import again) an Apple Photos library (`.photoslibrary`, Photos 5 to 10):
    /// keywords, albums, people, titles, descriptions and favourites. Its pictures are in its
    /// `originals` folder: index that too (`trove index LIBRARY/originals`).
    Photos {
        /// The library folder.
        library: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the imported catalogs and what they matched.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget an imported catalog or library and everything it brought (it is itself untouched).
    Remove {
        /// The catalog file or library folder, as it was imported.
        catalog: PathBuf,
    },
}

/// Options of `trove lightroom`.
#[derive(Debug, Clone, Args)]
pub struct LightroomArgs {
    /// What to do with a catalog.
    #[command(subcommand)]
    pub action: LightroomAction,
}

/// The Lightroom subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum LightroomAction {
    /// Write the largest preview Lightroom kept of each photo as a JPEG named after the
    /// original (its folders below the catalog's root folders kept, its capture date in EXIF
    /// and as the file's date): a way back to photos whose originals are lost.
    Recover {
        /// The catalog (`.lrcat`); its previews are in `<name> Previews.lrdata` beside it.
        catalog: PathBuf,
        /// The folder to write into (made if missing; files already there are never replaced).
        out: PathBuf,
        /// Print one JSON object per photo instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Options of `trove caption`.
#[derive(Debug, Clone, Args)]
pub struct CaptionArgs {
    /// Picture files to describe, or ids of indexed images.
    #[arg(required = true, value_name = "FILE|ID")]
    pub files: Vec<PathBuf>,
    /// The captioner: a Florence-2 folder or installed repository id
    /// (`trove model pull florence-community/Florence-2-base`).
    #[arg(long, default_value = trove_models::demo::DEMO_CAPTIONER)]
    pub captioner: String,
    /// What to ask: caption, detailed-caption, more-detailed-caption or ocr.
    #[arg(long, default_value = "caption")]
    pub task: String,
    /// Beams of the search (default: the captioner's own setting; 1 is greedy and fastest).
    #[arg(long)]
    pub beams: Option<usize>,
    /// Print JSON (one object per picture, in a list) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Options of `trove index`.
#[derive(Debug, Clone, Args)]
pub struct IndexArgs {
    /// Library folders to crawl [default: the configured libraries].
    pub folders: Vec<PathBuf>,
    /// Skip images larger than this many megapixels (decompression bombs).
    #[arg(long, default_value_t = 100, value_name = "MP")]
    pub max_megapixels: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Forget the words read in every picture first, so this crawl reads them all again
    /// (another text reader reads again by itself; this is for reading again anyway).
    #[arg(long)]
    pub read_again: bool,
}

/// Paging, filters and output shared by `search` and `similar`.
#[derive(Debug, Clone, Args)]
pub struct QueryOptions {
    /// Results per page (1–200).
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Skip this many results (the `next_offset` of the previous page).
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Only images under this folder.
    #[arg(long)]
    pub folder: Option<PathBuf>,
    /// Captured on or after this date (YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<String>,
    /// Captured on or before this date (YYYY-MM-DD).
    #[arg(long)]
    pub to: Option<String>,
    /// Camera make or model contains this.
    #[arg(long)]
    pub camera: Option<String>,
    /// File format: jpeg, png, webp, gif, tiff, bmp, heic.
    #[arg(long)]
    pub format: Option<String>,
    /// Order: relevance, newest or oldest (by capture date, among the relevant results).
    #[arg(long, value_enum, default_value_t = SortArg::Relevance)]
    pub sort: SortArg,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Result order, as the command line spells it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum SortArg {
    /// Most similar first.
    #[default]
    Relevance,
    /// Newest capture date first (undated last), among the relevant results.
    Newest,
    /// Oldest capture date first (undated last), among the relevant results.
    Oldest,
}

impl From<SortArg> for Sort {
    fn from(sort: SortArg) -> Self {
        match sort {
            SortArg::Relevance => Sort::Relevance,
            SortArg::Newest => Sort::Newest,
            SortArg::Oldest => Sort::Oldest,
        }
    }
}

/// Options of `trove similar`.
#[derive(Debug, Clone, Args)]
pub struct SimilarArgs {
    /// An image id (from search results) or an image file (in the library or not).
    pub target: String,
    /// Paging, filters, output.
    #[command(flatten)]
    pub options: QueryOptions,
}

/// Which split `trove synth` draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SplitChoice {
    /// The images the demo model is trained on.
    Train,
    /// The held-out images (evaluation and the demo library).
    Test,
}

/// Options of `trove synth`.
#[derive(Debug, Clone, Args)]
pub struct SynthArgs {
    /// Folder to write into (created if missing).
    pub dir: PathBuf,
    /// How many images.
    #[arg(long, default_value_t = 1000)]
    pub count: u64,
    /// Random seed: the same seed, split and count give the same images.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Training or held-out images.
    #[arg(long, value_enum, default_value_t = SplitChoice::Test)]
    pub split: SplitChoice,
    /// Side of the square images in pixels.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(16..=4096))]
    pub size: u32,
    /// Instead of PNGs, write every image resized to N×N (CLIP's bicubic) into one raw RGB
    /// file, pixels-N.u8, for training.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(8..=1024))]
    pub pixels: Option<u32>,
    /// Also write `Trove demo.lrcat`, a Lightroom Classic catalog of the images (titled by
    /// their captions, keyworded by their colours and shapes, rated, flagged and collected),
    /// for trying `trove import lightroom`.
    #[arg(long, conflicts_with = "pixels")]
    pub lightroom: bool,
}

/// `trove model …`.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// What to do with models.
    #[command(subcommand)]
    pub action: ModelAction,
}

/// The model subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum ModelAction {
    /// Show the models installed in the data directory.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Download a model (config.json, model.safetensors, tokenizer.json,
    /// preprocessor_config.json) from the Hugging Face Hub into the data directory.
    /// HF_ENDPOINT and HF_TOKEN are honoured. `paddleocr/pp-ocrv4` is the text reader: its two
    /// files come from the rapidocr-onnxruntime 1.4.4 wheel on PyPI (TROVE_PYPI_URL names a
    /// mirror), checked against their known hashes.
    Pull {
        /// Repository id, e.g. openai/clip-vit-base-patch32, google/siglip2-base-patch16-224,
        /// or paddleocr/pp-ocrv4.
        repo: String,
    },
    /// Install the text reader (PaddleOCR's PP-OCRv4 detector and recogniser, Apache-2.0) from
    /// a folder holding ch_PP-OCRv4_det_infer.onnx and ch_PP-OCRv4_rec_infer.onnx, as the
    /// rapidocr-onnxruntime 1.4.4 package on PyPI ships them (rapidocr_onnxruntime/models).
    /// The files are checked against their known hashes.
    InstallOcr {
        /// The folder with the two files.
        folder: PathBuf,
    },
    /// Measure the configured model (--model) on Trove's held-out synthetic images:
    /// text-to-image recall@1 and @5 for single-attribute queries ("a green triangle") and
    /// compound ones ("two small red circles on a blue background").
    Eval {
        /// Held-out images to search.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=100_000))]
        count: u64,
        /// Generator seed for the held-out images.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Calibrate the demo vocabulary's tag thresholds for the configured model (--model) on
    /// Trove's generated training pictures (each tag as precise as 90% allows), and measure
    /// precision and recall on held-out ones, beside the rule used where no labels exist (a
    /// threshold from the library's own scores). With --write, the record is saved (the demo
    /// model's is models/assets/demo-clip/tags.json).
    CalibrateTags {
        /// Training pictures to calibrate on.
        #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u64).range(100..=100_000))]
        train: u64,
        /// Held-out pictures to measure on.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(100..=100_000))]
        count: u64,
        /// Generator seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Save the calibration record (JSON) here.
        #[arg(long)]
        write: Option<PathBuf>,
    },
}

impl Default for Command {
    fn default() -> Self {
        Command::Serve(ServeArgs::default())
    }
}

/// Options of `trove serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:3000, or LEPTOS_SITE_ADDR under cargo-leptos].
    #[arg(long, env = "TROVE_ADDR", value_name = "HOST:PORT")]
    pub addr: Option<SocketAddr>,
    /// Serve every device on the local network (binds 0.0.0.0 on the port of --addr). Guests
    /// can search and view; crawls need this machine or the admin link (`trove admin-token`).
    #[arg(long, env = "TROVE_LAN")]
    pub lan: bool,
    /// A host name the server answers to besides its addresses, `localhost` and this machine's
    /// name (e.g. the name a reverse proxy forwards); repeat for several. Requests for any other
    /// name are refused, so a web page cannot reach Trove by re-pointing its own name (DNS
    /// rebinding).
    #[arg(
        long = "allowed-host",
        env = "TROVE_ALLOWED_HOSTS",
        value_delimiter = ',',
        value_name = "NAME"
    )]
    pub allowed_hosts: Vec<String>,
    /// Do not treat requests from this machine as the admin's: needed behind a reverse proxy or
    /// tunnel on this machine, which makes every client look local. The admin link still works.
    #[arg(long, env = "TROVE_NO_LOOPBACK_ADMIN")]
    pub no_loopback_admin: bool,
    /// Show guests absolute paths, folders and GPS positions (by default they see file names).
    #[arg(long, env = "TROVE_GUESTS_SEE_PATHS")]
    pub guests_see_paths: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_command_means_serve() {
        let cli = Cli::try_parse_from(["trove"]).expect("parses");
        assert!(matches!(cli.command.unwrap_or_default(), Command::Serve(_)));
    }

    #[test]
    fn global_options_are_accepted_after_the_command() {
        let cli = Cli::try_parse_from([
            "trove",
            "serve",
            "--library",
            "/a",
            "--library",
            "/b",
            "--device",
            "cpu",
            "--precision",
            "fp32",
        ])
        .expect("parses");
        assert_eq!(
            cli.global.libraries,
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
        assert_eq!(cli.global.device, Some(DeviceChoice::Cpu));
        assert_eq!(cli.global.precision, Some(PrecisionChoice::Fp32));
        assert!(Cli::try_parse_from(["trove", "--precision", "int4"]).is_err());
    }

    #[test]
    fn model_subcommands_parse() {
        let cli = Cli::try_parse_from(["trove", "model", "pull", "openai/clip-vit-base-patch32"])
            .expect("parses");
        assert!(matches!(
            cli.command,
            Some(Command::Model(ModelArgs { action: ModelAction::Pull { ref repo } })) if repo == "openai/clip-vit-base-patch32"
        ));
        let cli = Cli::try_parse_from(["trove", "model", "list", "--json"]).expect("parses");
        assert!(matches!(
            cli.command,
            Some(Command::Model(ModelArgs {
                action: ModelAction::List { json: true }
            }))
        ));
    }

    #[test]
    fn unknown_device_is_rejected_with_the_choices() {
        let err = Cli::try_parse_from(["trove", "--device", "tpu"]).expect_err("rejects");
        let text = err.to_string();
        assert!(text.contains("auto") && text.contains("gpu"), "{text}");
    }
}
