//! Templating of configuration values: `${VAR}`, `${VAR:-default}`, `${env:VAR}`, `{{VAR}}`.
//!
//! Expansion reports the values it substituted: a value that came from the environment is
//! treated as a secret wherever it later turns up (see [`crate::Secrets`]).

/// Where template variables are looked up.
pub trait Env {
    /// The value of `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment; `input:ID` (from `${input:ID}`) is the value given to this
/// process for that input (see [`crate::input_value`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        match name.strip_prefix("input:") {
            Some(id) => crate::inputs::input_value(id),
            None => std::env::var(name).ok(),
        }
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// A variable that is not set and has no default.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("variable {0} is not set")]
pub struct MissingVariable(pub String);

/// Expands every template in `text`, looking variables up in `env`. Text without `$` or `{{`
/// is returned unchanged; an unterminated template is kept literally.
pub fn expand(text: &str, env: &dyn Env) -> Result<String, MissingVariable> {
    expand_noting(text, env, &mut Vec::new())
}

/// [`expand`], pushing every value taken from `env` onto `substituted` (defaults written in
/// the template are not: they are in the configuration for anyone to read).
pub(crate) fn expand_noting(
    text: &str,
    env: &dyn Env,
    substituted: &mut Vec<String>,
) -> Result<String, MissingVariable> {
    let lookup = |name: &str, substituted: &mut Vec<String>| {
        let value = env.var(name);
        if let Some(value) = &value {
            substituted.push(value.clone());
        }
        value
    };
    if !text.contains('$') && !text.contains("{{") {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("${") {
            if let Some(end) = after.find('}') {
                out.push_str(&resolve(&after[..end], &lookup, substituted)?);
                rest = &after[end + 1..];
                continue;
            }
        } else if let Some(after) = rest.strip_prefix("{{")
            && let Some(end) = after.find("}}")
        {
            let name = after[..end].trim();
            if is_name(name) {
                out.push_str(&lookup(name, substituted).ok_or_else(|| MissingVariable(name.to_owned()))?);
                rest = &after[end + 2..];
                continue;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    Ok(out)
}

fn is_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn resolve(
    inner: &str,
    lookup: &dyn Fn(&str, &mut Vec<String>) -> Option<String>,
    substituted: &mut Vec<String>,
) -> Result<String, MissingVariable> {
    let inner = inner.strip_prefix("env:").unwrap_or(inner);
    match inner.split_once(":-") {
        Some((name, default)) => {
            Ok(lookup(name.trim(), substituted).filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned()))
        }
        None => lookup(inner.trim(), substituted).ok_or_else(|| MissingVariable(inner.trim().to_owned())),
    }
}

/// Whether `text` contains a template (`${…}` or `{{…}}`).
pub fn is_template(text: &str) -> bool {
    text.contains("${") || text.contains("{{")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/home/u".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substituted_values_are_noted() {
        let mut seen = Vec::new();
        let text = expand_noting("Bearer ${HOME} ${NOPE:-x}", &env, &mut seen).unwrap();
        assert_eq!(text, "Bearer /home/u x");
        assert_eq!(seen, ["/home/u"]);
    }

    #[test]
    fn all_forms() {
        assert_eq!(expand("${HOME}/x", &env).unwrap(), "/home/u/x");
        assert_eq!(expand("${env:HOME}", &env).unwrap(), "/home/u");
        assert_eq!(expand("{{HOME}}", &env).unwrap(), "/home/u");
        assert_eq!(expand("{{ HOME }}", &env).unwrap(), "/home/u");
        assert_eq!(expand("${NOPE:-fallback}", &env).unwrap(), "fallback");
        assert_eq!(expand("${EMPTY:-fallback}", &env).unwrap(), "fallback");
        assert_eq!(expand("${NOPE}", &env).unwrap_err(), MissingVariable("NOPE".into()));
        assert_eq!(expand("{{NOPE}}", &env).unwrap_err(), MissingVariable("NOPE".into()));
        assert_eq!(expand("cost: $5 ${", &env).unwrap(), "cost: $5 ${");
        assert_eq!(expand("{{not a var}}", &env).unwrap(), "{{not a var}}");
    }

    proptest! {
        #[test]
        fn literal_text_is_unchanged(text in "[^${]*") {
            prop_assert_eq!(expand(&text, &env).unwrap(), text);
        }

        #[test]
        fn never_panics(text in ".*") {
            let _ = expand(&text, &env);
        }
    }
}
