//! `alma-ext-server`: see `alma-ext-server --help` and docs/server.md.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    alma_ext_server::cli::main()
}
