//! `file_generation`: writes JSON, CSV, Markdown and text files into `output_dir`.
//!
//! File names are plain names (no directories, no `..`); the extension is added when missing.

use std::fmt::Write as _;
use std::path::PathBuf;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{Skill, SkillError, SkillKind, SkillOutput, SkillTool, args, tool};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Settings {
    output_dir: Option<PathBuf>,
    max_bytes: Option<usize>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Json {
    /// File name (`.json` added when missing).
    filename: String,
    /// The data.
    data: Value,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Csv {
    /// File name (`.csv` added when missing).
    filename: String,
    /// Column headers.
    headers: Vec<String>,
    /// Rows of cells.
    rows: Vec<Vec<Value>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Text {
    /// File name (the extension is added when missing).
    filename: String,
    /// The content.
    content: String,
}

/// The `file_generation` skill.
#[derive(Debug)]
pub(crate) struct FileGeneration {
    name: String,
    dir: PathBuf,
    max_bytes: usize,
    tools: Vec<SkillTool>,
}

impl FileGeneration {
    pub(crate) fn new(name: &str, settings: Settings) -> Result<Self, String> {
        let dir = settings.output_dir.ok_or("configuration: `output_dir` is required")?;
        std::fs::create_dir_all(&dir).map_err(|e| format!("configuration: output_dir {}: {e}", dir.display()))?;
        let dir = dir.canonicalize().map_err(|e| format!("configuration: output_dir {}: {e}", dir.display()))?;
        Ok(Self {
            name: name.to_owned(),
            dir,
            max_bytes: settings.max_bytes.unwrap_or(1 << 20),
            tools: vec![
                tool::<Json>("generate_json", "Writes a pretty-printed JSON file"),
                tool::<Csv>("generate_csv", "Writes a CSV file (RFC 4180 quoting)"),
                tool::<Text>("generate_markdown", "Writes a Markdown file"),
                tool::<Text>("generate_text", "Writes a text file"),
            ],
        })
    }

    fn write(&self, filename: &str, extension: &str, content: &str) -> Result<SkillOutput, SkillError> {
        if filename.is_empty()
            || filename.contains(['/', '\\', '\0'])
            || filename == "."
            || filename == ".."
            || filename.starts_with('.')
        {
            return Err(SkillError::Denied(format!(
                "file name {filename:?} must be a plain name inside the output directory"
            )));
        }
        if content.len() > self.max_bytes {
            return Err(SkillError::Denied(format!(
                "{} bytes is more than max_bytes ({})",
                content.len(),
                self.max_bytes
            )));
        }
        let name = if filename.ends_with(&format!(".{extension}")) {
            filename.to_owned()
        } else {
            format!("{filename}.{extension}")
        };
        let path = self.dir.join(&name);
        if path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(SkillError::Denied(format!("{name} is a symlink; refusing to write through it")));
        }
        std::fs::write(&path, content).map_err(|e| SkillError::Io(format!("{name}: {e}")))?;
        Ok(SkillOutput { text: format!("wrote {} ({} bytes)", path.display(), content.len()), is_error: false })
    }
}

fn csv_cell(out: &mut String, value: &Value) {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        let _ = write!(out, "\"{}\"", text.replace('"', "\"\""));
    } else {
        out.push_str(&text);
    }
}

fn csv(headers: &[String], rows: &[Vec<Value>]) -> String {
    let mut out = String::new();
    let lines = std::iter::once(headers.iter().map(|h| Value::String(h.clone())).collect::<Vec<_>>())
        .chain(rows.iter().cloned());
    for line in lines {
        for (i, cell) in line.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_cell(&mut out, cell);
        }
        out.push_str("\r\n");
    }
    out
}

#[async_trait]
impl Skill for FileGeneration {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> SkillKind {
        SkillKind::FileGeneration
    }

    fn tools(&self) -> &[SkillTool] {
        &self.tools
    }

    async fn call(&self, name: &str, arguments: Value, _cancel: CancellationToken) -> Result<SkillOutput, SkillError> {
        match name {
            "generate_json" => {
                let p: Json = args(arguments)?;
                let text = serde_json::to_string_pretty(&p.data).map_err(|e| SkillError::Io(e.to_string()))?;
                self.write(&p.filename, "json", &text)
            }
            "generate_csv" => {
                let p: Csv = args(arguments)?;
                if let Some((i, row)) = p.rows.iter().enumerate().find(|(_, r)| r.len() != p.headers.len()) {
                    return Err(SkillError::InvalidArguments(format!(
                        "row {i} has {} cells but there are {} headers",
                        row.len(),
                        p.headers.len()
                    )));
                }
                self.write(&p.filename, "csv", &csv(&p.headers, &p.rows))
            }
            "generate_markdown" => {
                let p: Text = args(arguments)?;
                self.write(&p.filename, "md", &p.content)
            }
            "generate_text" => {
                let p: Text = args(arguments)?;
                self.write(&p.filename, "txt", &p.content)
            }
            other => Err(SkillError::UnknownTool(other.to_owned())),
        }
    }
}
