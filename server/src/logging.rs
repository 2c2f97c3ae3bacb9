//! Log output to stderr, filtered by `RUST_LOG` (default: `info` for Trove, `warn` for the rest).

/// Installs the global subscriber; later calls are ignored.
pub fn init() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,server=info,trove=info,trove_models=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
