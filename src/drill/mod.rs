//! The drill runner's parts. So far: the external-channel check, the launch gate's core.
//! The scenario runner that sequences steps around it is the rest of issue "Scenario runner".

pub mod external;
pub mod load;
pub mod runner;
pub mod steps;
pub mod summary;
pub mod target;
