//! The members serde skipped while reading a definition, sorted by what the model says
//! they are: output-only members pass silently, real ECS members wasmgate does not
//! honour yet are warnings when set, and anything else is a misspelling or a member from
//! a newer ECS: an error naming the closest real member, or a warning when the user
//! allowed unknown fields.

use serde_json::Value;

use super::error::FieldError;
use super::path::{self, Path, Segment};
use super::schema::{Marker, Schema};

#[derive(Debug, Default)]
pub(super) struct Sorted {
    pub warnings: Vec<String>,
    pub unknown: Vec<FieldError>,
}

/// `skipped` are the paths `serde_ignored` reported for a read of `tree`.
pub(super) fn sort(skipped: &[Path], tree: &Value, schema: &Schema, allow_unknown: bool) -> Sorted {
    let mut sorted = Sorted::default();
    for member in skipped {
        let shown = path::render(member);
        match schema.marker(&path::pattern(member)) {
            Some(Marker::OutputOnly) => {}
            Some(Marker::Unsupported) => {
                // Describe output lists unset members as `[]`, `{}` or `false`.
                if path::lookup(tree, member).is_some_and(|value| !is_empty(value)) {
                    sorted
                        .warnings
                        .push(format!("{shown}: not supported by wasmgate, ignored"));
                }
            }
            None => {
                let hint = suggestion(member, schema)
                    .map(|name| format!("; did you mean \"{name}\"?"))
                    .unwrap_or_default();
                if allow_unknown {
                    sorted
                        .warnings
                        .push(format!("{shown}: unknown field, ignored{hint}"));
                } else {
                    sorted
                        .unknown
                        .push(FieldError::new(shown, format!("unknown field{hint}")));
                }
            }
        }
    }
    sorted
}

/// The member of the enclosing object whose name is closest to the unknown one.
fn suggestion(member: &[Segment], schema: &Schema) -> Option<&'static str> {
    let (Segment::Key(key), parent) = member.split_last()? else {
        return None;
    };
    closest(key, schema.fields(&path::pattern(parent))?)
}

/// Case is ignored (`Environment`); a name is close when at most a third of its letters
/// differ (one for short names), so `cpus` suggests `cpu` but `colour` suggests nothing.
fn closest(key: &str, names: &[&'static str]) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    names
        .iter()
        .map(|name| {
            let distance = strsim::damerau_levenshtein(&key, &name.to_ascii_lowercase());
            (distance, *name)
        })
        .filter(|(distance, name)| *distance <= (name.len() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name)
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(members) => members.is_empty(),
        Value::Bool(true) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTAINER: &[&str] = &["name", "image", "cpu", "environment", "entryPoint"];

    #[test]
    fn suggests_the_closest_name() {
        assert_eq!(closest("enviroment", CONTAINER), Some("environment"));
        assert_eq!(closest("Environment", CONTAINER), Some("environment"));
        assert_eq!(closest("entrypoint", CONTAINER), Some("entryPoint"));
        assert_eq!(closest("cpus", CONTAINER), Some("cpu"));
        assert_eq!(closest("nmae", CONTAINER), Some("name"));
        assert_eq!(closest("colour", CONTAINER), None);
        assert_eq!(closest("imagePullPolicy", CONTAINER), None);
    }
}
