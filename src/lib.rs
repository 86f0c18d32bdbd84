//! gatedrill: a release-gate and chaos drill harness for AI agent gateways.
//!
//! The library holds everything; the `gatedrill` binary only parses arguments and maps the
//! outcome to an exit code. See ../shared/DESIGN.md for the architecture.

pub mod classify;
pub mod cli;
pub mod drill;
pub mod duration;
pub mod exit;
pub mod gateway;
pub mod guard;
pub mod input;
pub mod metrics;
pub mod mock;
pub mod proxy;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod secret;
pub mod serve;
pub mod sse;
pub mod tls;
pub mod watch;
pub mod wire;
