//! Logs: tracing to stderr for journald. No timestamps (journald adds
//! them), no colours, quiet by default (warnings and errors only).

/// Install the subscriber once; `level` is error, warn, info, debug or
/// trace. `RUST_LOG` overrides it.
pub fn init(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("alma_ext_agent={level},warn"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_ansi(false)
        .with_target(false)
        .try_init();
}
