//! Settings resolved once at start: command line > environment > config file > defaults (the
//! model an admin chose on the web page sits between the environment and the file).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use trove_engine::describe::CaptionChoice;
use trove_engine::fsutil::{write_atomic, WriteOptions};
use trove_engine::EngineConfig;

/// The model used when none is configured (the original prototype's choice).
pub const DEFAULT_MODEL: &str = "openai/clip-vit-base-patch32";

pub use trove_models::demo::DEMO_MODEL;

/// The file in the data directory that keeps the model an admin chose on the web page.
pub const MODEL_CHOICE_FILE: &str = "model-choice";

/// The compute device preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// The GPU when one is usable, else the CPU.
    #[default]
    Auto,
    /// Always the CPU.
    Cpu,
    /// Always the GPU; an error if none is usable.
    Gpu,
}

impl DeviceChoice {
    /// The models crate's equivalent.
    pub fn preference(self) -> trove_models::DevicePreference {
        match self {
            DeviceChoice::Auto => trove_models::DevicePreference::Auto,
            DeviceChoice::Cpu => trove_models::DevicePreference::Cpu,
            DeviceChoice::Gpu => trove_models::DevicePreference::Gpu,
        }
    }

    /// The name used on the command line and in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Gpu => "gpu",
        }
    }
}

/// The arithmetic models may use on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrecisionChoice {
    /// bf16 matrix products where the CPU has AVX512_BF16 (about twice as fast; embeddings
    /// within cosine 0.999 of fp32), else fp32.
    #[default]
    Auto,
    /// fp32 throughout.
    Fp32,
}

impl PrecisionChoice {
    /// The models crate's equivalent.
    pub fn preference(self) -> trove_models::PrecisionPreference {
        match self {
            PrecisionChoice::Auto => trove_models::PrecisionPreference::Auto,
            PrecisionChoice::Fp32 => trove_models::PrecisionPreference::Fp32,
        }
    }
}

/// What the command line says (each also settable by its environment variable, which clap
/// reads); the command line's `GlobalArgs` turns into this.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--library`, repeated.
    pub libraries: Vec<PathBuf>,
    /// `--model`.
    pub model: Option<String>,
    /// `--device`.
    pub device: Option<DeviceChoice>,
    /// `--precision`.
    pub precision: Option<PrecisionChoice>,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--allow-broad-library`: the whole disk or the home folder may be a library.
    pub allow_broad_library: bool,
    /// `--no-ocr`: crawls do not read the words in pictures.
    pub no_ocr: bool,
    /// `--captions`.
    pub captions: Option<CaptionChoice>,
}

/// Why the settings could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The config file named by `--config`/`TROVE_CONFIG` could not be read.
    #[error("cannot read config file {path}")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown keys.
    #[error("invalid config file {path}")]
    ParseConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A library is the whole disk or the home folder, and that was not forced.
    #[error("{} is {}; crawling all of it would index every icon, cache and download. Name the \
             picture folders instead, or pass --allow-broad-library if you really mean it",
            path.display(), crate::breadth::kind(path))]
    BroadLibrary {
        /// The folder.
        path: PathBuf,
    },
    /// No data directory was given and the platform has no home directory to derive one from.
    #[error("no data directory: set --data-dir or TROVE_DATA_DIR (no home directory was found)")]
    NoDataDir,
    /// `captions` in the config file is not `auto`, `on` or `off`.
    #[error("captions = {value:?} in the config file: it takes \"auto\", \"on\" or \"off\"")]
    Captions {
        /// What it said.
        value: String,
    },
}

/// The optional TOML config file.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// See `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// See `--library`.
    #[serde(default)]
    pub libraries: Vec<PathBuf>,
    /// See `--model`.
    pub model: Option<String>,
    /// See `--device`.
    pub device: Option<DeviceChoice>,
    /// See `--precision`.
    pub precision: Option<PrecisionChoice>,
    /// See `trove serve --addr`.
    pub addr: Option<SocketAddr>,
    /// See `trove serve --lan`.
    #[serde(default)]
    pub lan: bool,
    /// See `trove serve --allowed-host`.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// `false` is `trove serve --no-loopback-admin`.
    pub loopback_admin: Option<bool>,
    /// See `trove serve --guests-see-paths`.
    #[serde(default)]
    pub guests_see_paths: bool,
    /// `false` is `--no-ocr`.
    pub read_text: Option<bool>,
    /// `auto`, `on` or `off`: see `--captions`.
    pub captions: Option<String>,
    /// The captioner crawls use: a Florence-2 repository id or folder (default: the installed
    /// one).
    pub captioner: Option<String>,
}

/// Everything a command needs to know about its configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Catalog, index, thumbnails and models live here.
    pub data_dir: PathBuf,
    /// Library roots, in the order given.
    pub libraries: Vec<PathBuf>,
    /// Model id or folder.
    pub model: String,
    /// Where the model choice came from.
    pub model_source: ModelSource,
    /// Device preference.
    pub device: DeviceChoice,
    /// The arithmetic allowed on the CPU.
    pub precision: PrecisionChoice,
    /// Listen address from the config file, if any (the command line overrides it).
    pub addr: Option<SocketAddr>,
    /// Serve the whole network, from the config file (`trove serve --lan` also turns it on).
    pub lan: bool,
    /// Whether the whole disk or the home folder may be a library (`--allow-broad-library`).
    pub allow_broad_library: bool,
    /// Who may reach the server and how, from the config file (`trove serve` flags add to it).
    pub network: Network,
    /// Whether crawls read the words in pictures (`--no-ocr`, `read_text = false`).
    pub read_text: bool,
    /// Whether crawls caption pictures (`--captions`, `captions = "…"`).
    pub captions: CaptionChoice,
    /// The captioner crawls use, when one is named (`captioner = "…"`).
    pub captioner: Option<String>,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
}

/// The server's network rules from the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Host names the server answers to beyond address literals, loopback names and the
    /// machine's name (e.g. the name a reverse proxy forwards).
    pub allowed_hosts: Vec<String>,
    /// Whether a request from this machine is an admin without the token.
    pub loopback_admin: bool,
    /// Whether guests see absolute paths and GPS positions (off: file names only).
    pub guests_see_paths: bool,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            allowed_hosts: Vec::new(),
            loopback_admin: true,
            guests_see_paths: false,
        }
    }
}

/// Where [`Settings::model`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    /// `--model`, `TROVE_MODEL` or the config file.
    Chosen,
    /// Chosen by an admin on the web page (kept in `<data>/model-choice`).
    Saved,
    /// Nothing was chosen and the default model is installed.
    Default,
    /// Nothing was chosen and the default model is not installed, so the built-in demo model
    /// is used (search works on Trove's generated images only).
    Demo,
}

/// What the environment contributes beyond clap's own `env` handling.
#[derive(Debug, Default, Clone)]
pub struct Environment {
    /// `TROVE_LIBRARY`, split like `PATH`.
    pub libraries: Option<OsString>,
    /// The platform's default config file (`~/.config/trove/config.toml`).
    pub default_config: Option<PathBuf>,
    /// The platform's default data directory.
    pub default_data_dir: Option<PathBuf>,
    /// The home directory, for `~/` in the config file.
    pub home: Option<PathBuf>,
}

impl Environment {
    /// Reads the real process environment and platform directories.
    pub fn from_process() -> Self {
        let dirs = directories::ProjectDirs::from("", "", "trove");
        Environment {
            libraries: std::env::var_os("TROVE_LIBRARY").filter(|v| !v.is_empty()),
            default_config: dirs.as_ref().map(|d| d.config_dir().join("config.toml")),
            default_data_dir: dirs.as_ref().map(|d| d.data_dir().to_path_buf()),
            home: directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf()),
        }
    }
}

impl Settings {
    /// Resolves settings from the command line and the real environment.
    pub fn resolve(args: &Overrides) -> Result<Self, SettingsError> {
        Self::resolve_with(args, &Environment::from_process())
    }

    /// What an engine over these settings is opened with.
    pub fn engine_config(&self) -> EngineConfig {
        EngineConfig {
            data_dir: self.data_dir.clone(),
            model: self.model.clone(),
            device: self.device.preference(),
            precision: self.precision.preference(),
            read_text: self.read_text,
            captions: self.captions,
            captioner: self.captioner.clone(),
        }
    }

    /// Resolves settings from the command line and the given environment.
    pub fn resolve_with(args: &Overrides, env: &Environment) -> Result<Self, SettingsError> {
        let (file, config_file) = match (&args.config, &env.default_config) {
            (Some(path), _) => (read_config(path)?, Some(path.clone())),
            (None, Some(path)) if path.is_file() => (read_config(path)?, Some(path.clone())),
            (None, _) => (ConfigFile::default(), None),
        };
        let expand = |p: &Path| expand_home(p, env.home.as_deref());

        let data_dir = match (&args.data_dir, &file.data_dir, &env.default_data_dir) {
            (Some(dir), _, _) => dir.clone(),
            (None, Some(dir), _) => expand(dir),
            (None, None, Some(dir)) => dir.clone(),
            (None, None, None) => return Err(SettingsError::NoDataDir),
        };
        let libraries = if !args.libraries.is_empty() {
            args.libraries.clone()
        } else if let Some(list) = &env.libraries {
            std::env::split_paths(list)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        } else {
            file.libraries.iter().map(|p| expand(p)).collect()
        };
        check_breadth(&libraries, env.home.as_deref(), args.allow_broad_library)?;
        let saved = saved_model_choice(&data_dir);
        let chosen = match (args.model.clone(), saved, file.model) {
            (Some(model), ..) => Some((model, ModelSource::Chosen)),
            (None, Some(model), _) => Some((model, ModelSource::Saved)),
            (None, None, model) => model.map(|m| (m, ModelSource::Chosen)),
        };
        let (model, model_source) = match chosen {
            Some(chosen) => chosen,
            None => {
                let installed = trove_engine::model_store::ModelStore::new(&data_dir)
                    .resolve(DEFAULT_MODEL)
                    .is_ok();
                if installed {
                    (DEFAULT_MODEL.to_owned(), ModelSource::Default)
                } else {
                    (DEMO_MODEL.to_owned(), ModelSource::Demo)
                }
            }
        };
        let captions = match (args.captions, file.captions.as_deref()) {
            (Some(choice), _) => choice,
            (None, Some(text)) => {
                CaptionChoice::parse(text).ok_or_else(|| SettingsError::Captions {
                    value: text.to_owned(),
                })?
            }
            (None, None) => CaptionChoice::Auto,
        };
        Ok(Settings {
            data_dir,
            libraries,
            model,
            model_source,
            device: args.device.or(file.device).unwrap_or_default(),
            precision: args.precision.or(file.precision).unwrap_or_default(),
            addr: file.addr,
            lan: file.lan,
            allow_broad_library: args.allow_broad_library,
            network: Network {
                allowed_hosts: file.allowed_hosts,
                loopback_admin: file.loopback_admin.unwrap_or(true),
                guests_see_paths: file.guests_see_paths,
            },
            read_text: !args.no_ocr && file.read_text.unwrap_or(true),
            captions,
            captioner: file
                .captioner
                .map(|c| expand(Path::new(&c)).display().to_string()),
            config_file,
        })
    }
}

/// Refuses library folders that are [too broad](crate::breadth::too_broad) unless `allowed`.
pub fn check_breadth(
    folders: &[PathBuf],
    home: Option<&Path>,
    allowed: bool,
) -> Result<(), SettingsError> {
    match folders
        .iter()
        .find(|f| !allowed && crate::breadth::too_broad(f, home))
    {
        Some(path) => Err(SettingsError::BroadLibrary { path: path.clone() }),
        None => Ok(()),
    }
}

/// The model an admin chose on the web page, if any (an unreadable file counts as none).
fn saved_model_choice(data_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(data_dir.join(MODEL_CHOICE_FILE)).ok()?;
    let model = text.trim();
    (!model.is_empty()).then(|| model.to_owned())
}

/// Keeps an admin's model choice for the next start, atomically and durably, so a crash leaves
/// either the old choice or the new.
pub fn save_model_choice(data_dir: &Path, model: &str) -> std::io::Result<()> {
    let options = WriteOptions {
        durable: true,
        ..WriteOptions::default()
    };
    write_atomic(
        &data_dir.join(MODEL_CHOICE_FILE),
        format!("{model}\n").as_bytes(),
        options,
    )
}

fn read_config(path: &Path) -> Result<ConfigFile, SettingsError> {
    let text = std::fs::read_to_string(path).map_err(|source| SettingsError::ReadConfig {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| SettingsError::ParseConfig {
        path: path.to_path_buf(),
        source: Box::new(source),
    })
}

/// `~/x` becomes `<home>/x`; anything else is returned as is.
fn expand_home(path: &Path, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests;
