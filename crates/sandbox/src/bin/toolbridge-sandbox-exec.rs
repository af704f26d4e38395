//! The sandbox helper as a standalone binary:
//! `toolbridge-sandbox-exec --policy-json JSON -- PROGRAM [ARGS...]`.

fn main() -> std::process::ExitCode {
    // Stage 2 re-enters through the magic word, whichever binary hosts the helper.
    toolbridge_sandbox::run_if_helper();
    toolbridge_sandbox::exec_main(std::env::args_os().skip(1))
}
