//! The environment a child process gets.
//!
//! Secrets such as `OPENAI_API_KEY` live in the bridge's own environment; a tool or MCP
//! server must not see them unless its configuration names them. So a child starts from a
//! short allow-list of variables that programs need to behave normally, plus what is
//! configured. This applies to unsandboxed spawns too, which is why it is a free function.

use std::ffi::OsString;

/// Variables passed from the parent's environment to every child unless `inherit` is set.
pub const ENV_ALLOW_LIST: &[&str] =
    &["HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER", "LANG", "LC_ALL", "TZ", "TMPDIR"];

/// The environment for a child process: the parent's allow-listed variables
/// ([`ENV_ALLOW_LIST`]), or all of them when `inherit` is true, then `configured` on top
/// (a configured variable overrides an inherited one of the same name).
///
/// The result is meant for `Command::env_clear().envs(..)`.
pub fn child_env(configured: &[(String, String)], inherit: bool) -> Vec<(OsString, OsString)> {
    child_env_from(std::env::vars_os(), configured, inherit)
}

/// [`child_env`] over an explicit parent environment (testable without touching the
/// process environment).
pub(crate) fn child_env_from(
    parent: impl IntoIterator<Item = (OsString, OsString)>,
    configured: &[(String, String)],
    inherit: bool,
) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = parent
        .into_iter()
        .filter(|(key, _)| inherit || ENV_ALLOW_LIST.iter().any(|allowed| key == allowed))
        .filter(|(key, _)| !configured.iter().any(|(name, _)| key == name.as_str()))
        .collect();
    env.extend(configured.iter().map(|(key, value)| (OsString::from(key), OsString::from(value))));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> Vec<(OsString, OsString)> {
        [("PATH", "/usr/bin"), ("OPENAI_API_KEY", "sk-secret"), ("HOME", "/root")]
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect()
    }

    #[test]
    fn secrets_are_dropped_unless_configured() {
        let env = child_env_from(parent(), &[], false);
        assert!(env.iter().all(|(k, _)| k != "OPENAI_API_KEY"));
        assert!(env.iter().any(|(k, v)| k == "PATH" && v == "/usr/bin"));

        let configured = [("OPENAI_API_KEY".to_owned(), "sk-given".to_owned())];
        let env = child_env_from(parent(), &configured, false);
        let keys: Vec<_> = env.iter().filter(|(k, _)| k == "OPENAI_API_KEY").collect();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].1, "sk-given");
    }

    #[test]
    fn inherit_keeps_everything_and_configured_wins() {
        let configured = [("HOME".to_owned(), "/work".to_owned())];
        let env = child_env_from(parent(), &configured, true);
        assert!(env.iter().any(|(k, _)| k == "OPENAI_API_KEY"));
        let homes: Vec<_> = env.iter().filter(|(k, _)| k == "HOME").collect();
        assert_eq!(homes, vec![&("HOME".into(), "/work".into())]);
    }
}
