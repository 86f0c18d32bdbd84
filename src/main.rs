//! The `gatedrill` binary: parse, run, map the outcome to an exit code (all in the library).

// The mocks and the gateway allocate per request on every worker; glibc's arenas contend
// under that load (measured by bench/mock_throughput.sh), mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gatedrill::cli::main_entry()
}
