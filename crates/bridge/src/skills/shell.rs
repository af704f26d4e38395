//! `shell`: runs a command with `/bin/sh -c` in `base_dir`, in its own process group, under a
//! time limit and an output cap.
//!
//! With `allowed_commands` or `blocked_commands` configured, every command position of the
//! line is checked — after `;`, `&&`, `||`, `|`, `&`, newlines and parentheses, behind
//! wrappers (`env`, `command`, `exec`, `nice`, `nohup`, `time`, `timeout`, `sudo`, `xargs`,
//! `stdbuf`, `builtin`), leading `VAR=value` assignments, `sh -c '…'`, `find -exec`, quotes and
//! backslashes, and paths (`/bin/rm` is `rm`). What cannot be checked safely — command
//! substitution (`$(…)`, backticks), process substitution, `eval`, a variable in command
//! position — is refused rather than guessed at.

use std::path::PathBuf;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use toolbridge_config::{ConfigError, ShellSettings};

use super::{Invalid, base_dir, limits};
use crate::error::ToolError;
use crate::process::{Limits, run};
use crate::source::ToolTable;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RunCommand {
    /// The command line (run with /bin/sh -c in the base directory).
    command: String,
}

/// The environment a skill's command gets.
pub(crate) fn child_env() -> Vec<(String, String)> {
    std::env::vars().collect()
}

/// `limits` keeping no more output than the model may get.
pub(crate) fn capped(limits: Limits, max_output_bytes: usize) -> Limits {
    Limits { max_output_bytes: limits.max_output_bytes.min(max_output_bytes).max(1), ..limits }
}

#[derive(Debug)]
struct Shell {
    base: PathBuf,
    allowed: Vec<String>,
    blocked: Vec<String>,
    limits: Limits,
    env: Vec<(String, String)>,
}

pub(crate) fn build(name: &str, settings: &ShellSettings, invalid: &Invalid<'_>) -> Result<ToolTable, ConfigError> {
    let shell = Arc::new(Shell {
        base: base_dir(settings.base_dir.as_deref(), invalid)?,
        allowed: settings.allowed_commands.to_vec(),
        blocked: settings.blocked_commands.to_vec(),
        limits: limits(settings.timeout, settings.max_output_bytes, invalid)?,
        env: child_env(),
    });
    Ok(ToolTable::skill(name).handler(
        "run_command",
        "Runs a shell command in the base directory",
        move |p: RunCommand, ctx| {
            let shell = Arc::clone(&shell);
            async move {
                shell.check(&p.command)?;
                let limits = capped(shell.limits, ctx.max_output_bytes);
                run("/bin/sh", &["-c", &p.command], &shell.base, &shell.env, limits, &ctx.cancel).await
            }
        },
    ))
}

impl Shell {
    fn check(&self, line: &str) -> Result<(), ToolError> {
        if self.allowed.is_empty() && self.blocked.is_empty() {
            return Ok(());
        }
        for command in commands(line).map_err(ToolError::denied)? {
            if self.blocked.iter().any(|b| b == &command) {
                return Err(ToolError::denied(format!(
                    "command `{command}` is blocked by this skill's blocked_commands"
                )));
            }
            if !self.allowed.is_empty() && !self.allowed.iter().any(|a| a == &command) {
                return Err(ToolError::denied(format!(
                    "command `{command}` is not in allowed_commands ({})",
                    self.allowed.join(", ")
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
