//! The catalogue: the merged, named tool set of one execution.
//!
//! A tool call reads top to bottom through these modules: [`builder`] turns the typed tool
//! configuration into [`ToolSource`]s; this module is the index — sources listed in parallel
//! (one that fails leaves the catalogue degraded, not failed), tools named with [`naming`] and
//! judged by the [`Policy`]; [`call`] is the pipeline every call takes (policy → validation →
//! source → output cap → call log).

pub(crate) mod builder;
pub(crate) mod call;
pub mod naming;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use toolbridge_runtime::ToolSourceKind;
use tracing::{debug, warn};

use crate::policy::{Decision, Policy, PolicyContext};
use crate::schema::{SchemaError, SchemaTarget, normalize};
use crate::source::{JsonObject, ToolSource};
use crate::validation::ArgumentValidator;
use naming::NameMap;
use toolbridge_sandbox::SandboxReport;

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
    /// What confines the processes behind it (a sandboxed or contained stdio server, a
    /// shell or python skill).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<SandboxReport>,
}

/// A source that could not list its tools.
#[derive(Debug, Clone, Serialize)]
pub struct SourceFailure {
    /// The source.
    pub source: String,
    /// Why.
    pub error: String,
    /// When it is an MCP server that needs an OAuth login: the command that logs in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_command: Option<String>,
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

/// One tool of the index.
pub(crate) struct Entry {
    pub(crate) info: ToolInfo,
    pub(crate) source: usize,
    pub(crate) denied: Option<String>,
    validator: OnceLock<Option<ArgumentValidator>>,
}

impl Entry {
    /// The tool's argument validator, compiled on first use.
    pub(crate) fn validator(&self) -> Option<&ArgumentValidator> {
        self.validator
            .get_or_init(|| match ArgumentValidator::new(&Value::Object((*self.info.input_schema).clone())) {
                Ok(validator) => Some(validator),
                Err(error) => {
                    warn!(tool = %self.info.name, error = %error, "tool schema does not compile; arguments are not validated");
                    None
                }
            })
            .as_ref()
    }
}

/// The merged, named tool set of one execution. Cheap to share (`Arc<Catalogue>`).
pub struct Catalogue {
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    pub(crate) sources: Vec<Arc<dyn ToolSource>>,
    failures: Vec<SourceFailure>,
    pub(crate) options: CatalogueOptions,
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
                    Ok(result) => result.map_err(|e| (e.message, e.login_command)),
                    Err(_) => Err((format!("did not list its tools within {limit:?}"), None)),
                }
            }
        }))
        .await;
        let mut failures = Vec::new();
        let mut listed = Vec::new();
        for (index, listing) in listings.into_iter().enumerate() {
            match listing {
                Ok(tools) => listed.extend(tools.into_iter().map(|tool| (index, tool))),
                Err((error, login_command)) => {
                    let source = sources[index].name().to_owned();
                    warn!(source = %source, error = %error, "tool source unavailable; catalogue degraded");
                    failures.push(SourceFailure { source, error, login_command });
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
            let denied = match policy.decide(&name, source.name(), &tool.name, policy_context) {
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
                    sandbox: source.sandbox(),
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
        self.entry(name).map(|e| &e.info)
    }

    pub(crate) fn entry(&self, name: &str) -> Option<&Entry> {
        self.index.get(name).map(|&i| &self.entries[i])
    }

    /// The catalogue's options.
    pub fn options(&self) -> &CatalogueOptions {
        &self.options
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
}
