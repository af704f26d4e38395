//! Leaf value types of the configuration, each with the error message a user needs when it
//! is written wrong (`expected a list of strings`, `expected a positive number of seconds`).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A string that may be written as a number or a boolean (`"PORT": 8080`, `"DEBUG": true`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ScalarString(pub String);

impl From<&str> for ScalarString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ScalarString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `{name: string}` (`env`, `headers`): an object of strings.
pub(crate) fn string_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, ScalarString>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = BTreeMap<String, ScalarString>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of strings")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((key, value)) = map.next_entry::<String, ScalarString>()? {
                out.insert(key, value);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(V)
}

macro_rules! string_list {
    ($name:ident, $what:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub Vec<String>);

        impl $name {
            /// Whether the list is empty.
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl Deref for $name {
            type Target = [String];
            fn deref(&self) -> &[String] {
                &self.0
            }
        }

        impl<S: Into<String>> FromIterator<S> for $name {
            fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
                Self(iter.into_iter().map(Into::into).collect())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<$name, E> {
                        Ok($name::default())
                    }
                    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$name, A::Error> {
                        let mut items = Vec::new();
                        while let Some(item) = seq.next_element::<String>()? {
                            items.push(item);
                        }
                        Ok($name(items))
                    }
                }
                deserializer.deserialize_any(V)
            }
        }
    };
}

string_list!(StringList, "a list of strings", "A list of strings (`args`).");
string_list!(GlobList, "a list of globs", "A list of glob patterns (`tools.allow`).");

/// A positive number of seconds (`timeout: 30`, `startup_timeout: 1.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seconds(pub Duration);

impl Serialize for Seconds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let secs = self.0.as_secs_f64();
        if secs.fract() == 0.0 { serializer.serialize_u64(self.0.as_secs()) } else { serializer.serialize_f64(secs) }
    }
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds")
            }
            fn visit_f64<E: de::Error>(self, secs: f64) -> Result<Seconds, E> {
                if secs.is_finite() && secs > 0.0 && secs < 1e9 {
                    Ok(Seconds(Duration::from_secs_f64(secs)))
                } else {
                    Err(E::custom(format!("expected a positive number of seconds, got {secs}")))
                }
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_i64<E: de::Error>(self, secs: i64) -> Result<Seconds, E> {
                self.visit_f64(secs as f64)
            }
            #[allow(clippy::cast_precision_loss)]
            fn visit_u64<E: de::Error>(self, secs: u64) -> Result<Seconds, E> {
                self.visit_f64(secs as f64)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// `true` or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(v))
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// Gives a struct derived with `#[serde(remote = "Self")]` a `Deserialize` that accepts only
/// objects (serde's derive also takes arrays, positionally, which turns `tools: ["a"]` into a
/// confusing error about `allow`) and a plain `Serialize`; paths into the object are kept.
macro_rules! object_only {
    ($type:ty, $expecting:literal) => {
        impl serde::Serialize for $type {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                <$type>::serialize(self, serializer)
            }
        }

        impl<'de> serde::Deserialize<'de> for $type {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $type;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<$type, A::Error> {
                        <$type>::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                deserializer.deserialize_map(V)
            }
        }
    };
}
pub(crate) use object_only;

/// Which of a server's tools may be run again when the worker running a call is lost (durable
/// executions): `true` (all), `false` (none, the default) or a list of globs on the server's own
/// tool names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Idempotent {
    /// No tool: a call is never run twice.
    #[default]
    None,
    /// Every tool.
    All,
    /// The tools whose names match one of these globs.
    Tools(GlobList),
}

impl Idempotent {
    /// Whether no tool is marked.
    pub fn is_none(&self) -> bool {
        match self {
            Self::None => true,
            Self::All => false,
            Self::Tools(globs) => globs.is_empty(),
        }
    }
}

impl Serialize for Idempotent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::None => serializer.serialize_bool(false),
            Self::All => serializer.serialize_bool(true),
            Self::Tools(globs) => globs.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Idempotent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Idempotent;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false or a list of tool-name globs")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Idempotent, E> {
                Ok(if v { Idempotent::All } else { Idempotent::None })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Idempotent, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(item);
                }
                Ok(Idempotent::Tools(GlobList(items)))
            }
        }
        deserializer.deserialize_any(V)
    }
}
