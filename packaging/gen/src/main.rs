//! `alma-ext-gen --out DIR`: write the man pages and bash/zsh completions of
//! `alma-ext` and `alma-ext-server` under DIR, for `packaging/build` and the
//! RPM spec's %build.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

/// Generate the man pages and shell completions shipped in the RPMs.
#[derive(Debug, Parser)]
#[command(name = "alma-ext-gen", version, about)]
struct Args {
    /// Directory to write into: DIR/man/man1/*.1,
    /// DIR/bash-completion/completions/*, DIR/zsh/site-functions/_*.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let run = || -> anyhow::Result<usize> {
        let mut files = alma_ext_gen::all_files(&alma_ext_agent::cli::Cli::command())?;
        files.extend(alma_ext_gen::all_files(
            &alma_ext_server::cli::Cli::command(),
        )?);
        alma_ext_gen::write_all(&args.out, &files)?;
        Ok(files.len())
    };
    match run() {
        Ok(n) => {
            eprintln!("alma-ext-gen: wrote {n} files under {}", args.out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("alma-ext-gen: {e:#}");
            ExitCode::FAILURE
        }
    }
}
