//! The drill runner's parts: targets (embedded, URL, spawned command), the step kinds, load,
//! the external-channel check (the launch gate's core), what a scenario observed, and the
//! runner that sequences it all into one report per scenario.

pub mod control;
pub mod exchange;
pub mod external;
pub mod fleet;
mod fleet_spec;
pub mod load;
pub mod needs;
pub mod observe;
pub mod outcome;
pub mod problem;
pub mod profile;
pub mod progress;
pub mod runner;
pub mod shard;
pub mod steps;
pub mod summary;
pub mod target;
