//! What an IAM store operation can refuse, one variant per IAM error code. The API maps
//! them to `ApiError`s in one place (`iam::api::error`).

use crate::state::StateError;

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    /// `NoSuchEntity` (404).
    #[error("{0}")]
    NoSuchEntity(String),
    /// `EntityAlreadyExists` (409).
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// `DeleteConflict` (409).
    #[error("{0}")]
    DeleteConflict(String),
    /// `LimitExceeded` (409).
    #[error("{0}")]
    LimitExceeded(String),
    /// `MalformedPolicyDocument` (400), with the parser's message.
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// `ValidationError` (400): a member breaks its pattern, length or range.
    #[error("{0}")]
    Validation(String),
    /// `InvalidInput` (400): a value that is well-formed but not usable (an ARN that is none).
    #[error("{0}")]
    InvalidInput(String),
    /// `ConcurrentModification` (409): the stored document changed under this host (another
    /// writer on the same state).
    #[error("{0}")]
    ConcurrentModification(String),
    /// The state store failed: the host's fault.
    #[error(transparent)]
    State(#[from] StateError),
    /// A stored document does not decode or encode.
    #[error("IAM state: {0}")]
    Corrupt(String),
}

impl IamError {
    pub fn no_such(noun: &str, name: &str) -> Self {
        IamError::NoSuchEntity(format!("The {noun} with name {name} cannot be found."))
    }

    pub fn exists(noun: &str, name: &str) -> Self {
        IamError::EntityAlreadyExists(format!("{noun} with name {name} already exists."))
    }

    pub fn no_such_policy(arn: &str) -> Self {
        IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
    }
}

pub type IamResult<T> = Result<T, IamError>;
