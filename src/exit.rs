//! Exit codes (../shared/DESIGN.md): 0 every gate passed, 1 a gate failed, 2 usage or
//! configuration error, 3 hard stop, 130 interrupted.

use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Pass = 0,
    GateFailed = 1,
    Usage = 2,
    HardStop = 3,
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}
