//! `trove`: parse the command line, resolve settings, run the chosen command.

use std::process::ExitCode;

use clap::Parser;
use server::cli::{Cli, Command};

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
    let settings = server::settings::Settings::resolve(&cli.global)?;
    match cli.command.unwrap_or_default() {
        Command::Serve(args) => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(server::web::serve(settings, args))?;
        }
        Command::Model(args) => {
            server::model_cmd::run(&settings, &args.action, &mut std::io::stdout().lock())?;
        }
        Command::Synth(args) => server::synth_cmd::run(&args)?,
        Command::Status { json } => {
            server::status_cmd::run(&settings, json, &mut std::io::stdout().lock())?;
        }
        Command::Search { text, options } => {
            let library = server::library::Library::open(&settings)?;
            server::search_cmd::search_text(
                &library,
                &text,
                &options,
                &mut std::io::stdout().lock(),
            )?;
        }
        Command::Similar(args) => {
            let library = server::library::Library::open(&settings)?;
            server::search_cmd::similar(&library, &args, &mut std::io::stdout().lock())?;
        }
        Command::Index(args) => {
            server::index_cmd::run(&settings, &args, &mut std::io::stdout().lock())?;
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
