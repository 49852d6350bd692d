//! The `dpp-gateway` binary: parses the command line, sets up logging, runs the command.

use clap::Parser;
use dpp_gateway::cli::{Cli, run};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    dpp_gateway::log_output::init(&cli.log_format);
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
