//! A list where the model wants an object. serde's derived structs also accept a JSON
//! array (as a tuple of their fields), so `"healthCheck": []` would read as a health
//! check with every member defaulted and the user's mistake would pass unseen. The
//! schema knows which paths hold objects; this walk refuses a list at any of them.

use serde_json::Value;

use super::error::FieldError;
use super::path;
use super::schema::Schema;

/// Every member of `tree` that holds a list where `schema` has an object.
pub(super) fn lists_for_objects(tree: &Value, schema: &Schema) -> Vec<FieldError> {
    let mut errors = Vec::new();
    walk(tree, schema, "", &mut Vec::new(), &mut errors);
    errors
}

fn walk(
    value: &Value,
    schema: &Schema,
    pattern: &str,
    at: &mut path::Path,
    errors: &mut Vec<FieldError>,
) {
    let wants_object = schema.fields(pattern).is_some();
    match value {
        Value::Array(_) if wants_object => errors.push(FieldError::new(
            path::render(at),
            "must be an object, not a list",
        )),
        Value::Array(items) => {
            let item = path::item(pattern);
            for (i, v) in items.iter().enumerate() {
                at.push(path::Segment::Index(i));
                walk(v, schema, &item, at, errors);
                at.pop();
            }
        }
        Value::Object(members) => {
            for (key, v) in members {
                at.push(path::Segment::Key(key.clone()));
                walk(v, schema, &path::child(pattern, key), at, errors);
                at.pop();
            }
        }
        _ => {}
    }
}
