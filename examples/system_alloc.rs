//! The gatedrill CLI with the system allocator instead of mimalloc, for heap profilers that hook
//! malloc (heaptrack, valgrind's massif): with mimalloc they see no Rust allocation at all.
//! Figures of memory or speed come from the real binary, not from this one.
//!
//! Usage: heaptrack target/release/examples/system_alloc run bench/results/memory/long_load.toml

fn main() -> std::process::ExitCode {
    gatedrill::cli::main_entry()
}
