//! Reads definition JSON with the path of a bad value (`serde_path_to_error`) and the
//! path of every member serde skipped (`serde_ignored`).

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::TaskDefError;
use super::path::{self, Path};

/// The JSON as a tree; a syntax error names where it was found.
pub(super) fn tree(json: &str) -> Result<Value, TaskDefError> {
    let mut de = serde_json::Deserializer::from_str(json);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| json_error(&e))?;
    de.end().map_err(|e| TaskDefError::Json(e.to_string()))?;
    Ok(value)
}

/// The JSON as a `T`, and the paths of the members `T` skipped.
pub(super) fn typed<T: DeserializeOwned>(json: &str) -> Result<(T, Vec<Path>), TaskDefError> {
    let mut skipped = Vec::new();
    let mut de = serde_json::Deserializer::from_str(json);
    let mut note = |member: serde_ignored::Path<'_>| skipped.push(path::from_ignored_path(&member));
    let value =
        serde_path_to_error::deserialize(serde_ignored::Deserializer::new(&mut de, &mut note))
            .map_err(|e| json_error(&e))?;
    de.end().map_err(|e| TaskDefError::Json(e.to_string()))?;
    Ok((value, skipped))
}

/// serde_json's message (with its line and column) after the path of the offending
/// member, relative to the task definition like every other path we report.
fn json_error(err: &serde_path_to_error::Error<serde_json::Error>) -> TaskDefError {
    let path = path::render(&path::from_error_path(err.path()));
    if path.is_empty() {
        TaskDefError::Json(err.inner().to_string())
    } else {
        TaskDefError::Json(format!("{path}: {}", err.inner()))
    }
}
