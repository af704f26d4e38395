//! Runtime identifiers.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The identifier of a runtime, e.g. `agent_loop`.
///
/// An open newtype rather than a closed enum: custom runtimes register their own types next to
/// the built-in ones. `default` is an alias that [`RuntimeType::resolve`] maps to
/// [`RuntimeType::AGENT_LOOP`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuntimeType(String);

impl RuntimeType {
    /// The bundled tool-calling agent loop.
    pub const AGENT_LOOP: &'static str = "agent_loop";
    /// The alias for the default runtime.
    pub const DEFAULT: &'static str = "default";

    /// A runtime type with the given name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The bundled agent-loop runtime type.
    pub fn agent_loop() -> Self {
        Self::new(Self::AGENT_LOOP)
    }

    /// The name of this runtime type.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Resolves aliases: `default` (and an empty name) become `agent_loop`.
    #[must_use]
    pub fn resolve(&self) -> Self {
        if self.0.is_empty() || self.0 == Self::DEFAULT { Self::agent_loop() } else { self.clone() }
    }
}

impl Default for RuntimeType {
    fn default() -> Self {
        Self::agent_loop()
    }
}

impl fmt::Display for RuntimeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for RuntimeType {
    fn from(name: &str) -> Self {
        Self::new(name)
    }
}

impl From<String> for RuntimeType {
    fn from(name: String) -> Self {
        Self(name)
    }
}

impl Borrow<str> for RuntimeType {
    fn borrow(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_resolves_to_agent_loop() {
        assert_eq!(RuntimeType::new("default").resolve().as_str(), "agent_loop");
        assert_eq!(RuntimeType::new("").resolve().as_str(), "agent_loop");
        assert_eq!(RuntimeType::new("crew").resolve().as_str(), "crew");
    }

    #[test]
    fn serializes_as_plain_string() {
        let json = serde_json::to_string(&RuntimeType::agent_loop()).unwrap();
        assert_eq!(json, "\"agent_loop\"");
        let back: RuntimeType = serde_json::from_str("\"custom\"").unwrap();
        assert_eq!(back, RuntimeType::new("custom"));
    }
}
