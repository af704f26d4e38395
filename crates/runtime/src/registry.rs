//! The runtime registry: discovery and creation of runtimes by type.
//!
//! An explicit value, not a global: build one, register the runtimes you want (the bundled
//! agent loop registers itself through `toolbridge_agent::register`), then create runtimes
//! from it. Tests get their own registry.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::capabilities::RuntimeCapabilities;
use crate::config::{ConfigError, ConfigValidator, RuntimeConfig};
use crate::error::{RegistryError, RuntimeError};
use crate::handle::{ConfigCheck, RuntimeDeps, RuntimeHandle};
use crate::runtime::Runtime;
use crate::runtime_type::RuntimeType;

type Constructor = Arc<dyn Fn(RuntimeDeps, Option<&Value>) -> Result<Arc<dyn Runtime>, RegistryError> + Send + Sync>;

/// How to make one kind of runtime: its type, description, capabilities, typed config and
/// constructor.
#[derive(Clone)]
pub struct RuntimeSpec {
    runtime_type: RuntimeType,
    description: String,
    capabilities: RuntimeCapabilities,
    config_schema: Value,
    config_check: ConfigCheck,
    construct: Constructor,
}

impl fmt::Debug for RuntimeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeSpec")
            .field("runtime_type", &self.runtime_type)
            .field("description", &self.description)
            .field("capabilities", &self.capabilities)
            .finish_non_exhaustive()
    }
}

impl RuntimeSpec {
    /// A spec whose runtime takes a typed config `C`. The constructor gets the deps and the
    /// validated config given to [`RuntimeRegistry::create`] (defaults when none); each
    /// execution's `runtime_config` is validated against `C` as well.
    pub fn new<C, R, F>(
        runtime_type: impl Into<RuntimeType>,
        description: impl Into<String>,
        capabilities: RuntimeCapabilities,
        constructor: F,
    ) -> Self
    where
        C: RuntimeConfig,
        R: Runtime,
        F: Fn(RuntimeDeps, C) -> Result<R, RuntimeError> + Send + Sync + 'static,
    {
        let runtime_type = runtime_type.into();
        let validator = ConfigValidator::<C>::new();
        let config_schema = validator.schema().clone();
        let check_validator = validator.clone();
        let config_check: ConfigCheck = Arc::new(move |value| check_validator.parse(value).map(|_| ()));
        let ty = runtime_type.clone();
        let construct: Constructor = Arc::new(move |deps, value| {
            let config =
                validator.parse(value).map_err(|source| RegistryError::Config { runtime: ty.clone(), source })?;
            let runtime =
                constructor(deps, config).map_err(|source| RegistryError::Create { runtime: ty.clone(), source })?;
            Ok(Arc::new(runtime) as Arc<dyn Runtime>)
        });
        Self { runtime_type, description: description.into(), capabilities, config_schema, config_check, construct }
    }

    /// A spec whose `runtime_config` schema is only known at run time (e.g. published by a
    /// runtime plugin when it starts): the schema is given as JSON and `validate` checks a
    /// config against it. Each execution's `runtime_config` goes through `validate` (absent
    /// as `None`); a config given to [`RuntimeRegistry::create`] is validated when present,
    /// then handed to the constructor as is.
    pub fn dynamic<R, V, F>(
        runtime_type: impl Into<RuntimeType>,
        description: impl Into<String>,
        capabilities: RuntimeCapabilities,
        config_schema: Value,
        validate: V,
        constructor: F,
    ) -> Self
    where
        R: Runtime,
        V: Fn(Option<&Value>) -> Result<(), ConfigError> + Send + Sync + 'static,
        F: Fn(RuntimeDeps, Option<&Value>) -> Result<R, RuntimeError> + Send + Sync + 'static,
    {
        let runtime_type = runtime_type.into();
        let config_check: ConfigCheck = Arc::new(validate);
        let check = Arc::clone(&config_check);
        let ty = runtime_type.clone();
        let construct: Constructor = Arc::new(move |deps, value| {
            if value.is_some() {
                check(value).map_err(|source| RegistryError::Config { runtime: ty.clone(), source })?;
            }
            let runtime =
                constructor(deps, value).map_err(|source| RegistryError::Create { runtime: ty.clone(), source })?;
            Ok(Arc::new(runtime) as Arc<dyn Runtime>)
        });
        Self { runtime_type, description: description.into(), capabilities, config_schema, config_check, construct }
    }

    /// The runtime type.
    pub fn runtime_type(&self) -> &RuntimeType {
        &self.runtime_type
    }

    /// What the runtime is.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// What the runtime supports.
    pub fn capabilities(&self) -> RuntimeCapabilities {
        self.capabilities
    }

    /// The JSON Schema of its `runtime_config`.
    pub fn config_schema(&self) -> &Value {
        &self.config_schema
    }

    /// Validates a `runtime_config` with the runtime's own validation.
    pub fn validate_config(&self, config: Option<&Value>) -> Result<(), RegistryError> {
        (self.config_check)(config)
            .map_err(|source| RegistryError::Config { runtime: self.runtime_type.clone(), source })
    }
}

/// What `runtime_info_all` reports about one runtime.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuntimeInfo {
    /// The runtime type.
    pub runtime_type: RuntimeType,
    /// What it is.
    pub description: String,
    /// What it supports.
    pub capabilities: RuntimeCapabilities,
    /// The JSON Schema of its `runtime_config`.
    pub runtime_config_schema: Value,
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
        if ty.as_str() == RuntimeType::DEFAULT || self.specs.contains_key(&ty) {
            return Err(RegistryError::AlreadyRegistered(ty));
        }
        self.specs.insert(ty, spec);
        Ok(())
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

    /// Creates a runtime of the given type with its deps and (validated) config.
    pub fn create(
        &self,
        runtime_type: &RuntimeType,
        deps: RuntimeDeps,
        config: Option<&Value>,
    ) -> Result<RuntimeHandle, RegistryError> {
        let spec = self.get(runtime_type)?;
        let runtime = (spec.construct)(deps.clone(), config)?;
        Ok(RuntimeHandle::from_arc(runtime, deps, Some(Arc::clone(&spec.config_check))))
    }

    /// Validates a `runtime_config` with the given runtime's own validation.
    pub fn validate_config(&self, runtime_type: &RuntimeType, config: Option<&Value>) -> Result<(), RegistryError> {
        self.get(runtime_type)?.validate_config(config)
    }

    /// The registered runtime types, sorted.
    pub fn list_available(&self) -> Vec<RuntimeType> {
        self.specs.keys().cloned().collect()
    }

    /// Capabilities, description and config schema of every registered runtime, by type.
    pub fn runtime_info_all(&self) -> BTreeMap<String, RuntimeInfo> {
        self.specs
            .values()
            .map(|spec| {
                (
                    spec.runtime_type.to_string(),
                    RuntimeInfo {
                        runtime_type: spec.runtime_type.clone(),
                        description: spec.description.clone(),
                        capabilities: spec.capabilities,
                        runtime_config_schema: spec.config_schema.clone(),
                    },
                )
            })
            .collect()
    }
}
