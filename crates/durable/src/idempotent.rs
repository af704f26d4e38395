//! Which tools may be run again after their worker was lost: the `idempotent` key of each MCP
//! server's configuration (`true`, `false`, or globs on the server's own tool names). Skills and
//! custom tools are never retried.

use std::collections::BTreeMap;

use globset::{Glob, GlobSet, GlobSetBuilder};
use toolbridge::config::{Idempotent, ServerConfig};
use toolbridge_runtime::ToolSourceKind;

use crate::error::DurableError;

/// The compiled `idempotent` settings of an execution's servers.
#[derive(Debug, Default)]
pub struct IdempotentTools {
    servers: BTreeMap<String, Matcher>,
}

#[derive(Debug)]
enum Matcher {
    All,
    Some(GlobSet),
}

impl IdempotentTools {
    /// Compiles the servers' settings; a glob that does not compile is an error naming the
    /// server and the glob.
    pub fn new(servers: &[ServerConfig]) -> Result<Self, DurableError> {
        let mut compiled = BTreeMap::new();
        for server in servers {
            let matcher = match &server.idempotent {
                Idempotent::None => continue,
                Idempotent::All => Matcher::All,
                Idempotent::Tools(globs) => {
                    let mut builder = GlobSetBuilder::new();
                    for glob in globs.iter() {
                        builder.add(Glob::new(glob).map_err(|error| {
                            DurableError::Config(format!("server {:?}: idempotent glob {glob:?}: {error}", server.name))
                        })?);
                    }
                    let set = builder.build().map_err(|error| {
                        DurableError::Config(format!("server {:?}: idempotent globs: {error}", server.name))
                    })?;
                    Matcher::Some(set)
                }
            };
            compiled.insert(server.name.clone(), matcher);
        }
        Ok(Self { servers: compiled })
    }

    /// Whether a tool (by source and its own name) is marked idempotent.
    pub fn covers(&self, source: ToolSourceKind, server: &str, tool: &str) -> bool {
        if source != ToolSourceKind::Mcp {
            return false;
        }
        match self.servers.get(server) {
            Some(Matcher::All) => true,
            Some(Matcher::Some(set)) => set.is_match(tool),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolbridge::config::GlobList;

    fn server(name: &str, idempotent: Idempotent) -> ServerConfig {
        let mut server = ServerConfig::stdio(name, "x", &[]);
        server.idempotent = idempotent;
        server
    }

    #[test]
    fn flags_and_globs() {
        let tools = IdempotentTools::new(&[
            server("all", Idempotent::All),
            server("some", Idempotent::Tools(GlobList(vec!["get_*".into(), "list".into()]))),
            server("none", Idempotent::None),
        ])
        .unwrap();
        assert!(tools.covers(ToolSourceKind::Mcp, "all", "anything"));
        assert!(tools.covers(ToolSourceKind::Mcp, "some", "get_file"));
        assert!(tools.covers(ToolSourceKind::Mcp, "some", "list"));
        assert!(!tools.covers(ToolSourceKind::Mcp, "some", "put_file"));
        assert!(!tools.covers(ToolSourceKind::Mcp, "none", "get_file"));
        assert!(!tools.covers(ToolSourceKind::Skill, "all", "x"), "skills are never retried");
        assert!(!tools.covers(ToolSourceKind::Mcp, "unknown", "x"));
    }

    #[test]
    fn a_bad_glob_names_the_server() {
        let error = IdempotentTools::new(&[server("s", Idempotent::Tools(GlobList(vec!["a[".into()])))]).unwrap_err();
        assert!(error.to_string().contains("\"s\"") && error.to_string().contains("a["), "{error}");
    }
}
