//! Switching dnf from AlmaLinux's community repositories to the vendor's
//! extended-update repository: parse repo files losslessly, plan the switch
//! as a pure function, apply it atomically with a journal, verify it with
//! dnf, and revert it byte for byte.
pub mod apply;
pub mod dnfquery;
pub mod fsops;
pub mod journal;
pub mod plan;
pub mod preflight;
pub mod repofile;
pub mod state;
pub mod system;
