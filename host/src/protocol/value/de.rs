//! [`Node`] → an operation's input type, with the member path in every error and a list of
//! the members the type does not have.

use super::Node;
use serde::de::value::StringDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use std::fmt;

/// A decoded input and the paths of the members it ignored.
#[derive(Debug)]
pub struct Decoded<T> {
    pub value: T,
    /// `containerDefinitions[0].foo`: sent, but not a member of the input type.
    pub ignored: Vec<String>,
}

/// Reads `T` from `node`. The error names the member: `containerDefinitions[1].memory:
/// invalid type: string "x", expected u32`, or `Target.Arn: is required`.
pub fn from_node<T: DeserializeOwned>(node: Node) -> Result<Decoded<T>, String> {
    let mut ignored = Vec::new();
    let mut note = |path: serde_ignored::Path<'_>| ignored.push(ignored_path(&path));
    let de = serde_ignored::Deserializer::new(NodeDeserializer(node), &mut note);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(value) => Ok(Decoded { value, ignored }),
        Err(e) => Err(describe(&e.path().to_string(), &e.inner().0)),
    }
}

/// A serde error at `path` in this project's words: `<path>: <reason>`, and a missing
/// member as `<path>.<member>: is required`. (The ECS API's reader uses it too.)
pub fn describe(path: &str, inner: &str) -> String {
    let at = |member: &str| {
        if path == "." {
            member.to_owned()
        } else {
            format!("{path}.{member}")
        }
    };
    if let Some(field) = inner
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        return format!("{}: is required", at(field));
    }
    if path == "." {
        inner.to_owned()
    } else {
        format!("{path}: {inner}")
    }
}

fn ignored_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => {
            let p = ignored_path(parent);
            if p.is_empty() {
                key.clone()
            } else {
                format!("{p}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}

/// Why a tree does not fit a type (also the serializer's error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

impl serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// Reads one [`Node`].
pub(crate) struct NodeDeserializer(pub Node);

fn visit_int<'de, V: Visitor<'de>>(i: i128, visitor: V) -> Result<V::Value, Error> {
    if let Ok(v) = i64::try_from(i) {
        visitor.visit_i64(v)
    } else if let Ok(v) = u64::try_from(i) {
        visitor.visit_u64(v)
    } else {
        visitor.visit_i128(i)
    }
}

fn unexpected(node: &Node) -> Unexpected<'_> {
    match node {
        Node::Null => Unexpected::Unit,
        Node::Bool(b) => Unexpected::Bool(*b),
        Node::Int(i) => match i64::try_from(*i) {
            Ok(v) => Unexpected::Signed(v),
            Err(_) => Unexpected::Other("integer"),
        },
        Node::Float(f) => Unexpected::Float(*f),
        Node::Str(s) | Node::Text(s) => Unexpected::Str(s),
        Node::Bytes(b) => Unexpected::Bytes(b),
        Node::Time(_) => Unexpected::Other("timestamp"),
        Node::List(_) => Unexpected::Seq,
        Node::Struct(_) | Node::Map(_) | Node::Form(_) => Unexpected::Map,
    }
}

/// What a text value is parsed as.
#[derive(Clone, Copy)]
enum Want {
    Bool,
    Int,
    Float,
}

impl NodeDeserializer {
    /// A scalar: text is parsed into the wanted kind; anything else goes to the visitor as
    /// it is, so serde's own messages (`invalid type: string "x", expected u32`) apply.
    fn scalar<'de, V: Visitor<'de>>(self, want: Want, visitor: V) -> Result<V::Value, Error> {
        match (&self.0, want) {
            (Node::Text(s), Want::Bool) => match s.trim() {
                "true" => visitor.visit_bool(true),
                "false" => visitor.visit_bool(false),
                _ => Err(de::Error::invalid_type(Unexpected::Str(s), &visitor)),
            },
            (Node::Text(s), Want::Int) => match s.trim().parse::<i128>() {
                Ok(i) => visit_int(i, visitor),
                Err(_) => Err(de::Error::invalid_type(Unexpected::Str(s), &visitor)),
            },
            (Node::Text(s), Want::Float) => match s.trim().parse::<f64>() {
                Ok(f) => visitor.visit_f64(f),
                Err(_) => Err(de::Error::invalid_type(Unexpected::Str(s), &visitor)),
            },
            // AWS JSON sends the doubles JSON cannot hold as strings.
            (Node::Str(s), Want::Float) if super::special_float(parse_special(s)).is_some() => {
                visitor.visit_f64(parse_special(s))
            }
            _ => de::Deserializer::deserialize_any(self, visitor),
        }
    }
}

fn parse_special(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        "-Infinity" => f64::NEG_INFINITY,
        _ => 0.0,
    }
}

macro_rules! scalar_methods {
    ($($method:ident => $want:expr),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.scalar($want, visitor)
        })*
    };
}

impl<'de> de::Deserializer<'de> for NodeDeserializer {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Node::Null => visitor.visit_unit(),
            Node::Bool(b) => visitor.visit_bool(b),
            Node::Int(i) => visit_int(i, visitor),
            Node::Float(f) | Node::Time(f) => visitor.visit_f64(f),
            Node::Str(s) | Node::Text(s) => visitor.visit_string(s),
            Node::Bytes(b) => visitor.visit_byte_buf(b),
            Node::List(items) => visitor.visit_seq(Items(items.into_iter())),
            Node::Struct(m) | Node::Map(m) | Node::Form(m) => visitor.visit_map(Members::new(m)),
        }
    }

    scalar_methods! {
        deserialize_bool => Want::Bool,
        deserialize_i8 => Want::Int,
        deserialize_i16 => Want::Int,
        deserialize_i32 => Want::Int,
        deserialize_i64 => Want::Int,
        deserialize_i128 => Want::Int,
        deserialize_u8 => Want::Int,
        deserialize_u16 => Want::Int,
        deserialize_u32 => Want::Int,
        deserialize_u64 => Want::Int,
        deserialize_u128 => Want::Int,
        deserialize_f32 => Want::Float,
        deserialize_f64 => Want::Float,
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Node::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.0 {
            Node::Null => visitor.visit_unit(),
            Node::Struct(m) | Node::Map(m) | Node::Form(m) if m.is_empty() => visitor.visit_unit(),
            Node::Text(s) if s.is_empty() => visitor.visit_unit(),
            other => Err(de::Error::invalid_type(unexpected(other), &visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Node::List(items) => visitor.visit_seq(Items(items.into_iter())),
            Node::Form(children) => visitor.visit_seq(Items(form_items(children)?.into_iter())),
            // awsQuery sends an empty list as `Name=`; a REST query string repeats a key
            // for each item, and a key given once is a list of one.
            Node::Text(s) if s.is_empty() => visitor.visit_seq(Items(Vec::new().into_iter())),
            Node::Text(s) => visitor.visit_seq(Items(vec![Node::Text(s)].into_iter())),
            other => NodeDeserializer(other).deserialize_any(visitor),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Node::Struct(m) | Node::Map(m) => visitor.visit_map(Members::new(m)),
            Node::Form(children) => visitor.visit_map(Members::new(form_entries(children)?)),
            Node::Text(s) if s.is_empty() => visitor.visit_map(Members::new(Vec::new())),
            other => NodeDeserializer(other).deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Node::Struct(m) | Node::Map(m) | Node::Form(m) => visitor.visit_map(Members::new(m)),
            // serde's derived struct visitors also take a sequence (fields by position): no
            // AWS protocol sends a structure that way, so a list where one is due is refused.
            other => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Node::Str(s) | Node::Text(s) => {
                let d: StringDeserializer<Error> = s.into_deserializer();
                visitor.visit_enum(d)
            }
            // A union: exactly one member set.
            Node::Struct(m) | Node::Map(m) | Node::Form(m) => {
                let mut set: Vec<(String, Node)> =
                    m.into_iter().filter(|(_, v)| *v != Node::Null).collect();
                if set.len() != 1 {
                    return Err(Error(format!(
                        "expected exactly one member of the union to be set, found {}",
                        set.len()
                    )));
                }
                let (name, value) = set.remove(0);
                visitor.visit_enum(Variant { name, value })
            }
            other => Err(de::Error::invalid_type(unexpected(&other), &visitor)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

/// The items of an awsQuery list: `Name.member.N` (any wrapper name: models may rename
/// `member`) or, for flattened lists, `Name.N`; in index order.
fn form_items(children: Vec<(String, Node)>) -> Result<Vec<Node>, Error> {
    fn numbered(c: &[(String, Node)]) -> bool {
        !c.is_empty() && c.iter().all(|(k, _)| k.parse::<u32>().is_ok())
    }
    let mut items = if numbered(&children) {
        children
    } else {
        match <[_; 1]>::try_from(children) {
            Ok([(_, Node::Form(inner))]) if numbered(&inner) => inner,
            Ok([(wrapper, _)]) => {
                return Err(Error(format!(
                    "expected a list (`{wrapper}.N` with N a number from 1)"
                )));
            }
            Err(children) => {
                let names: Vec<&str> = children.iter().map(|(k, _)| k.as_str()).collect();
                return Err(Error(format!(
                    "expected a list (`member.N`), found the members {}",
                    names.join(", ")
                )));
            }
        }
    };
    items.sort_by_key(|(k, _)| k.parse::<u32>().unwrap_or(u32::MAX));
    Ok(items.into_iter().map(|(_, v)| v).collect())
}

/// The entries of an awsQuery map: `Name.entry.N.key` / `.value` (models may rename all
/// three: `Attribute.N.Name` / `.Value` when flattened).
fn form_entries(children: Vec<(String, Node)>) -> Result<Vec<(String, Node)>, Error> {
    let mut out = Vec::new();
    for (i, entry) in form_items(children)?.into_iter().enumerate() {
        let n = i + 1;
        let Node::Form(parts) = entry else {
            return Err(Error(format!("map entry {n}: expected a key and a value")));
        };
        let (mut key, mut value) = (None, None);
        for (name, node) in parts {
            if name.eq_ignore_ascii_case("key") || name.eq_ignore_ascii_case("name") {
                key = Some(node);
            } else if name.eq_ignore_ascii_case("value") {
                value = Some(node);
            } else {
                return Err(Error(format!(
                    "map entry {n}: unexpected member `{name}` (expected key and value)"
                )));
            }
        }
        let Some(Node::Text(key)) = key else {
            return Err(Error(format!("map entry {n}: the key is missing")));
        };
        let value =
            value.ok_or_else(|| Error(format!("map entry {n} ({key}): the value is missing")))?;
        out.push((key, value));
    }
    Ok(out)
}

struct Items(std::vec::IntoIter<Node>);

impl<'de> SeqAccess<'de> for Items {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.0.next() {
            Some(node) => seed.deserialize(NodeDeserializer(node)).map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// Members of an object; `Null` ones are absent (botocore never sends them, AWS ignores
/// them).
struct Members {
    iter: std::vec::IntoIter<(String, Node)>,
    value: Option<Node>,
}

impl Members {
    fn new(members: Vec<(String, Node)>) -> Self {
        Self {
            iter: members.into_iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Members {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        for (key, value) in self.iter.by_ref() {
            if value == Node::Null {
                continue;
            }
            self.value = Some(value);
            // Keys as text: a map keyed by numbers or enums reads them too.
            return seed
                .deserialize(NodeDeserializer(Node::Text(key)))
                .map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self.value.take().unwrap_or(Node::Null);
        seed.deserialize(NodeDeserializer(value))
    }
}

struct Variant {
    name: String,
    value: Node,
}

impl<'de> EnumAccess<'de> for Variant {
    type Error = Error;
    type Variant = NodeDeserializer;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, NodeDeserializer), Error> {
        let variant = seed.deserialize(NodeDeserializer(Node::Text(self.name)))?;
        Ok((variant, NodeDeserializer(self.value)))
    }
}

impl<'de> VariantAccess<'de> for NodeDeserializer {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(self, "", &[], visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::value::{Blob, Timestamp};
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Container {
        name: String,
        memory: Option<u32>,
        #[serde(default)]
        essential: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Register {
        family: String,
        #[serde(default)]
        container_definitions: Vec<Container>,
        #[serde(default)]
        labels: BTreeMap<String, String>,
        cpu: Option<f64>,
        when: Option<Timestamp>,
        data: Option<Blob>,
        mode: Option<Mode>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Mode {
        #[serde(rename = "awsvpc")]
        AwsVpc,
        #[serde(rename = "host")]
        Host,
    }

    fn s(v: &str) -> Node {
        Node::Str(v.into())
    }

    fn t(v: &str) -> Node {
        Node::Text(v.into())
    }

    fn obj(m: &[(&str, Node)]) -> Node {
        Node::Struct(m.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    fn form(m: &[(&str, Node)]) -> Node {
        Node::Form(m.iter().map(|(k, v)| (k.to_string(), v.clone())).collect())
    }

    #[test]
    fn typed_body_reads_nested_members() {
        let node = obj(&[
            ("family", s("web")),
            (
                "containerDefinitions",
                Node::List(vec![
                    obj(&[
                        ("name", s("a")),
                        ("memory", Node::Int(128)),
                        ("essential", Node::Bool(true)),
                    ]),
                    obj(&[("name", s("b")), ("memory", Node::Null), ("extra", s("x"))]),
                ]),
            ),
            ("labels", obj(&[("k", s("v"))])),
            ("cpu", Node::Int(2)),
            ("when", Node::Time(1_714_564_800.0)),
            ("data", s("aGk=")),
            ("mode", s("awsvpc")),
            ("unknownTop", Node::Int(1)),
        ]);
        let d = from_node::<Register>(node).unwrap();
        assert_eq!(d.value.container_definitions.len(), 2);
        assert_eq!(d.value.container_definitions[0].memory, Some(128));
        assert_eq!(
            d.value.container_definitions[1].memory, None,
            "null is absent"
        );
        assert_eq!(d.value.labels["k"], "v");
        assert_eq!(d.value.cpu, Some(2.0));
        assert_eq!(d.value.when.unwrap().to_iso8601(), "2024-05-01T12:00:00Z");
        assert_eq!(d.value.data.unwrap().0, b"hi");
        assert_eq!(d.value.mode, Some(Mode::AwsVpc));
        assert_eq!(
            d.ignored,
            vec!["containerDefinitions[1].extra", "unknownTop"]
        );
    }

    #[test]
    fn errors_name_the_member() {
        let node = obj(&[
            ("family", s("web")),
            (
                "containerDefinitions",
                Node::List(vec![
                    obj(&[("name", s("a"))]),
                    obj(&[("name", s("b")), ("memory", s("x"))]),
                ]),
            ),
        ]);
        let e = from_node::<Register>(node).unwrap_err();
        assert_eq!(
            e,
            r#"containerDefinitions[1].memory: invalid type: string "x", expected u32"#
        );

        let node = obj(&[
            ("family", s("web")),
            ("containerDefinitions", Node::List(vec![obj(&[])])),
        ]);
        let e = from_node::<Register>(node).unwrap_err();
        assert_eq!(e, "containerDefinitions[0].name: is required");
        assert_eq!(
            from_node::<Register>(obj(&[])).unwrap_err(),
            "family: is required"
        );

        let node = obj(&[("family", s("web")), ("mode", s("bridge"))]);
        let e = from_node::<Register>(node).unwrap_err();
        assert!(e.starts_with("mode: unknown variant `bridge`"), "{e}");

        let node = obj(&[
            ("family", s("web")),
            (
                "containerDefinitions",
                Node::List(vec![obj(&[("name", s("a")), ("memory", Node::Int(-1))])]),
            ),
        ]);
        let e = from_node::<Register>(node).unwrap_err();
        assert_eq!(
            e,
            "containerDefinitions[0].memory: invalid value: integer `-1`, expected u32"
        );

        let e = from_node::<Register>(obj(&[("family", s("w")), ("when", s("soon"))])).unwrap_err();
        assert!(e.starts_with("when: invalid value: string \"soon\""), "{e}");
        let e = from_node::<Register>(s("x")).unwrap_err();
        assert_eq!(e, r#"invalid type: string "x", expected struct Register"#);

        // A list where a structure is due is refused, with the member's path, though
        // serde's derived structs would read it as fields by position.
        let node = obj(&[
            ("family", s("web")),
            (
                "containerDefinitions",
                Node::List(vec![Node::List(vec![
                    s("a"),
                    Node::Int(128),
                    Node::Bool(true),
                ])]),
            ),
        ]);
        let e = from_node::<Register>(node).unwrap_err();
        assert_eq!(
            e,
            "containerDefinitions[0]: invalid type: sequence, expected struct Container"
        );
        let e = from_node::<Register>(Node::List(vec![s("web")])).unwrap_err();
        assert_eq!(e, "invalid type: sequence, expected struct Register");
    }

    #[test]
    fn form_trees_read_lists_maps_and_text_scalars() {
        // Family=web&ContainerDefinitions.member.2.name=b&…member.1…&Labels.entry.1.key=k…
        let node = form(&[
            ("family", t("web")),
            (
                "containerDefinitions",
                form(&[(
                    "member",
                    form(&[
                        ("2", form(&[("name", t("b")), ("memory", t("512"))])),
                        ("1", form(&[("name", t("a")), ("essential", t("true"))])),
                    ]),
                )]),
            ),
            (
                "labels",
                form(&[(
                    "entry",
                    form(&[("1", form(&[("key", t("k")), ("value", t("v"))]))]),
                )]),
            ),
            ("cpu", t("0.5")),
            ("when", t("2024-05-01T12:00:00Z")),
        ]);
        let d = from_node::<Register>(node).unwrap();
        let names: Vec<&str> = d
            .value
            .container_definitions
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["a", "b"], "items in index order");
        assert_eq!(d.value.container_definitions[1].memory, Some(512));
        assert!(d.value.container_definitions[0].essential);
        assert_eq!(d.value.labels["k"], "v");
        assert_eq!(d.value.cpu, Some(0.5));
        assert!(d.value.when.is_some());
        assert!(d.ignored.is_empty(), "{:?}", d.ignored);

        // An empty list is `Name=`.
        let d = from_node::<Register>(form(&[("family", t("w")), ("containerDefinitions", t(""))]))
            .unwrap();
        assert!(d.value.container_definitions.is_empty());

        let bad = form(&[
            ("family", t("w")),
            (
                "containerDefinitions",
                form(&[("member", form(&[("x", t("1"))]))]),
            ),
        ]);
        let e = from_node::<Register>(bad).unwrap_err();
        assert!(
            e.starts_with("containerDefinitions: expected a list"),
            "{e}"
        );
        let bad = form(&[("family", t("w")), ("cpu", t("lots"))]);
        assert_eq!(
            from_node::<Register>(bad).unwrap_err(),
            r#"cpu: invalid type: string "lots", expected f64"#
        );
        let bad = form(&[
            ("family", t("w")),
            (
                "labels",
                form(&[("entry", form(&[("1", form(&[("key", t("k"))]))]))]),
            ),
        ]);
        let e = from_node::<Register>(bad).unwrap_err();
        assert!(e.contains("the value is missing"), "{e}");
    }

    #[test]
    fn unions_and_units() {
        #[derive(Debug, Deserialize, PartialEq)]
        enum Value {
            S(String),
            N(i64),
        }
        assert_eq!(
            from_node::<Value>(obj(&[("N", Node::Int(3))]))
                .unwrap()
                .value,
            Value::N(3)
        );
        let e = from_node::<Value>(obj(&[("N", Node::Int(3)), ("S", s("x"))])).unwrap_err();
        assert!(e.contains("exactly one member"), "{e}");
        from_node::<()>(obj(&[])).unwrap();
        assert!(from_node::<()>(obj(&[("a", Node::Int(1))])).is_err());
    }
}
