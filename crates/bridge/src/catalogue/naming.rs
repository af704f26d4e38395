//! Catalogue names: `<source>__<tool>`, sanitised to `[A-Za-z0-9_-]`, at most 64 characters,
//! unique, with a reverse map that always recovers `(source, original_name)`.
//!
//! Rules:
//! - every character outside `[A-Za-z0-9_-]` becomes `_`;
//! - a name longer than 64 characters is cut and ends with `_` + 8 hex digits of the SHA-256
//!   of `source \0 tool` (stable across runs and machines);
//! - when two different `(source, tool)` pairs produce the same name, the pairs are sorted and
//!   the first keeps the plain name; every other one gets the hash suffix — so the result does
//!   not depend on the order in which tools were listed.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

/// The longest name providers accept.
pub const MAX_NAME_LEN: usize = 64;

/// The separator between source and tool.
pub const SEPARATOR: &str = "__";

fn sanitize_into(out: &mut String, text: &str) {
    out.extend(text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }));
}

fn hash_suffix(source: &str, tool: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(source.as_bytes());
    hasher.update([0]);
    hasher.update(tool.as_bytes());
    let digest = hasher.finalize();
    digest.iter().take(4).map(|b| format!("{b:02x}")).collect()
}

/// The catalogue name of a tool before de-duplication: `source__tool`, sanitised, shortened
/// with a hash suffix past 64 characters.
pub fn catalogue_name(source: &str, tool: &str) -> String {
    let mut name = String::with_capacity(source.len() + tool.len() + SEPARATOR.len());
    sanitize_into(&mut name, source);
    name.push_str(SEPARATOR);
    sanitize_into(&mut name, tool);
    if name.len() > MAX_NAME_LEN { with_suffix(&name, source, tool) } else { name }
}

/// `name` cut so that `_` + 8 hex digits fit in 64 characters.
fn with_suffix(name: &str, source: &str, tool: &str) -> String {
    let keep = MAX_NAME_LEN - 9;
    // Sanitised names are ASCII, so byte indices are char boundaries.
    let mut short = name[..name.len().min(keep)].to_owned();
    short.push('_');
    short.push_str(&hash_suffix(source, tool));
    short
}

/// The names of one catalogue, both ways.
#[derive(Debug, Clone, Default)]
pub struct NameMap {
    by_pair: HashMap<(String, String), String>,
    by_name: HashMap<String, (String, String)>,
}

impl NameMap {
    /// Names every `(source, tool)` pair (duplicates pairs are named once).
    pub fn build<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
        pairs.sort_unstable();
        pairs.dedup();
        let mut map =
            Self { by_pair: HashMap::with_capacity(pairs.len()), by_name: HashMap::with_capacity(pairs.len()) };
        for (source, tool) in pairs {
            let plain = catalogue_name(source, tool);
            let mut name = if map.by_name.contains_key(&plain) { with_suffix(&plain, source, tool) } else { plain };
            // A suffixed name can still collide (astronomically unlikely): extend the hash.
            let mut round = 0u32;
            while map.by_name.contains_key(&name) {
                round += 1;
                name = with_suffix(&name, source, &format!("{tool}\0{round}"));
            }
            map.by_name.insert(name.clone(), (source.to_owned(), tool.to_owned()));
            map.by_pair.insert((source.to_owned(), tool.to_owned()), name);
        }
        map
    }

    /// The catalogue name of a tool.
    pub fn name_of(&self, source: &str, tool: &str) -> Option<&str> {
        self.by_pair.get(&(source.to_owned(), tool.to_owned())).map(String::as_str)
    }

    /// The `(source, original_name)` behind a catalogue name.
    pub fn resolve(&self, name: &str) -> Option<(&str, &str)> {
        self.by_name.get(name).map(|(s, t)| (s.as_str(), t.as_str()))
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// Whether there are no names.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_names() {
        assert_eq!(catalogue_name("testbed", "echo"), "testbed__echo");
        assert_eq!(catalogue_name("my server", "get.thing/x"), "my_server__get_thing_x");
        assert_eq!(catalogue_name("é", "ü"), "____");
    }

    #[test]
    fn long_names_get_a_stable_hash_suffix() {
        let tool = "t".repeat(100);
        let name = catalogue_name("source", &tool);
        assert_eq!(name.len(), MAX_NAME_LEN);
        assert_eq!(name, catalogue_name("source", &tool));
        assert_ne!(name, catalogue_name("source", &"t".repeat(101)));
    }

    #[test]
    fn collisions_are_resolved_the_same_way_in_any_order() {
        let a = NameMap::build([("a.b", "x"), ("a_b", "x")]);
        let b = NameMap::build([("a_b", "x"), ("a.b", "x")]);
        assert_eq!(a.name_of("a.b", "x"), b.name_of("a.b", "x"));
        assert_eq!(a.name_of("a.b", "x"), Some("a_b__x"), "the first in sort order keeps the plain name");
        assert_ne!(a.name_of("a.b", "x"), a.name_of("a_b", "x"));
        assert_eq!(a.resolve(a.name_of("a.b", "x").unwrap()), Some(("a.b", "x")));
    }

    proptest! {
        #[test]
        fn round_trip(pairs in proptest::collection::vec((".{0,40}", ".{0,80}"), 1..30)) {
            let refs: Vec<(&str, &str)> = pairs.iter().map(|(s, t)| (s.as_str(), t.as_str())).collect();
            let map = NameMap::build(refs.iter().copied());
            let reversed = NameMap::build(refs.iter().rev().copied());
            let mut seen = std::collections::HashSet::new();
            for (source, tool) in &refs {
                let name = map.name_of(source, tool).unwrap();
                prop_assert!(!name.is_empty() && name.len() <= MAX_NAME_LEN);
                prop_assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
                prop_assert_eq!(map.resolve(name), Some((*source, *tool)));
                prop_assert_eq!(Some(name), reversed.name_of(source, tool));
                seen.insert(name.to_owned());
            }
            prop_assert_eq!(seen.len(), map.len());
        }
    }
}
