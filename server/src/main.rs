//! `alma-ext-server`: see `alma-ext-server --help` and docs/server.md.
fn main() {
    alma_ext_server::cli::main()
}
