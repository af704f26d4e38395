//! Tool policy: allow/deny rules on catalogue names and sources, with conditions on who runs
//! the execution (`user_roles`, `team_id`/`team_name`, `environment`, user).
//!
//! A denied tool is left out of the tools given to the model AND refused if called anyway
//! (recorded as `policy_denied`; the tool never runs). The seed's platform only logs
//! violations; we block.
//!
//! Rules:
//! - a rule is a glob on the catalogue name (`"fs__*"`), or an object
//!   `{tools: [glob], sources: [glob], when: {roles, teams, environments, users}}`; a rule with
//!   neither `tools` nor `sources` covers every tool; every `when` list that is given must
//!   match (roles: any of the user's roles; teams: the team id or name; users: the user id or
//!   email);
//! - a matching `deny` rule always wins;
//! - when there are `allow` rules, a tool must match one of them;
//! - no rules: everything is allowed.
//!
//! ```json
//! {"allow": ["fs__*", {"tools": ["*"], "when": {"roles": ["admin"]}}],
//!  "deny": [{"sources": ["shell"], "when": {"environments": ["production"]}}]}
//! ```

use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};

/// Who runs an execution: the enforcement fields of the execution context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyContext {
    /// The user's id.
    pub user_id: Option<String>,
    /// The user's email.
    pub user_email: Option<String>,
    /// The user's roles.
    pub user_roles: Vec<String>,
    /// The team's id.
    pub team_id: Option<String>,
    /// The team's name.
    pub team_name: Option<String>,
    /// The environment (`production` unless told otherwise).
    pub environment: String,
}

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
    #[serde(default)]
    pub when: Conditions,
}

/// A rule: a glob on catalogue names, or a [`RuleSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
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

/// An invalid policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy JSON does not have the expected shape.
    #[error("invalid policy: {0}")]
    Shape(String),
    /// A glob does not compile.
    #[error("invalid policy glob {pattern:?} in {list}[{index}]: {message}")]
    Glob {
        /// `allow` or `deny`.
        list: &'static str,
        /// The rule's index.
        index: usize,
        /// The glob.
        pattern: String,
        /// Why it is invalid.
        message: String,
    },
}

/// The verdict on one tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The tool may be offered and called.
    Allow,
    /// The tool is refused; the reason names the rule.
    Deny(String),
}

impl Decision {
    /// Whether the tool is allowed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allow)
    }
}

#[derive(Debug)]
struct CompiledRule {
    label: String,
    tools: Vec<GlobMatcher>,
    sources: Vec<GlobMatcher>,
    when: Conditions,
}

impl CompiledRule {
    fn compile(rule: &PolicyRule, list: &'static str, index: usize) -> Result<Self, PolicyError> {
        let glob = |pattern: &String| {
            Glob::new(pattern).map(|g| g.compile_matcher()).map_err(|e| PolicyError::Glob {
                list,
                index,
                pattern: pattern.clone(),
                message: e.kind().to_string(),
            })
        };
        Ok(match rule {
            PolicyRule::Pattern(pattern) => Self {
                label: format!("{list} rule {pattern:?}"),
                tools: vec![glob(pattern)?],
                sources: Vec::new(),
                when: Conditions::default(),
            },
            PolicyRule::Rule(spec) => Self {
                label: format!("{list}[{index}]"),
                tools: spec.tools.iter().map(glob).collect::<Result<_, _>>()?,
                sources: spec.sources.iter().map(glob).collect::<Result<_, _>>()?,
                when: spec.when.clone(),
            },
        })
    }

    fn applies(&self, tool: &str, source: &str, ctx: &PolicyContext) -> bool {
        let tool_ok = self.tools.is_empty() || self.tools.iter().any(|g| g.is_match(tool));
        let source_ok = self.sources.is_empty() || self.sources.iter().any(|g| g.is_match(source));
        tool_ok && source_ok && conditions_hold(&self.when, ctx)
    }
}

fn conditions_hold(when: &Conditions, ctx: &PolicyContext) -> bool {
    let any = |list: &[String], values: &[Option<&str>]| {
        list.is_empty() || values.iter().flatten().any(|v| list.iter().any(|item| item == v))
    };
    let roles: Vec<Option<&str>> = ctx.user_roles.iter().map(|r| Some(r.as_str())).collect();
    any(&when.roles, &roles)
        && any(&when.teams, &[ctx.team_id.as_deref(), ctx.team_name.as_deref()])
        && any(&when.environments, &[Some(ctx.environment.as_str())])
        && any(&when.users, &[ctx.user_id.as_deref(), ctx.user_email.as_deref()])
}

/// A compiled policy, ready to judge tools.
#[derive(Debug, Default)]
pub struct Policy {
    allow: Vec<CompiledRule>,
    deny: Vec<CompiledRule>,
}

impl Policy {
    /// Allows everything.
    pub fn allow_all() -> Self {
        Self::default()
    }

    /// Compiles a policy config.
    pub fn compile(config: &PolicyConfig) -> Result<Self, PolicyError> {
        let compile = |rules: &[PolicyRule], list| {
            rules.iter().enumerate().map(|(i, r)| CompiledRule::compile(r, list, i)).collect::<Result<Vec<_>, _>>()
        };
        Ok(Self { allow: compile(&config.allow, "allow")?, deny: compile(&config.deny, "deny")? })
    }

    /// Parses and compiles a policy from JSON (`null` allows everything).
    pub fn from_json(value: &serde_json::Value) -> Result<Self, PolicyError> {
        if value.is_null() {
            return Ok(Self::allow_all());
        }
        let config: PolicyConfig =
            serde_json::from_value(value.clone()).map_err(|e| PolicyError::Shape(e.to_string()))?;
        Self::compile(&config)
    }

    /// Whether the policy has no rules at all.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// Judges one tool, by catalogue name and source name, for the given context.
    pub fn decide(&self, tool: &str, source: &str, ctx: &PolicyContext) -> Decision {
        if let Some(rule) = self.deny.iter().find(|r| r.applies(tool, source, ctx)) {
            return Decision::Deny(format!("tool `{tool}` is denied by policy ({})", rule.label));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|r| r.applies(tool, source, ctx)) {
            return Decision::Deny(format!("tool `{tool}` is not allowed by any policy allow rule"));
        }
        Decision::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(roles: &[&str], env: &str) -> PolicyContext {
        PolicyContext {
            user_roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            environment: env.to_owned(),
            team_name: Some("platform".into()),
            ..PolicyContext::default()
        }
    }

    #[test]
    fn empty_policy_allows_everything() {
        assert!(Policy::allow_all().decide("a__b", "a", &ctx(&[], "production")).is_allowed());
        assert!(Policy::from_json(&serde_json::Value::Null).unwrap().is_empty());
    }

    #[test]
    fn deny_wins_and_allow_lists_restrict() {
        let policy = Policy::from_json(&json!({
            "allow": ["fs__*", {"tools": ["*"], "when": {"roles": ["admin"]}}],
            "deny": [{"sources": ["shell"], "when": {"environments": ["production"]}}, "fs__save_file"]
        }))
        .unwrap();
        let user = ctx(&["dev"], "production");
        let admin = ctx(&["admin"], "production");
        assert!(policy.decide("fs__read_file", "fs", &user).is_allowed());
        assert!(!policy.decide("testbed__echo", "testbed", &user).is_allowed());
        assert!(policy.decide("testbed__echo", "testbed", &admin).is_allowed());
        let Decision::Deny(reason) = policy.decide("shell__run_command", "shell", &admin) else { panic!() };
        assert!(reason.contains("deny[0]"), "{reason}");
        assert!(policy.decide("shell__run_command", "shell", &ctx(&["admin"], "staging")).is_allowed());
        assert!(!policy.decide("fs__save_file", "fs", &admin).is_allowed());
    }

    #[test]
    fn team_and_user_conditions() {
        let policy =
            Policy::from_json(&json!({"deny": [{"when": {"teams": ["platform"], "users": ["bob"]}}]})).unwrap();
        let mut c = ctx(&[], "production");
        assert!(policy.decide("x__y", "x", &c).is_allowed(), "user condition not met");
        c.user_id = Some("bob".into());
        assert!(!policy.decide("x__y", "x", &c).is_allowed());
    }

    #[test]
    fn bad_policies_are_explained() {
        let err = Policy::from_json(&json!({"deny": ["a[b"]})).unwrap_err();
        assert!(err.to_string().contains("deny[0]"), "{err}");
        let err = Policy::from_json(&json!({"alow": []})).unwrap_err();
        assert!(err.to_string().contains("alow"), "{err}");
    }
}
