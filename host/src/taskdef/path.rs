//! JSON member paths as users read them (`containerDefinitions[1].memory`), built from
//! the paths `serde_path_to_error` and `serde_ignored` track while deserializing.

use serde_json::Value;

/// The member of the `describe-task-definition` form that holds the definition; paths
/// are reported relative to it, like every other path we report.
pub(super) const WRAPPER_KEY: &str = "taskDefinition";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Segment {
    Key(String),
    Index(usize),
}

pub(super) type Path = Vec<Segment>;

pub(super) fn from_error_path(path: &serde_path_to_error::Path) -> Path {
    use serde_path_to_error::Segment as S;
    path.iter()
        .map(|segment| match segment {
            S::Seq { index } => Segment::Index(*index),
            S::Map { key } | S::Enum { variant: key } => Segment::Key(key.clone()),
            S::Unknown => Segment::Key("?".to_owned()),
        })
        .collect()
}

pub(super) fn from_ignored_path(path: &serde_ignored::Path<'_>) -> Path {
    use serde_ignored::Path as P;
    let mut segments = match path {
        P::Root => return Vec::new(),
        P::Seq { parent, .. }
        | P::Map { parent, .. }
        | P::Some { parent }
        | P::NewtypeStruct { parent }
        | P::NewtypeVariant { parent } => from_ignored_path(parent),
    };
    match path {
        P::Seq { index, .. } => segments.push(Segment::Index(*index)),
        P::Map { key, .. } => segments.push(Segment::Key(key.clone())),
        _ => {}
    }
    segments
}

/// `containerDefinitions[0].environment`, without a leading `taskDefinition`.
pub(super) fn render(path: &[Segment]) -> String {
    let path = match path.first() {
        Some(Segment::Key(key)) if key == WRAPPER_KEY => &path[1..],
        _ => path,
    };
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    out
}

/// The path with every index left out (`containerDefinitions[].environment`): the key
/// of a struct in the schema, whichever element of a list it is.
pub(super) fn pattern(path: &[Segment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Key(key) => out = child(&out, key),
            Segment::Index(_) => out = item(&out),
        }
    }
    out
}

/// Pattern of member `key` of the object at `parent`.
pub(super) fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Pattern of the elements of the list at `parent`.
pub(super) fn item(parent: &str) -> String {
    format!("{parent}[]")
}

/// The value at `path` in `tree`.
pub(super) fn lookup<'v>(tree: &'v Value, path: &[Segment]) -> Option<&'v Value> {
    path.iter().try_fold(tree, |value, segment| match segment {
        Segment::Key(key) => value.get(key),
        Segment::Index(index) => value.get(index),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(k: &str) -> Segment {
        Segment::Key(k.to_owned())
    }

    #[test]
    fn renders_like_ecs_and_drops_the_wrapper() {
        let path = [
            key("containerDefinitions"),
            Segment::Index(1),
            key("portMappings"),
            Segment::Index(0),
            key("hostPort"),
        ];
        assert_eq!(
            render(&path),
            "containerDefinitions[1].portMappings[0].hostPort"
        );
        assert_eq!(
            pattern(&path),
            "containerDefinitions[].portMappings[].hostPort"
        );
        let wrapped = [key(WRAPPER_KEY), key("family")];
        assert_eq!(render(&wrapped), "family");
        assert_eq!(pattern(&wrapped), "taskDefinition.family");
        assert_eq!(render(&[]), "");
    }

    #[test]
    fn looks_values_up() {
        let tree = json!({"a": [{"b": 1}]});
        assert_eq!(
            lookup(&tree, &[key("a"), Segment::Index(0), key("b")]),
            Some(&json!(1))
        );
        assert_eq!(lookup(&tree, &[key("a"), Segment::Index(3)]), None);
    }
}
