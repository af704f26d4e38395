//! `shell`: commands in `base_dir`, confined by the kernel, not by string checks.
//!
//! - With `allowed_commands`, the tool takes a `program` (one of them) and its `args`, and
//!   runs it directly — no shell: no pipes, redirects, substitutions or variables to smuggle
//!   another command through.
//! - Without, the command line runs with `/bin/sh -c`, and only inside the sandbox (the
//!   default: read the system, write `base_dir` and a private temp dir, no network; a
//!   `sandbox: {...}` extends it). A shell skill with `sandbox: false` must have
//!   `allowed_commands`.
//!
//! `blocked_commands` is a convenience that catches the listed commands in the common
//! spellings (after `;`, `&&`, pipes, behind `env`/`sudo`/`xargs`, quoted, by path…), and
//! refuses what it cannot check (`$(…)`, `eval`, a variable in command position). It is no
//! security boundary — the sandbox is.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use toolbridge_config::sandbox::{SandboxPolicy, SandboxSetting};
use toolbridge_config::{ConfigError, ShellSettings};

use super::{Invalid, base_dir, limits};
use crate::error::ToolError;
use crate::process::{Launcher, Limits, Run, run};
use crate::source::ToolTable;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RunCommand {
    /// The command line (run with /bin/sh -c in the base directory, inside the sandbox).
    command: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RunProgram {
    /// The program to run: one of the allowed commands.
    program: String,
    /// Its arguments, one per item (no shell: no pipes, redirects or variables).
    #[serde(default)]
    args: Vec<String>,
}

/// `limits` keeping no more output than the model may get.
pub(crate) fn capped(limits: Limits, max_output_bytes: usize) -> Limits {
    Limits { max_output_bytes: limits.max_output_bytes.min(max_output_bytes).max(1), ..limits }
}

/// How a skill's commands are launched: by whom, confined by what, with which environment.
#[derive(Debug)]
pub(crate) struct Commands {
    pub(crate) launcher: Launcher,
    pub(crate) policy: Option<SandboxPolicy>,
    pub(crate) base: PathBuf,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) limits: Limits,
}

impl Commands {
    /// The commands of a skill whose interpreter is `program`, sandboxed by default.
    pub(crate) fn new(
        program: &str,
        setting: Option<&SandboxSetting>,
        base: PathBuf,
        limits: Limits,
        launcher: &Launcher,
    ) -> Self {
        let policy = setting.unwrap_or(&SandboxSetting::Enabled(true)).policy_for(program, std::slice::from_ref(&base));
        Self { launcher: launcher.clone(), policy, base, env: toolbridge_sandbox::child_env(&[], false), limits }
    }

    /// What the sandbox enforces for these commands.
    pub(crate) fn report(&self) -> Option<toolbridge_sandbox::SandboxReport> {
        self.launcher.plan(self.policy.as_ref())
    }

    pub(crate) fn run_how(&self, max_output_bytes: usize) -> Run<'_> {
        Run {
            launcher: &self.launcher,
            policy: self.policy.as_ref(),
            cwd: &self.base,
            env: &self.env,
            limits: capped(self.limits, max_output_bytes),
        }
    }
}

#[derive(Debug)]
struct Shell {
    commands: Commands,
    allowed: Vec<String>,
    blocked: Vec<String>,
}

pub(crate) fn build(
    name: &str,
    settings: &ShellSettings,
    sandbox: Option<&SandboxSetting>,
    launcher: &Launcher,
    invalid: &Invalid<'_>,
) -> Result<ToolTable, ConfigError> {
    let base = base_dir(settings.base_dir.as_deref(), invalid)?;
    let limits = limits(settings.timeout, settings.max_output_bytes, invalid)?;
    let allowed = settings.allowed_commands.to_vec();
    if let Some(bad) = allowed.iter().find(|c| c.is_empty() || c.contains(['/', ' '])) {
        return Err(invalid("allowed_commands", format!("{bad:?} is not a program name (no paths, no spaces)")));
    }
    let commands = Commands::new("sh", sandbox, base, limits, launcher);
    if allowed.is_empty() && commands.policy.is_none() {
        return Err(invalid(
            "allowed_commands",
            "a shell skill without `allowed_commands` runs `sh -c` only inside the sandbox: list the programs it may \
             run, or remove `sandbox: false`"
                .into(),
        ));
    }
    let table = ToolTable::skill(name).sandboxed(commands.report());
    let shell = Arc::new(Shell { commands, allowed, blocked: settings.blocked_commands.to_vec() });
    if shell.allowed.is_empty() {
        return Ok(table.handler(
            "run_command",
            "Runs a shell command line in the base directory (inside a sandbox: the base directory is writable, \
             the network is off)",
            move |p: RunCommand, ctx| {
                let shell = Arc::clone(&shell);
                async move {
                    shell.check(&p.command)?;
                    run("/bin/sh", &["-c", &p.command], &shell.commands.run_how(ctx.max_output_bytes), &ctx.cancel)
                        .await
                }
            },
        ));
    }
    let schema = program_schema(&shell.allowed);
    Ok(table
        .handler(
            "run_command",
            "Runs one of the allowed programs with its arguments in the base directory (no shell: no pipes, \
             redirects or variables)",
            move |p: RunProgram, ctx| {
                let shell = Arc::clone(&shell);
                async move {
                    if !shell.allowed.contains(&p.program) {
                        return Err(ToolError::denied(format!(
                            "program `{}` is not in allowed_commands ({})",
                            p.program,
                            shell.allowed.join(", ")
                        )));
                    }
                    let args: Vec<&str> = p.args.iter().map(String::as_str).collect();
                    run(&p.program, &args, &shell.commands.run_how(ctx.max_output_bytes), &ctx.cancel).await
                }
            },
        )
        .with_schema("run_command", schema))
}

/// `{program: one of the allowed, args: [string]}`.
fn program_schema(allowed: &[String]) -> serde_json::Map<String, Value> {
    let schema = json!({
        "type": "object",
        "properties": {
            "program": {"type": "string", "enum": allowed, "description": "The program to run: one of the allowed commands."},
            "args": {"type": "array", "items": {"type": "string"}, "description": "Its arguments, one per item (no shell: no pipes, redirects or variables)."}
        },
        "required": ["program"],
        "additionalProperties": false
    });
    match schema {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

impl Shell {
    /// `blocked_commands`: a convenience, not a boundary (see the module docs).
    fn check(&self, line: &str) -> Result<(), ToolError> {
        if self.blocked.is_empty() {
            return Ok(());
        }
        for command in commands(line).map_err(ToolError::denied)? {
            if self.blocked.iter().any(|b| b == &command) {
                return Err(ToolError::denied(format!(
                    "command `{command}` is blocked by this skill's blocked_commands"
                )));
            }
        }
        Ok(())
    }
}

/// Splits a command line into words and separators, honouring quotes and backslashes.
/// Returns the segments (each a list of words) or why the line cannot be checked.
fn segments(line: &str) -> Result<Vec<Vec<String>>, String> {
    let mut segments = vec![Vec::new()];
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let unsafe_construct =
        |what: &str| Err(format!("{what} cannot be checked against allowed/blocked commands; refused"));
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => word.push(ch),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => {
                            if let Some(ch) = chars.next() {
                                word.push(ch);
                            }
                        }
                        Some('`') => return unsafe_construct("command substitution"),
                        Some('$') if matches!(chars.peek(), Some('(')) => {
                            return unsafe_construct("command substitution");
                        }
                        Some(ch) => word.push(ch),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(ch) = chars.next()
                    && ch != '\n'
                {
                    word.push(ch);
                }
            }
            '`' => return unsafe_construct("command substitution"),
            '$' if matches!(chars.peek(), Some('(')) => return unsafe_construct("command substitution"),
            '<' | '>' if matches!(chars.peek(), Some('(')) => return unsafe_construct("process substitution"),
            ';' | '&' | '|' | '\n' | '(' | ')' => {
                if in_word {
                    push_word(&mut segments, std::mem::take(&mut word));
                    in_word = false;
                }
                if !segments.last().is_some_and(Vec::is_empty) {
                    segments.push(Vec::new());
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    push_word(&mut segments, std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        push_word(&mut segments, word);
    }
    segments.retain(|s| !s.is_empty());
    Ok(segments)
}

fn push_word(segments: &mut [Vec<String>], word: String) {
    if let Some(segment) = segments.last_mut() {
        segment.push(word);
    }
}

const WRAPPERS: &[&str] = &[
    "env", "command", "exec", "nice", "nohup", "time", "timeout", "sudo", "xargs", "stdbuf", "builtin", "ionice",
    "setsid",
];
const SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "ash"];

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// Every command the line would run (basenames), or why it cannot be told.
fn commands(line: &str) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    for segment in segments(line)? {
        let mut words = segment.iter().map(String::as_str).peekable();
        loop {
            // Leading assignments.
            while words.peek().is_some_and(|w| is_assignment(w)) {
                words.next();
            }
            let Some(word) = words.next() else { break };
            // Reserved words that start a compound command: look at what follows.
            if matches!(
                word,
                "{" | "}" | "!" | "if" | "then" | "else" | "elif" | "fi" | "do" | "done" | "while" | "until"
            ) {
                continue;
            }
            if word.contains('$') {
                return Err(format!("a variable in command position (`{word}`) cannot be checked; refused"));
            }
            let command = basename(word);
            if command == "eval" || command == "source" || command == "." {
                return Err(format!("`{command}` cannot be checked against allowed/blocked commands; refused"));
            }
            found.push(command.to_owned());
            if WRAPPERS.contains(&command) {
                // Skip the wrapper's options, their numeric values (`nice -n 5`, `timeout 5`)
                // and assignments (`env A=b`), then check what it runs.
                while words.peek().is_some_and(|w| {
                    w.starts_with('-') || is_assignment(w) || w.chars().next().is_some_and(|c| c.is_ascii_digit())
                }) {
                    words.next();
                }
                continue;
            }
            if SHELLS.contains(&command) {
                let rest: Vec<&str> = words.collect();
                if let Some(i) = rest
                    .iter()
                    .position(|w| *w == "-c" || (w.starts_with('-') && w.contains('c') && !w.starts_with("--")))
                {
                    if let Some(script) = rest.get(i + 1) {
                        found.extend(commands(script)?);
                    }
                } else if !rest.is_empty() {
                    return Err(format!("`{command}` running a script file cannot be checked; refused"));
                }
                break;
            }
            if command == "find" {
                let rest: Vec<&str> = words.collect();
                for (i, w) in rest.iter().enumerate() {
                    if matches!(*w, "-exec" | "-execdir" | "-ok" | "-okdir")
                        && let Some(next) = rest.get(i + 1)
                    {
                        found.push(basename(next).to_owned());
                    }
                }
                break;
            }
            break;
        }
    }
    Ok(found)
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=')
        .is_some_and(|(name, _)| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_command_position() {
        assert_eq!(commands("ls -l; rm x && echo 'a;b' | wc -l").unwrap(), ["ls", "rm", "echo", "wc"]);
        assert_eq!(commands("X=1 /bin/rm x").unwrap(), ["rm"]);
        assert_eq!(commands("env A=b nice -n 5 rm x").unwrap(), ["env", "nice", "rm"]);
        assert_eq!(commands("'r''m' x").unwrap(), ["rm"]);
        assert_eq!(commands("r\\m x").unwrap(), ["rm"]);
        assert_eq!(commands("sh -c \"ls; rm x\"").unwrap(), ["sh", "ls", "rm"]);
        assert_eq!(commands("find . -exec rm {} \\;").unwrap(), ["find", "rm"]);
        assert_eq!(commands("timeout 5 rm x").unwrap(), ["timeout", "rm"]);
        assert_eq!(commands("ls\nrm x").unwrap(), ["ls", "rm"]);
        assert_eq!(commands("(rm x)").unwrap(), ["rm"]);
        assert_eq!(commands("{ rm x; }").unwrap(), ["rm"]);
        assert_eq!(commands("if true; then rm x; fi").unwrap(), ["true", "rm"]);
    }

    #[test]
    fn refuses_what_it_cannot_check() {
        for line in
            ["echo $(rm x)", "echo `rm x`", "eval rm x", "$CMD x", "cat <(rm x)", "echo \"$(rm x)\"", "bash script.sh"]
        {
            assert!(commands(line).is_err(), "{line}");
        }
    }
}
