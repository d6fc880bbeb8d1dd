//! Errors from parsing and validating a task definition.

use std::fmt;

/// Why a task definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskDefError {
    /// Malformed JSON or a value of the wrong type; the message names the field path
    /// and the line/column, so a user can find it in a large file.
    #[error("{0}")]
    Json(String),
    /// Well-formed but breaks one or more rules; all broken rules are listed at once so
    /// a user fixes them in one round trip.
    #[error("invalid task definition: {}", join(.0))]
    Invalid(Vec<FieldError>),
}

impl TaskDefError {
    /// The broken rules, empty for a JSON error.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            TaskDefError::Json(_) => &[],
            TaskDefError::Invalid(errors) => errors,
        }
    }
}

/// One broken rule and the field it is about, in ECS JSON path form
/// (`containerDefinitions[1].memory`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub path: String,
    pub rule: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, rule: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            rule: rule.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.rule)
    }
}

fn join(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_lists_every_error() {
        let err = TaskDefError::Invalid(vec![
            FieldError::new("family", "is required"),
            FieldError::new("cpu", "is required"),
        ]);
        assert_eq!(
            err.to_string(),
            "invalid task definition: family: is required; cpu: is required"
        );
        assert_eq!(err.field_errors().len(), 2);
    }
}
