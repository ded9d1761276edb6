//! Links `alma-ext` with agent/link/hot-text.ld, which groups the functions
//! that `alma-ext facts` and `--version` run at the start of the executable
//! segment. The kernel maps each code page fault with up to 64 KiB of
//! neighbours, so scattered hot code costs resident memory: grouping it cut
//! the peak RSS of `alma-ext facts` from 4.5 to 3.2 MiB
//! (benches/results/facts.md). The script only adds an output section
//! (INSERT BEFORE .text), so the binary stays a PIE and links the same with
//! GNU ld and lld (not gold: it has no INSERT). It changes where code sits,
//! never what it does.

fn main() {
    let script = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("link")
        .join("hot-text.ld");
    println!("cargo:rerun-if-changed=link/hot-text.ld");
    println!("cargo:rerun-if-changed=build.rs");
    // The script is ELF linker syntax: Linux only (x86_64 and aarch64 RPMs).
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!(
            "cargo:rustc-link-arg-bin=alma-ext=-Wl,-T,{}",
            script.display()
        );
    }
}
