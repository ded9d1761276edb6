//! Failpoints are test machinery: `ALMA_EXT_FAILPOINT` arms one only in
//! builds with the cargo feature `failpoints`; a release build (and so the
//! RPMs) reads no variable.

use alma_ext_switcher::apply::{FailAction, Failpoint};

#[test]
fn the_variable_arms_a_failpoint_only_with_the_feature() {
    // The only test of this binary: no other thread reads the environment.
    std::env::set_var("ALMA_EXT_FAILPOINT", "journal-written=kill");
    let fp = Failpoint::from_env();
    if cfg!(feature = "failpoints") {
        assert_eq!(
            fp,
            Failpoint(Some(("journal-written".into(), FailAction::Kill)))
        );
    } else {
        assert_eq!(fp, Failpoint(None));
    }
}
