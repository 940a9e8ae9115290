//! `tessera`: the Tessera binary. Today it builds and inspects segments and runs SQL over
//! them; the server
//! roles (quickstart, standalone, cluster) are wired here as they land.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod query_command;
mod segment_command;

/// Tessera: a real-time analytics database.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build and inspect immutable segment files.
    #[command(subcommand)]
    Segment(segment_command::SegmentCommand),
    /// Run SQL over segment files.
    Query(query_command::QueryArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Segment(command) => segment_command::run(command),
        Command::Query(args) => query_command::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
