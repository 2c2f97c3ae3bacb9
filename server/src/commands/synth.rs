//! `trove synth`: write a generated, captioned image set to a folder.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context;
use trove_models::synth::{self, Output, Split};

use crate::cli::{SplitChoice, SynthArgs};

/// Generates the images, reporting progress on stderr.
pub fn run(args: &SynthArgs) -> anyhow::Result<()> {
    let split = match args.split {
        SplitChoice::Train => Split::Train,
        SplitChoice::Test => Split::Test,
    };
    let output = args.pixels.map_or(Output::Png, Output::Pixels);
    let started = Instant::now();
    let live = std::io::stderr().is_terminal();
    let last_tenth = AtomicU64::new(0);
    let progress = |done: u64| {
        let tenth = done * 10 / args.count.max(1);
        if live {
            eprint!("\rsynth: {done}/{} images", args.count);
        } else if last_tenth.swap(tenth, Ordering::Relaxed) != tenth {
            eprintln!("synth: {done}/{} images", args.count);
        }
    };
    synth::write_set(
        &args.dir, args.seed, split, args.count, args.size, output, &progress,
    )
    .with_context(|| format!("generating images into {}", args.dir.display()))?;
    if live {
        eprintln!();
    }
    let what = match output {
        Output::Png => "PNGs".to_owned(),
        Output::Pixels(n) => format!("pixels-{n}.u8"),
    };
    println!(
        "wrote {} {split:?} images ({what}, captions.jsonl) to {} in {:.1} s",
        args.count,
        args.dir.display(),
        started.elapsed().as_secs_f64()
    );
    if args.lightroom {
        let catalog = lightroom_catalog(&args.dir)?;
        println!("wrote {}", catalog.display());
    }
    Ok(())
}

/// A Lightroom Classic catalog of a generated set: each picture titled by its caption,
/// keyworded by the colours and shapes its caption names (`Colours > red`), rated 0–5 stars by
/// its index, every seventh picked and every eleventh rejected, every third in the collection
/// `Trove demo / Every third`.
fn lightroom_catalog(dir: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    use trove_engine::lightroom::fixture::{Builder, Photo, Release};
    use trove_models::synth::{Colour, Shape};
    let root = std::fs::canonicalize(dir)?;
    let path = root.join("Trove demo.lrcat");
    if path.exists() {
        std::fs::remove_file(&path).with_context(|| format!("replacing {}", path.display()))?;
    }
    let mut b = Builder::new(&path, &root, Release::Classic14)
        .with_context(|| format!("writing {}", path.display()))?;
    let lines = std::fs::read_to_string(root.join("captions.jsonl"))?;
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let (Some(index), Some(file), Some(caption)) = (
            v["index"].as_u64(),
            v["file"].as_str(),
            v["caption"].as_str(),
        ) else {
            continue;
        };
        let words: Vec<&str> = caption
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let mut keywords = Vec::new();
        for c in Colour::ALL {
            if words.contains(&c.name()) {
                keywords.push(format!("Colours|{}", c.name()));
            }
        }
        for s in Shape::ALL {
            if words.iter().any(|w| *w == s.name() || *w == s.plural()) {
                keywords.push(format!("Shapes|{}", s.name()));
            }
        }
        b.photo(&Photo {
            name: file.to_owned(),
            title: Some(caption.to_owned()),
            rating: Some((index % 6) as u8).filter(|r| *r > 0),
            pick: if index % 7 == 0 {
                1
            } else if index % 11 == 0 {
                -1
            } else {
                0
            },
            keywords,
            collections: if index % 3 == 0 {
                vec!["Trove demo/Every third".into()]
            } else {
                Vec::new()
            },
            ..Default::default()
        })?;
    }
    Ok(path)
}
