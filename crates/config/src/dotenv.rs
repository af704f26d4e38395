//! dotenv files (VS Code's `envFile`): `KEY=VALUE` lines, `#` comments, an optional `export `,
//! single-quoted values taken literally, double-quoted ones with `\n`, `\t`, `\"` and `\\`
//! escapes. Values are not expanded (`$HOME` stays as written).

/// A line that is not `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DotenvError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses a dotenv file's text into `(key, value)` pairs, in order.
pub fn parse_dotenv(text: &str) -> Result<Vec<(String, String)>, DotenvError> {
    let mut pairs = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let err = |message: &str| DotenvError { line: index + 1, message: message.to_owned() };
        let Some((key, value)) = line.split_once('=') else { return Err(err("expected KEY=VALUE")) };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-') {
            return Err(err("expected a variable name before `=`"));
        }
        pairs.push((key.to_owned(), unquote(value.trim()).ok_or_else(|| err("unterminated quote"))?));
    }
    Ok(pairs)
}

fn unquote(value: &str) -> Option<String> {
    if let Some(rest) = value.strip_prefix('\'') {
        return rest.find('\'').map(|end| rest[..end].to_owned());
    }
    if let Some(rest) = value.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return Some(out),
                '\\' => match chars.next()? {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    other => out.push(other),
                },
                c => out.push(c),
            }
        }
        return None;
    }
    // Unquoted: a ` #` starts a comment.
    let value = value.find(" #").map_or(value, |at| &value[..at]);
    Some(value.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let text = "# c\nA=1\nexport B = two words # note\nC='lit $X # no'\nD=\"a\\nb \\\"q\\\"\"\n\nE=\n";
        let pairs = parse_dotenv(text).unwrap();
        let get = |k: &str| pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("A"), Some("1"));
        assert_eq!(get("B"), Some("two words"));
        assert_eq!(get("C"), Some("lit $X # no"));
        assert_eq!(get("D"), Some("a\nb \"q\""));
        assert_eq!(get("E"), Some(""));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse_dotenv("A=1\nnonsense\n").unwrap_err().line, 2);
        assert_eq!(parse_dotenv("A=\"open\n").unwrap_err().line, 1);
    }
}
