//! Tool policy: allow/deny rules on catalogue names and sources, with conditions on who runs
//! the execution (`user_roles`, `team_id`/`team_name`, `environment`, user).
//!
//! A denied tool is left out of the tools given to the model AND refused if called anyway
//! (recorded as `policy_denied`; the tool never runs). The seed's platform only logs
//! violations; we block.
//!
//! Rules ([`PolicyConfig`], typed in `toolbridge-config`):
//! - a rule is a glob on tool names (`"fs__*"`), or an object
//!   `{tools: [glob], sources: [glob], when: {roles, teams, environments, users}}`; a rule with
//!   neither `tools` nor `sources` covers every tool; every `when` list that is given must
//!   match (roles: any of the user's roles; teams: the team id or name; users: the user id or
//!   email);
//! - a tool glob is matched against the tool's catalogue name *and* its identity,
//!   `source__original_name` as the source names it: catalogue names are sanitised and may be
//!   shortened or suffixed on collision, so a rule written for a tool keeps applying to it
//!   whatever name the catalogue gives it;
//! - a matching `deny` rule always wins;
//! - when there are `allow` rules, a tool must match one of them;
//! - no rules: everything is allowed.
//!
//! ```json
//! {"allow": ["fs__*", {"tools": ["*"], "when": {"roles": ["admin"]}}],
//!  "deny": [{"sources": ["shell"], "when": {"environments": ["production"]}}]}
//! ```

use globset::{Glob, GlobMatcher};
use toolbridge_config::{Conditions, PolicyConfig, PolicyRule};
use toolbridge_runtime::RuntimeExecutionContext;

/// Who runs an execution: the enforcement fields of the execution context.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl Default for PolicyContext {
    /// Nobody in particular, in `production`.
    fn default() -> Self {
        Self {
            user_id: None,
            user_email: None,
            user_roles: Vec::new(),
            team_id: None,
            team_name: None,
            environment: "production".to_owned(),
        }
    }
}

impl PolicyContext {
    /// The enforcement fields of an execution context.
    pub fn of(context: &RuntimeExecutionContext) -> Self {
        Self {
            user_id: context.user_id.clone(),
            user_email: context.user_email.clone(),
            user_roles: context.user_roles.clone(),
            team_id: context.team_id.clone(),
            team_name: context.team_name.clone(),
            environment: context.environment.clone(),
        }
    }
}

/// An invalid policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
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

    fn applies(&self, tool: &Identity<'_>, ctx: &PolicyContext) -> bool {
        let tool_ok =
            self.tools.is_empty() || self.tools.iter().any(|g| g.is_match(tool.name) || g.is_match(&tool.identity));
        let source = tool.source;
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

    /// Whether the policy has no rules at all.
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// Judges one tool — by catalogue name, source name and its name within the source — for
    /// the given context.
    pub fn decide(&self, name: &str, source: &str, original: &str, ctx: &PolicyContext) -> Decision {
        let tool =
            Identity { name, source, identity: format!("{source}{}{original}", crate::catalogue::naming::SEPARATOR) };
        if let Some(rule) = self.deny.iter().find(|r| r.applies(&tool, ctx)) {
            return Decision::Deny(format!("tool `{name}` is denied by policy ({})", rule.label));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|r| r.applies(&tool, ctx)) {
            return Decision::Deny(format!("tool `{name}` is not allowed by any policy allow rule"));
        }
        Decision::Allow
    }
}

/// A tool as rules see it.
struct Identity<'a> {
    name: &'a str,
    source: &'a str,
    /// `source__original_name`, unsanitised.
    identity: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from_json(value: serde_json::Value) -> Result<Policy, String> {
        let config = toolbridge_config::parse_policy(value, "policy.json").map_err(|e| e.to_string())?;
        Policy::compile(&config).map_err(|e| e.to_string())
    }

    /// Catalogue names of the form `source__tool`, as most are.
    fn decide(policy: &Policy, name: &str, source: &str, ctx: &PolicyContext) -> Decision {
        let original = name.split_once("__").map_or(name, |(_, tool)| tool);
        policy.decide(name, source, original, ctx)
    }

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
        assert!(decide(&Policy::allow_all(), "a__b", "a", &ctx(&[], "production")).is_allowed());
        assert!(from_json(json!({})).unwrap().is_empty());
    }

    #[test]
    fn deny_wins_and_allow_lists_restrict() {
        let policy = from_json(json!({
            "allow": ["fs__*", {"tools": ["*"], "when": {"roles": ["admin"]}}],
            "deny": [{"sources": ["shell"], "when": {"environments": ["production"]}}, "fs__save_file"]
        }))
        .unwrap();
        let user = ctx(&["dev"], "production");
        let admin = ctx(&["admin"], "production");
        assert!(decide(&policy, "fs__read_file", "fs", &user).is_allowed());
        assert!(!decide(&policy, "testbed__echo", "testbed", &user).is_allowed());
        assert!(decide(&policy, "testbed__echo", "testbed", &admin).is_allowed());
        let Decision::Deny(reason) = decide(&policy, "shell__run_command", "shell", &admin) else { panic!() };
        assert!(reason.contains("deny[0]"), "{reason}");
        assert!(decide(&policy, "shell__run_command", "shell", &ctx(&["admin"], "staging")).is_allowed());
        assert!(!decide(&policy, "fs__save_file", "fs", &admin).is_allowed());
    }

    #[test]
    fn team_and_user_conditions() {
        let policy = from_json(json!({"deny": [{"when": {"teams": ["platform"], "users": ["bob"]}}]})).unwrap();
        let mut c = ctx(&[], "production");
        assert!(decide(&policy, "x__y", "x", &c).is_allowed(), "user condition not met");
        c.user_id = Some("bob".into());
        assert!(!decide(&policy, "x__y", "x", &c).is_allowed());
    }

    #[test]
    fn bad_policies_are_explained() {
        let err = from_json(json!({"deny": ["a[b"]})).unwrap_err();
        assert!(err.contains("deny[0]"), "{err}");
        let err = from_json(json!({"alow": []})).unwrap_err();
        assert!(err.contains("alow"), "{err}");
    }

    /// A rule written for a tool follows the tool, not the name the catalogue gave it: with a
    /// server listing `delete.all` and `delete_all`, both sanitise to `srv__delete_all`; the
    /// first in sorted order keeps it and `delete_all` becomes `srv__delete_all_4ce12876`.
    #[test]
    fn rules_follow_the_tool_identity() {
        let c = ctx(&[], "production");
        let dot = ("srv__delete_all", "delete.all");
        let underscore = ("srv__delete_all_4ce12876", "delete_all");
        let policy = from_json(json!({"deny": ["srv__delete_all"]})).unwrap();
        assert!(!policy.decide(underscore.0, "srv", underscore.1, &c).is_allowed(), "the real delete_all is denied");
        assert!(!policy.decide(dot.0, "srv", dot.1, &c).is_allowed(), "the name is shared: fail closed");
        let policy = from_json(json!({"deny": ["srv__delete.all"]})).unwrap();
        assert!(!policy.decide(dot.0, "srv", dot.1, &c).is_allowed());
        assert!(policy.decide(underscore.0, "srv", underscore.1, &c).is_allowed());
    }
}
