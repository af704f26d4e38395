//! `file_generation`: writes JSON, CSV, Markdown and text files into `output_dir`.
//!
//! File names are plain names (no directories, no `..`, no leading dot); the extension is
//! added when missing; an existing symlink is never written through.

use std::path::PathBuf;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use toolbridge_config::{ConfigError, FileGenerationSettings};

use super::Invalid;
use crate::error::ToolError;
use crate::source::{ToolOutput, ToolTable};

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

#[derive(Debug)]
struct Output {
    dir: PathBuf,
    max_bytes: usize,
}

pub(crate) fn build(
    name: &str,
    settings: &FileGenerationSettings,
    invalid: &Invalid<'_>,
) -> Result<ToolTable, ConfigError> {
    let dir = settings.output_dir.as_ref().ok_or_else(|| invalid("output_dir", "is required".into()))?;
    std::fs::create_dir_all(dir).map_err(|e| invalid("output_dir", format!("{}: {e}", dir.display())))?;
    let dir = dir.canonicalize().map_err(|e| invalid("output_dir", format!("{}: {e}", dir.display())))?;
    let output = Arc::new(Output { dir, max_bytes: settings.max_bytes.unwrap_or(1 << 20) });
    let o = |output: &Arc<Output>| Arc::clone(output);
    let (json, csv, markdown, text) = (o(&output), o(&output), o(&output), output);
    Ok(ToolTable::skill(name)
        .handler("generate_json", "Writes a pretty-printed JSON file", move |p: Json, _| {
            let output = Arc::clone(&json);
            async move {
                let text = serde_json::to_string_pretty(&p.data)
                    .map_err(|e| ToolError::failed_with("cannot write the data as JSON", e))?;
                output.write(p.filename, "json", text).await
            }
        })
        .handler("generate_csv", "Writes a CSV file (RFC 4180 quoting)", move |p: Csv, _| {
            let output = Arc::clone(&csv);
            async move {
                let text = to_csv(&p.headers, &p.rows)?;
                output.write(p.filename, "csv", text).await
            }
        })
        .handler("generate_markdown", "Writes a Markdown file", move |p: Text, _| {
            let output = Arc::clone(&markdown);
            async move { output.write(p.filename, "md", p.content).await }
        })
        .handler("generate_text", "Writes a text file", move |p: Text, _| {
            let output = Arc::clone(&text);
            async move { output.write(p.filename, "txt", p.content).await }
        }))
}

impl Output {
    async fn write(
        self: Arc<Self>,
        filename: String,
        extension: &'static str,
        content: String,
    ) -> Result<ToolOutput, ToolError> {
        if filename.is_empty()
            || filename.contains(['/', '\\', '\0'])
            || filename == "."
            || filename == ".."
            || filename.starts_with('.')
        {
            return Err(ToolError::outside_base_dir(format!(
                "file name {filename:?} must be a plain name inside the output directory"
            )));
        }
        if content.len() > self.max_bytes {
            return Err(ToolError::denied(format!(
                "{} bytes is more than max_bytes ({})",
                content.len(),
                self.max_bytes
            )));
        }
        let name =
            if filename.ends_with(&format!(".{extension}")) { filename } else { format!("{filename}.{extension}") };
        // File I/O is blocking: it runs on the blocking pool.
        tokio::task::spawn_blocking(move || {
            let path = self.dir.join(&name);
            if path.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()) {
                return Err(ToolError::outside_base_dir(format!("{name} is a symlink; refusing to write through it")));
            }
            std::fs::write(&path, &content).map_err(|e| ToolError::failed_with(format!("cannot write {name}"), e))?;
            Ok(ToolOutput::text(format!("wrote {} ({} bytes)", path.display(), content.len())))
        })
        .await
        .map_err(|e| ToolError::failed_with("the file write did not finish", e))?
    }
}

fn to_csv(headers: &[String], rows: &[Vec<Value>]) -> Result<String, ToolError> {
    if let Some((i, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != headers.len()) {
        return Err(ToolError::invalid_arguments(format!(
            "row {i} has {} cells but there are {} headers",
            row.len(),
            headers.len()
        )));
    }
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let cell = |value: &Value| match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let write_error = |e: csv::Error| ToolError::failed_with("cannot write the CSV", e);
    writer.write_record(headers).map_err(write_error)?;
    for row in rows {
        writer.write_record(row.iter().map(cell)).map_err(write_error)?;
    }
    let bytes = writer.into_inner().map_err(|e| ToolError::failed(format!("cannot write the CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| ToolError::failed_with("the CSV is not UTF-8", e))
}
