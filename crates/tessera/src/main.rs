//! `tessera`: the Tessera binary — segment build/inspect, SQL over segment files or a
//! server, and the single-process server roles (`standalone`, `quickstart`).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: a query grouping a million keys allocates one per group in each segment
/// and frees them in the merge; glibc's malloc spent a fifth of such a query's time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long memory a query freed stays with the allocator for the next allocation before
/// it goes back to the operating system: 10 s, jemalloc's default decay (ClickHouse sets
/// 5 s). mimalloc's own default, 1 s, returns a query's buffers between its segments and
/// between queries, and the kernel then zeroes every page again when they are taken back:
/// a fifth of a two-key GROUP BY over 8·10⁶ groups (3.45 s → 2.6–3.0 s on SF10 with
/// longer retention, docs/benchmarks.md). Memory then stays resident for up to 10 s after
/// the query that used it; `MIMALLOC_PURGE_DELAY` (milliseconds, read at start) overrides.
const FREED_MEMORY_RETAINED_MS: std::ffi::c_long = 10_000;

/// mimalloc's `mi_option_purge_delay`, the 16th of its options in v2 and v3 alike.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// `prctl`'s option that turns transparent huge pages off for the calling process.
const PR_SET_THP_DISABLE: std::ffi::c_int = 41;

/// Whether the command line builds segments (`segment build`, `ingest`).
fn builds_segments() -> bool {
    let mut args = std::env::args_os().skip(1);
    match (args.next(), args.next()) {
        (Some(first), second) if first == "segment" => second.is_some_and(|s| s == "build"),
        (Some(first), _) => first == "ingest",
        _ => false,
    }
}

/// Apply [`FREED_MEMORY_RETAINED_MS`] unless the environment chose a delay, and turn
/// transparent huge pages off in a process that builds segments ([`builds_segments`]):
/// mimalloc commits its arenas eagerly and the kernel then faults them in 2 MiB pages
/// it zeroes whole. Building lineitem sf1 on one core took 1,314 huge-page faults (about
/// 2.6 GB zeroed, 30 % of the build's samples in `clear_page_erms`) for a 600 MB peak,
/// and 10.1–10.4 s; with small pages, 154,613 faults (600 MB) and 7.4–7.9 s. Query
/// serving keeps huge pages: its scans were 3–5 % slower without them. Called first in
/// `main`, before any other thread exists.
#[allow(unsafe_code)]
fn tune_allocator() {
    unsafe extern "C" {
        fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
        fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
    }
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mimalloc's option setter takes two integers, checks the option's
        // range and stores the value in its option table; it touches no memory of
        // ours. It runs before any other thread exists, so no allocation reads the
        // table meanwhile. The symbol is mimalloc's, linked in by the global allocator
        // above.
        unsafe {
            mi_option_set(MI_OPTION_PURGE_DELAY, FREED_MEMORY_RETAINED_MS);
        }
    }
    if builds_segments() {
        // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and sets a flag of
        // this process's memory map; it fails harmlessly (and is ignored) on a kernel
        // without it.
        unsafe {
            prctl(
                PR_SET_THP_DISABLE,
                1 as std::ffi::c_ulong,
                0 as std::ffi::c_ulong,
                0 as std::ffi::c_ulong,
                0 as std::ffi::c_ulong,
            );
        }
    }
}

mod cluster;
mod http_client;
mod ingest_command;
mod query_command;
mod secret_command;
mod segment_command;
mod standalone;

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
    /// Build segments from files and upload them into a table on a server.
    Ingest(ingest_command::IngestArgs),
    /// Run controller, broker and server in one process with the HTTP API.
    Standalone(standalone::StandaloneArgs),
    /// The standalone server with a demo `events` table fed by a generator.
    Quickstart(standalone::quickstart::QuickstartArgs),
    /// A cluster controller: admin API, segment assignment, leader election (etcd).
    Controller(cluster::RoleArgs),
    /// A cluster broker: queries scattered to servers over Arrow Flight.
    Broker(cluster::RoleArgs),
    /// A cluster server: serves the segments assigned to it over Arrow Flight.
    Server(cluster::RoleArgs),
    /// Print the hashed form of a password or token for the node config's [auth].
    HashSecret(secret_command::HashSecretArgs),
    /// Print every HTTP route with the role it needs when auth is on.
    Routes,
}

fn main() -> ExitCode {
    tune_allocator();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    tessera_query::sql_limits::size_query_threads();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Segment(command) => segment_command::run(command),
        Command::Query(args) => query_command::run(args),
        Command::Ingest(args) => ingest_command::run(args),
        Command::Standalone(args) => standalone::run(args),
        Command::Quickstart(args) => standalone::quickstart::run(args),
        Command::Controller(args) => cluster::run_controller(args),
        Command::Broker(args) => cluster::run_broker(args),
        Command::Server(args) => cluster::run_server(args),
        Command::HashSecret(args) => secret_command::run(args),
        Command::Routes => {
            secret_command::print_routes();
            Ok(())
        }
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
