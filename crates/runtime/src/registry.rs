//! The runtime registry: discovery and creation of runtimes by type.
//!
//! An explicit value, not a global: build one, register the runtimes you want (the bundled
//! agent loop registers itself through `toolbridge_agent::register`), then create runtimes
//! from it. Tests get their own registry.

use std::collections::BTreeMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde::Serialize;
use serde_json::Value;

use crate::agent::AgentDefinition;
use crate::capabilities::RuntimeCapabilities;
use crate::error::{RegistryError, RuntimeError};
use crate::handle::{ConfigCheck, RuntimeDeps, RuntimeHandle, panic_message};
use crate::runtime::Runtime;
use crate::runtime_config::{ConfigError, ConfigValidator, NoConfig, RuntimeConfig};
use crate::runtime_type::RuntimeType;

type Constructor = Arc<dyn Fn(RuntimeDeps) -> Result<Arc<dyn Runtime>, RuntimeError> + Send + Sync>;

/// How to make one kind of runtime: its type, description, `runtime_config` schema and
/// validation, and constructor. Capabilities are not declared here: they are the runtime's
/// own ([`Runtime::capabilities`]), read from it.
#[derive(Clone)]
pub struct RuntimeSpec {
    runtime_type: RuntimeType,
    description: String,
    kind: RuntimeKind,
    config_schema: Value,
    config_check: ConfigCheck,
    construct: Constructor,
}

/// Where a runtime comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeKind {
    /// Compiled into the program.
    Builtin,
    /// A separate program driven over the runtime plugin protocol.
    Plugin,
}

impl fmt::Debug for RuntimeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeSpec")
            .field("runtime_type", &self.runtime_type)
            .field("description", &self.description)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl RuntimeSpec {
    /// A spec whose constructor makes the runtime from its deps. The runtime takes no
    /// `runtime_config` ([`NoConfig`]) unless [`with_config`](Self::with_config) says which.
    pub fn new<R, F>(runtime_type: impl Into<RuntimeType>, description: impl Into<String>, constructor: F) -> Self
    where
        R: Runtime,
        F: Fn(RuntimeDeps) -> Result<R, RuntimeError> + Send + Sync + 'static,
    {
        let construct: Constructor = Arc::new(move |deps| Ok(Arc::new(constructor(deps)?) as Arc<dyn Runtime>));
        Self {
            runtime_type: runtime_type.into(),
            description: description.into(),
            kind: RuntimeKind::Builtin,
            config_schema: Value::Null,
            config_check: Arc::new(|_| Ok(())),
            construct,
        }
        .with_config::<NoConfig>()
    }

    /// Declares the typed `runtime_config` of the runtime: its JSON Schema is published and
    /// every execution's config (absent = `{}`) is validated against it, errors naming the field.
    #[must_use]
    pub fn with_config<C: RuntimeConfig>(mut self) -> Self {
        let validator = ConfigValidator::<C>::new();
        self.config_schema = validator.schema().clone();
        self.config_check = Arc::new(move |value| validator.parse(value).map(|_| ()));
        self
    }

    /// Declares a `runtime_config` known only at run time (a plugin's): its schema and how to
    /// check a value.
    #[must_use]
    pub fn with_dynamic_config(
        mut self,
        schema: Value,
        check: impl Fn(Option<&Value>) -> Result<(), ConfigError> + Send + Sync + 'static,
    ) -> Self {
        self.config_schema = schema;
        self.config_check = Arc::new(check);
        self
    }

    /// Marks the runtime as coming from a plugin (for listings).
    #[must_use]
    pub fn plugin(mut self) -> Self {
        self.kind = RuntimeKind::Plugin;
        self
    }

    /// The runtime type.
    pub fn runtime_type(&self) -> &RuntimeType {
        &self.runtime_type
    }

    /// What the runtime is.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The JSON Schema of its `runtime_config`.
    pub fn config_schema(&self) -> &Value {
        &self.config_schema
    }

    /// Validates a `runtime_config` against the runtime's schema (absent = `{}`).
    pub fn validate_config(&self, config: Option<&Value>) -> Result<(), RegistryError> {
        (self.config_check)(config)
            .map_err(|source| RegistryError::Config { runtime: self.runtime_type.clone(), source })
    }

    fn build(&self, deps: RuntimeDeps) -> Result<Arc<dyn Runtime>, RegistryError> {
        (self.construct)(deps).map_err(|source| RegistryError::Create { runtime: self.runtime_type.clone(), source })
    }
}

/// What `runtime_info_all` reports about one runtime.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuntimeInfo {
    /// The runtime type.
    pub runtime_type: RuntimeType,
    /// What it is.
    pub description: String,
    /// Built in or a plugin.
    pub kind: RuntimeKind,
    /// What it supports (as the runtime itself declares).
    pub capabilities: RuntimeCapabilities,
    /// Whether its executions need a `model_id`.
    pub requires_model: bool,
    /// The JSON Schema of its `runtime_config`.
    pub runtime_config_schema: Value,
}

/// A runtime that knows its own registration: what `RuntimeRegistry::register(R::spec())`
/// and the CLI builder's `Cli::new().runtime::<R>()` use.
pub trait RuntimeFactory {
    /// The runtime's registry entry (type, description, `runtime_config`, constructor).
    fn spec() -> RuntimeSpec;
}

/// Registered runtimes by type.
#[derive(Debug, Default, Clone)]
pub struct RuntimeRegistry {
    specs: BTreeMap<RuntimeType, RuntimeSpec>,
}

impl RuntimeRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a runtime. Registering a type twice (or the `default` alias) is an error.
    pub fn register(&mut self, spec: RuntimeSpec) -> Result<(), RegistryError> {
        let ty = spec.runtime_type.clone();
        if ty.as_str() == RuntimeType::DEFAULT || ty.as_str().is_empty() || self.specs.contains_key(&ty) {
            return Err(RegistryError::AlreadyRegistered(ty));
        }
        self.specs.insert(ty, spec);
        Ok(())
    }

    /// Removes a runtime; returns whether it was registered.
    pub fn unregister(&mut self, runtime_type: &RuntimeType) -> bool {
        self.specs.remove(runtime_type).is_some()
    }

    /// The spec of a runtime type (`default` resolves to `agent_loop`).
    pub fn get(&self, runtime_type: &RuntimeType) -> Result<&RuntimeSpec, RegistryError> {
        let resolved = runtime_type.resolve();
        self.specs.get(&resolved).ok_or_else(|| RegistryError::Unknown {
            requested: runtime_type.clone(),
            known: if self.specs.is_empty() {
                "(none registered)".to_owned()
            } else {
                self.specs.keys().map(RuntimeType::as_str).collect::<Vec<_>>().join(", ")
            },
        })
    }

    /// Creates a runtime of the given type with its deps.
    pub fn create(&self, runtime_type: &RuntimeType, deps: RuntimeDeps) -> Result<RuntimeHandle, RegistryError> {
        let spec = self.get(runtime_type)?;
        let runtime = spec.build(deps.clone())?;
        Ok(RuntimeHandle::from_arc(runtime, deps, Some(Arc::clone(&spec.config_check))))
    }

    /// Validates a `runtime_config` with the given runtime's schema (absent = `{}`).
    pub fn validate_config(&self, runtime_type: &RuntimeType, config: Option<&Value>) -> Result<(), RegistryError> {
        self.get(runtime_type)?.validate_config(config)
    }

    /// Everything that can be checked of an agent before it runs, in one call: its runtime
    /// exists, its `runtime_config` passes the runtime's schema (absent = `{}`), then the
    /// runtime's own [`Runtime::validate_config`] accepts the agent's context. The CLI's
    /// `agent create` and the HTTP API call this.
    pub fn validate_agent(&self, agent: &AgentDefinition) -> Result<(), RegistryError> {
        let spec = self.get(&agent.runtime)?;
        spec.validate_config(agent.runtime_config.as_ref())?;
        let runtime = spec.build(RuntimeDeps::default())?;
        let context = agent.context(String::new());
        crate::handle::guarded_validate(runtime.as_ref(), &context)
            .map_err(|source| RegistryError::Invalid { runtime: spec.runtime_type.clone(), source })
    }

    /// [`validate_agent`](Self::validate_agent), then the runtime's
    /// [`check_config`](Runtime::check_config): validation that needs I/O, such as a runtime
    /// plugin's own `validate_config` asked over its protocol. The future does not borrow the
    /// registry (it may sit behind a lock). The CLI's `agent create` and the HTTP API await it.
    pub fn check_agent(&self, agent: &AgentDefinition) -> BoxFuture<'static, Result<(), RegistryError>> {
        let prepared = self.validate_agent(agent).and_then(|()| {
            let spec = self.get(&agent.runtime)?;
            Ok((spec.runtime_type.clone(), spec.build(RuntimeDeps::default())?))
        });
        let context = agent.context(String::new());
        Box::pin(async move {
            let (runtime_type, runtime) = prepared?;
            let checked = AssertUnwindSafe(runtime.check_config(&context)).catch_unwind().await;
            let outcome =
                checked.unwrap_or_else(|payload| Err(RuntimeError::Panicked(panic_message(payload.as_ref()))));
            outcome.map_err(|source| RegistryError::Invalid { runtime: runtime_type, source })
        })
    }

    /// The registered runtime types, sorted.
    pub fn list_available(&self) -> Vec<RuntimeType> {
        self.specs.keys().cloned().collect()
    }

    /// Capabilities, description and config schema of every registered runtime, by type. The
    /// capabilities are read from a runtime made with default deps.
    pub fn runtime_info_all(&self) -> BTreeMap<String, RuntimeInfo> {
        self.specs
            .values()
            .map(|spec| {
                let runtime = spec.build(RuntimeDeps::default());
                if let Err(error) = &runtime {
                    tracing::warn!(runtime = %spec.runtime_type, %error, "cannot read the runtime's capabilities");
                }
                let runtime = runtime.ok();
                (
                    spec.runtime_type.to_string(),
                    RuntimeInfo {
                        runtime_type: spec.runtime_type.clone(),
                        description: spec.description.clone(),
                        kind: spec.kind,
                        capabilities: runtime.as_ref().map(|r| r.capabilities()).unwrap_or_default(),
                        requires_model: runtime.as_ref().is_some_and(|r| r.requires_model()),
                        runtime_config_schema: spec.config_schema.clone(),
                    },
                )
            })
            .collect()
    }
}
