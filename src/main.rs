fn main() -> std::process::ExitCode {
    gatedrill::cli::main_entry()
}
