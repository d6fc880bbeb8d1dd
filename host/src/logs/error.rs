//! Errors of the log store, shaped so the Logs API can map each to its wire exception.

/// Everything the log store can fail with.
///
/// The variants line up with CloudWatch Logs exceptions: `*NotFound` →
/// `ResourceNotFoundException`, `*AlreadyExists` → `ResourceAlreadyExistsException`,
/// `InvalidToken`/`InvalidParameter` → `InvalidParameterException`, `Db` → a fault.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("The specified log group does not exist: {0}")]
    GroupNotFound(String),
    #[error("The specified log stream does not exist: {group}/{stream}")]
    StreamNotFound { group: String, stream: String },
    #[error("The specified log group already exists: {0}")]
    GroupAlreadyExists(String),
    #[error("The specified log stream already exists: {group}/{stream}")]
    StreamAlreadyExists { group: String, stream: String },
    #[error("The specified nextToken is invalid: {0}")]
    InvalidToken(String),
    #[error("invalid parameter {field}: {rule}")]
    InvalidParameter { field: &'static str, rule: String },
    #[error("log store database error: {0}")]
    Db(#[from] rusqlite::Error),
}

impl LogError {
    /// Shorthand for the common validation failure.
    pub(crate) fn invalid(field: &'static str, rule: impl Into<String>) -> Self {
        Self::InvalidParameter {
            field,
            rule: rule.into(),
        }
    }
}
