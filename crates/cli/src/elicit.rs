//! `run` in a terminal: an MCP server's elicitation is asked of the person — the server's
//! message, then each field of the requested form (type, default, choices) on stderr, answers
//! read from stdin. Without a terminal (or with `--json`), no elicitor is given and each
//! server's configured answer holds (`decline` by default).

use std::io::{BufRead, Write};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};
use toolbridge::Responder;
use toolbridge::interaction::{ElicitRequestParams, ElicitResult, ElicitationAction, McpError};

/// Asks on the terminal; one elicitation at a time.
#[derive(Debug, Default)]
pub(crate) struct TerminalElicitor {
    one_at_a_time: tokio::sync::Mutex<()>,
}

/// One line from stdin (`None` at its end).
fn read_line() -> Option<String> {
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\n', '\r']).to_owned()),
    }
}

fn ask(prompt: &str) -> Option<String> {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{prompt}");
    let _ = err.flush();
    drop(err);
    read_line()
}

/// The choices of an enum field (`enum`, or `oneOf`/`anyOf` of `const`s), with titles.
fn choices(property: &Value) -> Vec<(String, String)> {
    let items = property.get("items").unwrap_or(property);
    if let Some(values) = items.get("enum").and_then(Value::as_array) {
        let names = items.get("enumNames").and_then(Value::as_array);
        return values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| {
                let value = v.as_str()?.to_owned();
                let title = names.and_then(|n| n.get(i)).and_then(Value::as_str).unwrap_or(&value).to_owned();
                Some((value, title))
            })
            .collect();
    }
    ["oneOf", "anyOf"]
        .iter()
        .filter_map(|key| items.get(*key).and_then(Value::as_array))
        .flatten()
        .filter_map(|option| {
            let value = option.get("const")?.as_str()?.to_owned();
            let title = option.get("title").and_then(Value::as_str).unwrap_or(&value).to_owned();
            Some((value, title))
        })
        .collect()
}

/// One field's answer.
enum Answer {
    /// A value.
    Value(Value),
    /// Left out (no default, not required).
    Omitted,
    /// stdin ended: the person is gone.
    Gone,
}

/// Reads one field's value: empty takes the default (or leaves it out); a bad value is asked
/// again.
fn field(name: &str, property: &Value, required: bool) -> Answer {
    let kind = property.get("type").and_then(Value::as_str).unwrap_or("string");
    let options = choices(property);
    let default = property.get("default");
    let description = property.get("description").and_then(Value::as_str).unwrap_or_default();
    let mut prompt = format!("  {name}");
    if !description.is_empty() {
        prompt.push_str(&format!(" — {description}"));
    }
    if !options.is_empty() {
        let listed: Vec<String> =
            options.iter().map(|(v, t)| if v == t { v.clone() } else { format!("{v} ({t})") }).collect();
        prompt.push_str(&format!(" [{}]", listed.join(", ")));
        if kind == "array" {
            prompt.push_str(" (comma-separated)");
        }
    } else {
        prompt.push_str(&format!(" ({kind})"));
    }
    if let Some(default) = default {
        prompt.push_str(&format!(" default {default}"));
    } else if required {
        prompt.push_str(" required");
    }
    prompt.push_str(": ");
    loop {
        let Some(answer) = ask(&prompt) else { return Answer::Gone };
        let answer = answer.trim();
        if answer.is_empty() {
            match default {
                Some(default) => return Answer::Value(default.clone()),
                None if !required => return Answer::Omitted,
                None => continue,
            }
        }
        let value = match kind {
            "integer" => answer.parse::<i64>().ok().map(Value::from),
            "number" => answer.parse::<f64>().ok().map(Value::from),
            "boolean" => match answer.to_ascii_lowercase().as_str() {
                "y" | "yes" | "true" => Some(Value::Bool(true)),
                "n" | "no" | "false" => Some(Value::Bool(false)),
                _ => None,
            },
            "array" => {
                let picked: Vec<Value> = answer.split(',').map(|s| Value::String(s.trim().to_owned())).collect();
                picked
                    .iter()
                    .all(|p| options.is_empty() || options.iter().any(|(v, _)| Some(v.as_str()) == p.as_str()))
                    .then_some(Value::Array(picked))
            }
            _ => (options.is_empty() || options.iter().any(|(v, _)| v == answer))
                .then(|| Value::String(answer.to_owned())),
        };
        match value {
            Some(value) => return Answer::Value(value),
            None => {
                let _ = writeln!(std::io::stderr(), "  not a valid {kind}; try again");
            }
        }
    }
}

/// The whole exchange, on a blocking thread.
fn converse(server: &str, message: &str, schema: &Value) -> ElicitResult {
    let _ = writeln!(std::io::stderr(), "\nserver {server:?} asks: {message}");
    let answer = ask("  answer? [Y]es / [n]o (decline) / [c]ancel: ").unwrap_or_else(|| "c".into());
    match answer.trim().to_ascii_lowercase().as_str() {
        "n" | "no" => return ElicitResult::new(ElicitationAction::Decline),
        "c" | "cancel" => return ElicitResult::new(ElicitationAction::Cancel),
        _ => {}
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut content = Map::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            match field(name, property, required.contains(&name.as_str())) {
                Answer::Gone => return ElicitResult::new(ElicitationAction::Cancel),
                Answer::Value(value) => {
                    content.insert(name.clone(), value);
                }
                Answer::Omitted => {}
            }
        }
    }
    ElicitResult::new(ElicitationAction::Accept).with_content(Value::Object(content))
}

#[async_trait]
impl Responder for TerminalElicitor {
    async fn elicit(&self, server: &str, params: ElicitRequestParams) -> Option<Result<ElicitResult, McpError>> {
        let ElicitRequestParams::FormElicitationParams { message, requested_schema, .. } = params else {
            // A URL elicitation: show it; the person follows it outside.
            return None;
        };
        let _one = self.one_at_a_time.lock().await;
        let schema = serde_json::to_value(&requested_schema).unwrap_or_default();
        let server = server.to_owned();
        let result = tokio::task::spawn_blocking(move || converse(&server, &message, &schema)).await;
        Some(result.map_err(|e| McpError::internal_error(format!("the terminal prompt failed: {e}"), None)))
    }
}

/// The elicitor for `run`: on a terminal (stdin and stderr), unless JSON was asked for.
pub(crate) fn for_run(json: bool) -> Option<Arc<dyn Responder>> {
    use std::io::IsTerminal;
    (!json && std::io::stdin().is_terminal() && std::io::stderr().is_terminal())
        .then(|| Arc::new(TerminalElicitor::default()) as Arc<dyn Responder>)
}
