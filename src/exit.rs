//! Exit codes (../shared/DESIGN.md): 0 every gate passed, 1 a gate failed, 2 usage or
//! configuration error, 3 hard stop, 4 inconclusive, 130 interrupted.
//!
//! Inconclusive has its own code because it is neither a pass nor a fail: every check held, but
//! some gate could not be decided (no data, too few samples, no baseline to compare with). A
//! release pipeline pauses for a person on 4 (for example a GitHub Environment approval) rather
//! than shipping or blocking. A failure anywhere in the run wins over inconclusive (exit 1);
//! advisory gates never change the code.

use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Pass = 0,
    GateFailed = 1,
    Usage = 2,
    HardStop = 3,
    Inconclusive = 4,
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}
