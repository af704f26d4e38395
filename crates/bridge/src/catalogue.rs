//! The catalogue: the merged, named tool set of one execution.
//!
//! Built from [`ToolSource`]s (listed in parallel; a source that fails leaves the catalogue
//! degraded, with the failure reported, not failed), named with [`crate::naming`], judged by
//! the [`Policy`]. It gives provider-ready tool definitions ([`Catalogue::provider_tools`]) and
//! runs calls by catalogue name ([`Catalogue::call`]): arguments parsed and validated against
//! the tool's schema before anything runs, policy enforced, output capped, every call recorded
//! in the [`CallLog`] whatever its outcome.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use toolbridge_runtime::{ToolCallRecord, ToolErrorType, ToolSourceKind};
use tracing::{Instrument, debug, info_span, warn};

use crate::call_log::{CallLog, CallOutcome, CallStart};
use crate::content::truncate_output;
use crate::naming::NameMap;
use crate::policy::{Decision, Policy, PolicyContext};
use crate::schema::{SchemaError, SchemaTarget, normalize, strip_strict_nulls_in};
use crate::source::{CallContext, JsonObject, ToolSource};
use crate::validation::ArgumentValidator;

/// The default cap on the text a tool call gives back to the model: 100 000 bytes.
pub const DEFAULT_MAX_OUTPUT_BYTES: usize = 100_000;

/// Default [`CatalogueOptions::max_argument_bytes`]: 8 MiB, well under the 16 MiB a stdio MCP
/// server reads as one message.
pub const DEFAULT_MAX_ARGUMENT_BYTES: usize = 8 * 1024 * 1024;

/// Catalogue settings.
#[derive(Debug, Clone)]
pub struct CatalogueOptions {
    /// The most bytes of output the model gets from one call ([`DEFAULT_MAX_OUTPUT_BYTES`]).
    pub max_output_bytes: usize,
    /// A time limit for every call, overriding the sources' own defaults.
    pub call_timeout: Option<Duration>,
    /// How long to wait for a source to list its tools.
    pub list_timeout: Duration,
    /// The largest arguments (serialised JSON) a call may carry ([`DEFAULT_MAX_ARGUMENT_BYTES`]);
    /// bigger ones are refused as `invalid_arguments` before reaching the tool, and only their
    /// beginning is kept in the call log.
    pub max_argument_bytes: usize,
}

impl Default for CatalogueOptions {
    fn default() -> Self {
        Self {
            max_output_bytes: DEFAULT_MAX_OUTPUT_BYTES,
            call_timeout: None,
            list_timeout: Duration::from_secs(60),
            max_argument_bytes: DEFAULT_MAX_ARGUMENT_BYTES,
        }
    }
}

/// One tool of the catalogue.
#[derive(Debug, Clone, Serialize)]
pub struct ToolInfo {
    /// The catalogue name (`source__tool`, sanitised).
    pub name: String,
    /// The source's name.
    pub source: String,
    /// The source's kind.
    pub source_kind: ToolSourceKind,
    /// The tool's name within its source.
    pub original_name: String,
    /// What it does.
    pub description: String,
    /// Its input schema, as the source gave it.
    pub input_schema: Arc<JsonObject>,
}

/// A source that could not list its tools.
#[derive(Debug, Clone, Serialize)]
pub struct SourceFailure {
    /// The source.
    pub source: String,
    /// Why.
    pub error: String,
}

/// A tool definition ready for a provider: name, description, normalised parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderTool {
    /// The catalogue name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// Its parameters, normalised for the provider.
    pub parameters: Value,
    /// Whether the parameters are in OpenAI strict form (a schema strict mode cannot express
    /// falls back to the plain OpenAI form, with `strict: false`).
    pub strict: bool,
}

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
}

/// The arguments of a call as the model sent them.
#[derive(Debug, Clone, Copy)]
pub enum RawArguments<'a> {
    /// Already parsed.
    Value(&'a Value),
    /// JSON text, possibly invalid.
    Json(&'a str),
}

struct Entry {
    info: ToolInfo,
    source: usize,
    denied: Option<String>,
    validator: OnceLock<Option<ArgumentValidator>>,
}

/// The merged, named tool set of one execution. Cheap to share (`Arc<Catalogue>`).
pub struct Catalogue {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    sources: Vec<Arc<dyn ToolSource>>,
    failures: Vec<SourceFailure>,
    options: CatalogueOptions,
}

impl std::fmt::Debug for Catalogue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalogue")
            .field("tools", &self.entries.len())
            .field("sources", &self.sources.len())
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

impl Catalogue {
    /// Lists every source's tools (in parallel), names them and judges them by the policy.
    pub async fn build(
        sources: Vec<Arc<dyn ToolSource>>,
        policy: &Policy,
        policy_context: &PolicyContext,
        options: CatalogueOptions,
    ) -> Self {
        let listings = futures::future::join_all(sources.iter().map(|source| {
            let limit = options.list_timeout;
            async move {
                match tokio::time::timeout(limit, source.list_tools()).await {
                    Ok(result) => result.map_err(|e| e.message),
                    Err(_) => Err(format!("did not list its tools within {limit:?}")),
                }
            }
        }))
        .await;
        let mut failures = Vec::new();
        let mut listed = Vec::new();
        for (index, listing) in listings.into_iter().enumerate() {
            match listing {
                Ok(tools) => listed.extend(tools.into_iter().map(|tool| (index, tool))),
                Err(error) => {
                    let source = sources[index].name().to_owned();
                    warn!(source = %source, error = %error, "tool source unavailable; catalogue degraded");
                    failures.push(SourceFailure { source, error });
                }
            }
        }
        let names = NameMap::build(listed.iter().map(|(i, tool)| (sources[*i].name(), tool.name.as_str())));
        let mut entries = Vec::with_capacity(listed.len());
        let mut index = HashMap::with_capacity(listed.len());
        for (source_index, tool) in listed {
            let source = &sources[source_index];
            let Some(name) = names.name_of(source.name(), &tool.name) else { continue };
            let name = name.to_owned();
            let denied = match policy.decide(&name, source.name(), policy_context) {
                Decision::Allow => None,
                Decision::Deny(reason) => Some(reason),
            };
            index.insert(name.clone(), entries.len());
            entries.push(Entry {
                info: ToolInfo {
                    name,
                    source: source.name().to_owned(),
                    source_kind: source.kind(),
                    original_name: tool.name,
                    description: tool.description,
                    input_schema: tool.input_schema,
                },
                source: source_index,
                denied,
                validator: OnceLock::new(),
            });
        }
        entries.sort_by(|a, b| a.info.name.cmp(&b.info.name));
        for (i, entry) in entries.iter().enumerate() {
            index.insert(entry.info.name.clone(), i);
        }
        Self { entries, index, sources, failures, options }
    }

    /// The tools the model may use (policy-denied ones left out), sorted by name.
    pub fn tools(&self) -> impl Iterator<Item = &ToolInfo> {
        self.entries.iter().filter(|e| e.denied.is_none()).map(|e| &e.info)
    }

    /// Every tool, with the policy's reason for the denied ones.
    pub fn all_tools(&self) -> impl Iterator<Item = (&ToolInfo, Option<&str>)> {
        self.entries.iter().map(|e| (&e.info, e.denied.as_deref()))
    }

    /// How many tools the model may use.
    pub fn len(&self) -> usize {
        self.tools().count()
    }

    /// Whether the model may use no tool at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A tool by catalogue name (allowed or not).
    pub fn get(&self, name: &str) -> Option<&ToolInfo> {
        self.index.get(name).map(|&i| &self.entries[i].info)
    }

    /// Sources that could not list their tools.
    pub fn failures(&self) -> &[SourceFailure] {
        &self.failures
    }

    /// The sources.
    pub fn sources(&self) -> &[Arc<dyn ToolSource>] {
        &self.sources
    }

    /// The allowed tools, with schemas normalised for `target`. A tool whose schema cannot be
    /// normalised is left out (and logged).
    pub fn provider_tools(&self, target: SchemaTarget) -> Vec<ProviderTool> {
        self.tools()
            .filter_map(|tool| {
                let schema = Value::Object((*tool.input_schema).clone());
                let normalized = match normalize(&schema, target) {
                    Err(SchemaError::NotStrictCompatible(reason)) if target == SchemaTarget::OpenAiStrict => {
                        debug!(tool = %tool.name, %reason, "not expressible in strict mode; offered without strict");
                        normalize(&schema, SchemaTarget::OpenAi).map(|p| (p, false))
                    }
                    other => other.map(|p| (p, target == SchemaTarget::OpenAiStrict)),
                };
                match normalized {
                    Ok((parameters, strict)) => Some(ProviderTool {
                        name: tool.name.clone(),
                        description: tool.description.clone(),
                        parameters,
                        strict,
                    }),
                    Err(error) => {
                        warn!(tool = %tool.name, error = %error, "tool left out: its schema cannot be normalised");
                        None
                    }
                }
            })
            .collect()
    }

    /// The allowed tools in OpenAI's `tools` format
    /// (`{"type":"function","function":{name, description, parameters, strict}}`).
    pub fn openai_tools(&self, strict: bool) -> Vec<Value> {
        let target = if strict { SchemaTarget::OpenAiStrict } else { SchemaTarget::OpenAi };
        self.provider_tools(target)
            .into_iter()
            .map(|tool| {
                serde_json::json!({
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                        "strict": tool.strict,
                    }
                })
            })
            .collect()
    }

    fn validator<'e>(&self, entry: &'e Entry) -> Option<&'e ArgumentValidator> {
        entry
            .validator
            .get_or_init(|| match ArgumentValidator::new(&Value::Object((*entry.info.input_schema).clone())) {
                Ok(validator) => Some(validator),
                Err(error) => {
                    warn!(tool = %entry.info.name, error = %error, "tool schema does not compile; arguments are not validated");
                    None
                }
            })
            .as_ref()
    }

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

    /// Takes a call's place in the log now (so that parallel calls keep the order in which
    /// they were issued) and returns it ready to [`run`](PreparedCall::run).
    pub fn begin(&self, log: &CallLog, name: &str, arguments: RawArguments<'_>, tool_use_id: &str) -> PreparedCall<'_> {
        let entry = self.index.get(name).map(|&i| &self.entries[i]);
        let limit = self.options.max_argument_bytes;
        let oversize = match arguments {
            RawArguments::Value(value) => oversized(value, limit),
            RawArguments::Json(text) => {
                (text.len() > limit).then(|| (text.len(), first_chars(text, ARGUMENT_PREFIX_BYTES)))
            }
        };
        let (input, parse_error) = match (arguments, oversize) {
            (_, Some((size, beginning))) => (
                Value::String(format!("[{size} bytes of arguments, not kept] {beginning}")),
                Some(ArgumentError::TooLarge { size, limit }),
            ),
            (RawArguments::Value(value), None) => (value.clone(), None),
            (RawArguments::Json(text), None) => match parse_arguments(text) {
                Ok(value) => (value, None),
                Err(error) => (Value::String(text.to_owned()), Some(ArgumentError::Json(error.to_string()))),
            },
        };
        let pending = log.begin(CallStart {
            tool: name.to_owned(),
            tool_use_id: tool_use_id.to_owned(),
            source: entry.map_or(ToolSourceKind::Unknown, |e| e.info.source_kind),
            server: entry.map(|e| e.info.source.clone()),
            input: input.clone(),
        });
        PreparedCall { catalogue: self, entry, pending, input, parse_error, tool_use_id: tool_use_id.to_owned() }
    }

    fn unknown_tool_message(&self, name: &str) -> String {
        let available: Vec<&str> = self.tools().take(30).map(|t| t.name.as_str()).collect();
        let more = self.len().saturating_sub(available.len());
        let mut message = format!("unknown tool `{name}`; available tools: {}", available.join(", "));
        if more > 0 {
            message.push_str(&format!(" (and {more} more)"));
        }
        message
    }

    async fn run(
        &self,
        entry: &Entry,
        mut input: Value,
        parse_error: Option<ArgumentError>,
        options: &CallOptions,
    ) -> CallOutcome {
        let name = &entry.info.name;
        match parse_error {
            Some(ArgumentError::Json(error)) => {
                return CallOutcome::failed(
                    ToolErrorType::InvalidArguments,
                    format!("invalid arguments for `{name}`: not valid JSON ({error}); send a JSON object"),
                );
            }
            Some(ArgumentError::TooLarge { size, limit }) => {
                return CallOutcome::failed(
                    ToolErrorType::InvalidArguments,
                    format!(
                        "invalid arguments for `{name}`: {size} bytes, over the limit of {limit} bytes \
                         (`max_argument_bytes`); send less data per call"
                    ),
                );
            }
            None => {}
        }
        if let Some(reason) = &entry.denied {
            debug!(tool = %name, "call refused by policy");
            return CallOutcome::failed(ToolErrorType::PolicyDenied, reason.clone());
        }
        if options.schema_target == Some(SchemaTarget::OpenAiStrict) {
            strip_strict_nulls_in(&mut input, &entry.info.input_schema);
        }
        if !input.is_object() {
            return CallOutcome::failed(
                ToolErrorType::InvalidArguments,
                format!("invalid arguments for `{name}`: expected a JSON object, got {input}"),
            );
        }
        if let Some(validator) = self.validator(entry)
            && let Err(errors) = validator.validate(&input)
        {
            return CallOutcome::failed(
                ToolErrorType::InvalidArguments,
                format!("invalid arguments for `{name}`: {errors}"),
            );
        }
        let ctx = CallContext {
            cancel: options.cancel.clone().unwrap_or_default(),
            timeout: options.timeout.or(self.options.call_timeout),
            max_output_bytes: self.options.max_output_bytes,
        };
        let source = &self.sources[entry.source];
        match source.call_tool(&entry.info.original_name, input, &ctx).await {
            Ok(output) => {
                let mut metadata = Map::new();
                let original_bytes = output.original_bytes.max(output.text.len());
                let (text, cut) = truncate_output(output.text, self.options.max_output_bytes);
                let truncated = output.truncated || cut;
                if let Some(structured) = output.structured {
                    metadata.insert("structured_content".into(), structured);
                }
                if output.is_error {
                    return CallOutcome {
                        error: Some(first_chars(&text, 500)),
                        output: text,
                        success: false,
                        error_type: Some(ToolErrorType::ToolError),
                        metadata,
                    };
                }
                let error_type = if truncated {
                    metadata.insert("original_bytes".into(), Value::from(original_bytes));
                    Some(ToolErrorType::OutputTruncated)
                } else {
                    None
                };
                CallOutcome { output: text, success: true, error: None, error_type, metadata }
            }
            Err(error) => {
                let error_type = error.error_type();
                CallOutcome::failed(error_type, format!("`{name}` failed: {error}"))
            }
        }
    }
}

/// A call that has its place in the log; [`run`](Self::run) it (dropping it records it as
/// cancelled).
pub struct PreparedCall<'a> {
    catalogue: &'a Catalogue,
    entry: Option<&'a Entry>,
    pending: crate::call_log::PendingCall,
    input: Value,
    parse_error: Option<ArgumentError>,
    tool_use_id: String,
}

/// Why a call's arguments were refused before validation.
#[derive(Debug)]
enum ArgumentError {
    /// Not JSON.
    Json(String),
    /// Over [`CatalogueOptions::max_argument_bytes`].
    TooLarge { size: usize, limit: usize },
}

/// The serialised size and first bytes of `value` if it is over `limit` (no copy is made; the
/// common case stops counting at the limit).
fn oversized(value: &Value, limit: usize) -> Option<(usize, String)> {
    struct Counter {
        bytes: usize,
        stop_after: usize,
        /// Kept only on the second pass, so the common case allocates nothing.
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

/// How much of refused, oversized arguments the call log keeps.
const ARGUMENT_PREFIX_BYTES: usize = 1000;

impl std::fmt::Debug for PreparedCall<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedCall").field("tool", &self.entry.map(|e| &e.info.name)).finish_non_exhaustive()
    }
}

impl PreparedCall<'_> {
    /// Runs the call and records its outcome.
    pub async fn run(self, options: &CallOptions) -> ToolCallRecord {
        let Some(entry) = self.entry else {
            let name = self.pending_name();
            let message = self.catalogue.unknown_tool_message(&name);
            return self.pending.finish(CallOutcome::failed(ToolErrorType::UnknownTool, message));
        };
        let span = info_span!("tool_call", tool = %entry.info.name, server = %entry.info.source, tool_use_id = %self.tool_use_id);
        let mut outcome = self.catalogue.run(entry, self.input, self.parse_error, options).instrument(span).await;
        outcome.metadata.insert("original_name".into(), Value::String(entry.info.original_name.clone()));
        self.pending.finish(outcome)
    }

    fn pending_name(&self) -> String {
        self.pending.tool().to_owned()
    }
}

fn parse_arguments(text: &str) -> Result<Value, serde_json::Error> {
    if text.trim().is_empty() { Ok(Value::Object(Map::new())) } else { serde_json::from_str(text) }
}

fn first_chars(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
