//! The call pipeline. Every call, whatever its source, goes through these steps in this order:
//!
//! 1. [`Catalogue::begin`]: the call takes its place in the log (so parallel calls keep the
//!    order in which they were issued); its arguments are parsed and size-checked;
//! 2. the tool is looked up in the index (an unknown name gets the nearest names);
//! 3. the policy decides;
//! 4. the arguments are validated (strict-mode nulls undone, an object required, the schema);
//! 5. the source runs the call (time limit, cancellation; a panic is a failed call);
//! 6. the output is capped once, the note stating the true size, a trailer kept;
//! 7. the outcome is recorded — whatever it is. Dropping a [`PreparedCall`] records it as
//!    cancelled.
//!
//! Errors at any step are [`ToolError`]s, turned into the record's `error_type` in one place
//! ([`ToolError::error_type`]) and into the text the model reads in one place ([`model_text`]).

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use toolbridge_runtime::{CallLog, CallOutcome, CallStart, PendingCall, ToolCallRecord, ToolErrorType, ToolSourceKind};
use tracing::{Instrument, debug, info_span};

use super::{Catalogue, Entry};
use crate::content::truncate_output;
use crate::error::ToolError;
use crate::schema::{SchemaTarget, strip_strict_nulls_in};
use crate::source::{CallContext, ToolOutput};

/// Per-call settings.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// Fires when the call must stop.
    pub cancel: Option<CancellationToken>,
    /// A time limit for this call (overrides the catalogue's and the source's).
    pub timeout: Option<Duration>,
    /// The schemas were given to the model in this dialect: undo its rewrites (OpenAI strict
    /// mode sends `null` for absent optional fields) before validating.
    pub schema_target: Option<SchemaTarget>,
    /// Answers an MCP server's sampling and elicitation during the call, and hears its
    /// progress and log messages.
    pub responder: Option<std::sync::Arc<dyn crate::interaction::Responder>>,
}

/// The arguments of a call as the model sent them.
#[derive(Debug, Clone, Copy)]
pub enum RawArguments<'a> {
    /// Already parsed.
    Value(&'a Value),
    /// JSON text, possibly invalid.
    Json(&'a str),
}

/// How much of refused, oversized arguments the call log keeps.
const ARGUMENT_PREFIX_BYTES: usize = 1000;

/// How many characters of a tool-reported error go into the record's `error`.
const ERROR_SUMMARY_CHARS: usize = 500;

/// A call that has its place in the log; [`run`](Self::run) it (dropping it records it as
/// cancelled).
pub struct PreparedCall<'a> {
    catalogue: &'a Catalogue,
    name: String,
    entry: Option<&'a Entry>,
    pending: PendingCall,
    input: Value,
    refused: Option<ToolError>,
    tool_use_id: String,
}

impl std::fmt::Debug for PreparedCall<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedCall").field("tool", &self.name).finish_non_exhaustive()
    }
}

impl Catalogue {
    /// Runs one call by catalogue name and records it in `log`. Never fails: every outcome —
    /// unknown tool, invalid arguments, policy denial, timeout, cancellation, server failure,
    /// tool error — is a record, and its `output` is the text the model gets back.
    pub async fn call(
        &self,
        log: &CallLog,
        name: &str,
        arguments: RawArguments<'_>,
        tool_use_id: &str,
        options: &CallOptions,
    ) -> ToolCallRecord {
        self.begin(log, name, arguments, tool_use_id).run(options).await
    }

    /// Step 1: takes the call's place in the log now and returns it ready to
    /// [`run`](PreparedCall::run).
    pub fn begin(&self, log: &CallLog, name: &str, arguments: RawArguments<'_>, tool_use_id: &str) -> PreparedCall<'_> {
        let entry = self.entry(name);
        let (input, refused) = parse_arguments(arguments, self.options.max_argument_bytes);
        let pending = log.begin(CallStart {
            tool: name.to_owned(),
            tool_use_id: tool_use_id.to_owned(),
            source: entry.map_or(ToolSourceKind::Unknown, |e| e.info.source_kind),
            server: entry.map(|e| e.info.source.clone()),
            input: input.clone(),
        });
        PreparedCall {
            catalogue: self,
            name: name.to_owned(),
            entry,
            pending,
            input,
            refused,
            tool_use_id: tool_use_id.to_owned(),
        }
    }

    /// The names of up to three tools spelt like `name` (a misspelling's likely meaning),
    /// nearest first.
    pub fn nearest(&self, name: &str) -> Vec<&str> {
        let mut names: Vec<(usize, &str)> =
            self.tools().map(|t| (strsim::levenshtein(name, &t.name), t.name.as_str())).collect();
        names.sort_unstable();
        names.iter().filter(|(distance, _)| *distance <= name.len().max(4) / 2).map(|(_, n)| *n).take(3).collect()
    }

    /// "unknown tool `x`", with the nearest names (or how to configure tools when there are
    /// none).
    fn unknown_tool_message(&self, name: &str) -> String {
        if self.is_empty() {
            return format!(
                "unknown tool `{name}`: no tools are configured (give MCP servers with --mcp-config or \
                 skills with --skills)"
            );
        }
        let close = self.nearest(name);
        if close.is_empty() {
            let some: Vec<&str> = self.tools().take(30).map(|t| t.name.as_str()).collect();
            let more = self.len().saturating_sub(some.len());
            let mut message = format!("unknown tool `{name}`; available tools: {}", some.join(", "));
            if more > 0 {
                message.push_str(&format!(" (and {more} more)"));
            }
            message
        } else {
            format!(
                "unknown tool `{name}`; did you mean {}?",
                close.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" or ")
            )
        }
    }
}

impl PreparedCall<'_> {
    /// Steps 2–7: runs the call and records its outcome.
    pub async fn run(self, options: &CallOptions) -> ToolCallRecord {
        self.run_inner(options, false).await.0
    }

    /// Like [`run`](Self::run), and also gives back an MCP tool's content blocks as the server
    /// sent them (uncapped: for a gateway that passes them on, not for a model).
    pub async fn run_keeping_content(self, options: &CallOptions) -> (ToolCallRecord, Option<Value>) {
        self.run_inner(options, true).await
    }

    async fn run_inner(self, options: &CallOptions, keep_content: bool) -> (ToolCallRecord, Option<Value>) {
        let Some(entry) = self.entry else {
            let message = self.catalogue.unknown_tool_message(&self.name);
            return (self.pending.finish(CallOutcome::failed(ToolErrorType::UnknownTool, message)), None);
        };
        let span = info_span!("tool_call", tool = %entry.info.name, server = %entry.info.source, tool_use_id = %self.tool_use_id);
        let result =
            execute(self.catalogue, entry, self.input, self.refused, options, keep_content).instrument(span).await;
        let mut content = None;
        let mut outcome = match result {
            Ok(mut output) => {
                content = output.content.take();
                capped(output, self.catalogue.options.max_output_bytes)
            }
            Err(error) => CallOutcome::failed(error.error_type(), model_text(&entry.info.name, &error)),
        };
        outcome.metadata.insert("original_name".into(), Value::String(entry.info.original_name.clone()));
        (self.pending.finish(outcome), content)
    }
}

/// Steps 3–5.
async fn execute(
    catalogue: &Catalogue,
    entry: &Entry,
    mut input: Value,
    refused: Option<ToolError>,
    options: &CallOptions,
    keep_content: bool,
) -> Result<ToolOutput, ToolError> {
    if let Some(error) = refused {
        return Err(error);
    }
    if let Some(reason) = &entry.denied {
        debug!(tool = %entry.info.name, "call refused by policy");
        return Err(ToolError::denied(reason.clone()));
    }
    if options.schema_target == Some(SchemaTarget::OpenAiStrict) {
        strip_strict_nulls_in(&mut input, &entry.info.input_schema);
    }
    if !input.is_object() {
        return Err(ToolError::invalid_arguments(format!("expected a JSON object, got {input}")));
    }
    if let Some(validator) = entry.validator()
        && let Err(errors) = validator.validate(&input)
    {
        return Err(ToolError::invalid_arguments(errors.to_string()));
    }
    let ctx = CallContext {
        cancel: options.cancel.clone().unwrap_or_default(),
        timeout: options.timeout.or(catalogue.options.call_timeout),
        max_output_bytes: catalogue.options.max_output_bytes,
        responder: options.responder.clone(),
        keep_content,
    };
    let source = &catalogue.sources[entry.source];
    AssertUnwindSafe(source.call_tool(&entry.info.original_name, input, &ctx))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(ToolError::failed("the tool source panicked")))
}

/// Step 6: the output capped once; its true size and the trailer kept.
fn capped(output: ToolOutput, limit: usize) -> CallOutcome {
    let total = output.original_bytes.unwrap_or(output.text.len());
    let (mut text, truncated) = truncate_output(output.text, limit, total);
    if let Some(trailer) = &output.trailer {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(trailer);
    }
    let mut metadata = Map::new();
    if let Some(structured) = output.structured {
        metadata.insert("structured_content".into(), structured);
    }
    if output.is_error {
        return CallOutcome {
            error: Some(first_chars(&text, ERROR_SUMMARY_CHARS)),
            output: text,
            success: false,
            error_type: Some(ToolErrorType::ToolError),
            metadata,
        };
    }
    let error_type = truncated.then(|| {
        metadata.insert("original_bytes".into(), Value::from(total));
        ToolErrorType::OutputTruncated
    });
    CallOutcome { output: text, success: true, error: None, error_type, metadata }
}

/// The text the model reads for a failed call.
fn model_text(name: &str, error: &ToolError) -> String {
    match error {
        ToolError::InvalidArguments { reason } => format!("invalid arguments for `{name}`: {reason}"),
        ToolError::ArgumentsTooLarge { .. } => format!("invalid arguments for `{name}`: {error}"),
        ToolError::Denied { .. } | ToolError::Confined { .. } => error.to_string(),
        _ => format!("`{name}` failed: {}", error.chain()),
    }
}

/// Step 1's argument handling: the value to log and, when the arguments are refused, why.
fn parse_arguments(arguments: RawArguments<'_>, limit: usize) -> (Value, Option<ToolError>) {
    let oversize = match arguments {
        RawArguments::Value(value) => oversized(value, limit),
        RawArguments::Json(text) => {
            (text.len() > limit).then(|| (text.len(), first_chars(text, ARGUMENT_PREFIX_BYTES)))
        }
    };
    if let Some((size, beginning)) = oversize {
        let kept = Value::String(format!("[{size} bytes of arguments, not kept] {beginning}"));
        return (kept, Some(ToolError::ArgumentsTooLarge { size, limit }));
    }
    match arguments {
        RawArguments::Value(value) => (value.clone(), None),
        RawArguments::Json(text) if text.trim().is_empty() => (Value::Object(Map::new()), None),
        RawArguments::Json(text) => match serde_json::from_str(text) {
            Ok(value) => (value, None),
            Err(error) => (
                Value::String(text.to_owned()),
                Some(ToolError::invalid_arguments(format!("not valid JSON ({error}); send a JSON object"))),
            ),
        },
    }
}

/// The serialised size and first bytes of `value` if it is over `limit` (no copy is made; the
/// common case stops counting at the limit and allocates nothing).
fn oversized(value: &Value, limit: usize) -> Option<(usize, String)> {
    struct Counter {
        bytes: usize,
        stop_after: usize,
        /// Kept only on the second pass.
        beginning: Option<Vec<u8>>,
    }
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.bytes += buf.len();
            if let Some(beginning) = &mut self.beginning {
                let room = ARGUMENT_PREFIX_BYTES.saturating_sub(beginning.len());
                beginning.extend_from_slice(&buf[..room.min(buf.len())]);
            }
            if self.bytes > self.stop_after { Err(std::io::Error::other("over the limit")) } else { Ok(buf.len()) }
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { bytes: 0, stop_after: limit, beginning: None };
    if serde_json::to_writer(&mut counter, value).is_ok() {
        return None;
    }
    let mut counter = Counter { bytes: 0, stop_after: usize::MAX, beginning: Some(Vec::new()) };
    let _ = serde_json::to_writer(&mut counter, value);
    Some((counter.bytes, String::from_utf8_lossy(&counter.beginning.unwrap_or_default()).into_owned()))
}

fn first_chars(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
