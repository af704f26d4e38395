//! What the CLI reads from its user: a prompt from stdin, and values asked for in a terminal
//! (VS Code `inputs`), typed once and hidden when they are passwords.

use std::io::{BufRead, IsTerminal, Read, Write};

use toolbridge::config::{InputSpec, McpServers, input_env_var, input_value, provide_input};

use crate::error::{CliError, CliResult};

/// Whether the user is at a terminal (stdin and stderr both are one).
pub(crate) fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// The whole of stdin, as a prompt (trailing newline dropped).
pub(crate) fn prompt_from_stdin() -> CliResult<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| CliError::usage(format!("cannot read the prompt from stdin: {e}")))?;
    let prompt = text.trim_end_matches(['\n', '\r']).to_owned();
    if prompt.trim().is_empty() {
        return Err(CliError::usage("the prompt read from stdin is empty"));
    }
    Ok(prompt)
}

/// Gives every `${input:ID}` of the enabled `servers` a value: from `TOOLBRIDGE_INPUT_<ID>`
/// when set, else asked for once in a terminal. Without a terminal an input left without a
/// value is reported when the servers are resolved, naming its variable.
pub(crate) fn ask_for_inputs(servers: &McpServers, declared: &[InputSpec]) -> CliResult {
    let enabled = McpServers(
        servers
            .iter()
            .filter(|(_, spec)| spec.enabled.is_none_or(|f| f.0) && !spec.disabled.is_some_and(|f| f.0))
            .map(|(name, spec)| (name.clone(), spec.clone()))
            .collect(),
    );
    for id in enabled.input_references() {
        if input_value(&id).is_some() || !interactive() {
            continue;
        }
        let spec = declared.iter().find(|input| input.id == id).cloned().unwrap_or_else(|| InputSpec::unnamed(&id));
        let value = ask(&spec)?;
        provide_input(&id, value);
    }
    Ok(())
}

/// Asks for one input on the terminal.
fn ask(spec: &InputSpec) -> CliResult<String> {
    let label = spec.description.clone().unwrap_or_else(|| format!("input {}", spec.id));
    let mut question = format!("{label} ({})", input_env_var(&spec.id));
    if !spec.options.is_empty() {
        question.push_str(&format!(" [{}]", spec.options.join("/")));
    }
    if let Some(default) = spec.default.as_deref().filter(|_| !spec.password) {
        question.push_str(&format!(" (default {default})"));
    }
    eprint!("{question}: ");
    let _ = std::io::stderr().flush();
    let line = if spec.password { read_hidden()? } else { read_line()? };
    let value = if line.is_empty() { spec.default.clone().unwrap_or_default() } else { line };
    if !spec.options.is_empty() && !spec.options.contains(&value) {
        return Err(CliError::usage(format!(
            "input {:?}: {value:?} is not one of {}",
            spec.id,
            spec.options.join(", ")
        )));
    }
    Ok(value)
}

fn read_line() -> CliResult<String> {
    let mut line = String::new();
    let read =
        std::io::stdin().lock().read_line(&mut line).map_err(|e| CliError::usage(format!("cannot read stdin: {e}")))?;
    if read == 0 {
        return Err(CliError::usage("no answer (end of input)"));
    }
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// A line read with the terminal's echo off (restored however the read ends).
fn read_hidden() -> CliResult<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    use std::os::fd::AsFd;
    let stdin = std::io::stdin();
    let fd = stdin.as_fd();
    let saved = tcgetattr(fd).ok();
    if let Some(saved) = &saved {
        let mut quiet = saved.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        let _ = tcsetattr(fd, OptionalActions::Now, &quiet);
    }
    let line = read_line();
    if let Some(saved) = &saved {
        let _ = tcsetattr(fd, OptionalActions::Now, saved);
    }
    eprintln!();
    line
}
