//! `tessera`: the Tessera binary. Today it builds and inspects segments; the server
//! roles (quickstart, standalone, cluster) are wired here as they land.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

/// Serve every allocation of 256 KiB or more from its own mapping, so that freeing one (a
/// column's accumulated ids once it is written, a reorder window) returns the memory to
/// the OS at once. glibc's default raises this threshold each time a large block is
/// freed and then keeps such blocks in its heap, so a segment build's resident memory
/// would never fall as columns are written.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "glibc's mallopt has no safe wrapper in std")]
fn return_large_allocations_to_the_os() {
    const M_MMAP_THRESHOLD: i32 = -3;
    unsafe extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    // SAFETY: mallopt only sets a glibc tuning parameter; it is called first thing in
    // main, before any other thread exists, with a valid parameter and value.
    unsafe {
        mallopt(M_MMAP_THRESHOLD, 256 << 10);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_allocations_to_the_os() {}

fn main() -> ExitCode {
    return_large_allocations_to_the_os();
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
