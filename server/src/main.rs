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
            eprintln!("trove: error: {err:#}");
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
    }
    Ok(ExitCode::SUCCESS)
}
