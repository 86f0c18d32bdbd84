//! The `gatedrill` binary: parse, run, map the outcome to an exit code (all in the library).

// The mocks and the gateway allocate per request on every worker; glibc's arenas contend
// under that load (measured by bench/mock_throughput.sh), mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc v3's option ids (`mi_option_e` in its mimalloc.h), which the Rust bindings name
/// after v2's numbering.
const MI_OPTION_ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the OS at once, and arena memory is committed as it is used. In
/// 100k-request embedded runs (the load of bench/memory_1m.sh, 40 s at 2,500/s) the peak RSS fell
/// from 97-98 MiB to 93-95 with these, at no measured cost in throughput
/// (bench/compare_builds.py); the RSS at the end varies by +-6 MiB from run to run on a shared
/// machine either way. `MIMALLOC_*` variables in the environment still win.
fn tune_allocator() {
    for (option, var, value) in [
        (MI_OPTION_ARENA_EAGER_COMMIT, "MIMALLOC_ARENA_EAGER_COMMIT", 0),
        (MI_OPTION_PURGE_DELAY, "MIMALLOC_PURGE_DELAY", 0),
    ] {
        if std::env::var_os(var).is_none() {
            // SAFETY: takes no pointers; it writes one entry of mimalloc's option table.
            unsafe { libmimalloc_sys::mi_option_set(option, value) };
        }
    }
}

fn main() -> std::process::ExitCode {
    tune_allocator();
    gatedrill::cli::main_entry()
}
