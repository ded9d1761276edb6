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

/// The level of `alma-ext agent`: run in a terminal (the foreground), it
/// says what it does (start, schedule, each check-in and its result), so
/// at least `info`; under systemd the configured level.
pub fn agent_level(configured: &str, foreground: bool) -> &str {
    match configured {
        "error" | "warn" if foreground => "info",
        l => l,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foreground_agent_says_what_it_does() {
        assert_eq!(agent_level("warn", true), "info");
        assert_eq!(agent_level("warn", false), "warn");
        assert_eq!(agent_level("debug", true), "debug");
    }
}
