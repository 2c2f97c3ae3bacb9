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
    Ok(())
}
