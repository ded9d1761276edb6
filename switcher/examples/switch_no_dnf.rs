//! Plan and apply a switch without dnf or rpm (for benches/switch.sh):
//! `switch_no_dnf ROOT TARGET.toml`. Reads the repo files, plans, writes
//! the journal, backups and files atomically with fsync, records the state.
use std::path::{Path, PathBuf};

use alma_ext_switcher::apply::{read_release, read_repo_files, Applier, Failpoint};
use alma_ext_switcher::plan;
use alma_ext_switcher::system::{PackageTools, ToolError};

struct NoTools;

impl PackageTools for NoTools {
    fn import_key(&self, _: &Path, _: &Path) -> Result<(), ToolError> {
        Ok(())
    }
    fn makecache(
        &self,
        _: &Path,
        _: Option<&str>,
        _: &[String],
        _: &[plan::TlsFile],
    ) -> Result<(), ToolError> {
        Ok(())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let root = PathBuf::from(&args[1]);
    let target =
        alma_ext_proto::Target::from_toml(&std::fs::read_to_string(&args[2]).unwrap()).unwrap();
    let release = read_release(&root).unwrap().unwrap();
    let files = read_repo_files(&root).unwrap();
    let p = plan::plan(&files, &release, &target).unwrap();
    let a = Applier::new(&root, &NoTools, Failpoint::default());
    a.apply(&p).unwrap();
}
