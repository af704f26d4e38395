//! The tool policy as configured: `{allow: [rule], deny: [rule]}` (compiled and judged by the
//! bridge's `Policy`).
//!
//! A rule is a glob on catalogue names (`"fs__*"`) or an object
//! `{tools: [glob], sources: [glob], original: [glob], when: {roles, teams, environments, users}}`.

use serde::{Deserialize, Serialize};

/// Conditions under which a rule applies; every list that is given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Applies when the user has any of these roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Applies when the team id or name is one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<String>,
    /// Applies in these environments.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    /// Applies to these users (id or email).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
}

impl Conditions {
    /// Whether no condition is set.
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.teams.is_empty() && self.environments.is_empty() && self.users.is_empty()
    }
}

/// A rule in its object form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Globs on catalogue names (`server__tool`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Globs on source names (MCP server or skill names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// When the rule applies.
    #[serde(default, skip_serializing_if = "Conditions::is_empty")]
    pub when: Conditions,
}

/// A rule: a glob on catalogue names, or a [`RuleSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, expecting = "a glob on tool names, or {tools, sources, when}")]
pub enum PolicyRule {
    /// A glob on catalogue names.
    Pattern(String),
    /// A full rule.
    Rule(RuleSpec),
}

/// A policy as configured: `{allow: [rule], deny: [rule]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Tools allowed (when non-empty, nothing else is).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<PolicyRule>,
    /// Tools denied (always wins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<PolicyRule>,
}

impl PolicyConfig {
    /// Whether the policy has no rules.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}
