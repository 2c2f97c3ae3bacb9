//! `trove`: parse the command line, resolve settings, run the chosen command.

use std::process::ExitCode;

use clap::Parser;
use server::cli::{Cli, Command};
use server::commands;
use server::settings::Settings;
use trove_engine::Engine;

fn main() -> ExitCode {
    let cli = Cli::parse();
    server::logging::init();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            report(&err);
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::resolve(&cli.global.overrides())?;
    // Locked per command, never while serving (other threads may print then).
    let stdout = std::io::stdout;
    match cli.command.unwrap_or_default() {
        Command::Serve(args) => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(server::web::serve(settings, args))?;
        }
        Command::Model(args) => {
            commands::model::run(&settings, &args.action, &mut stdout().lock())?
        }
        Command::Synth(args) => commands::synth::run(&args)?,
        Command::Caption(args) => commands::caption::run(&settings, &args, &mut stdout().lock())?,
        Command::Status { json } => commands::status::run(&settings, json, &mut stdout().lock())?,
        Command::Search { text, options } => {
            let engine = Engine::open(&settings.engine_config())?;
            commands::search::search_text(&engine, &text, &options, &mut stdout().lock())?;
        }
        Command::Similar(args) => {
            let engine = Engine::open(&settings.engine_config())?;
            commands::search::similar(&engine, &args, &mut stdout().lock())?;
        }
        Command::Import(args) => commands::import::run(&settings, &args, &mut stdout().lock())?,
        Command::Lightroom(args) => commands::lightroom::run(&args, &mut stdout().lock())?,
        Command::Index(args) => commands::index::run(&settings, &args, &mut stdout().lock())?,
        Command::AdminToken { rotate } => {
            commands::admin::token(&settings, rotate, &mut stdout().lock())?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints an error and its causes, one per line, skipping causes their parent already quotes.
fn report(err: &anyhow::Error) {
    let mut previous = err.to_string();
    eprintln!("trove: error: {previous}");
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !previous.contains(&text) {
            eprintln!("  caused by: {text}");
        }
        previous = text;
    }
}
