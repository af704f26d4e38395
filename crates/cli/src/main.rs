/*! The `toolbridge` binary: the CLI of the `toolbridge-cli` library with the built-in runtimes. */

fn main() -> std::process::ExitCode {
    toolbridge_cli::Cli::new().run()
}
