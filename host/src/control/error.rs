//! The control plane's typed errors and how each one goes on the wire.

use crate::protocol::ApiError;
use crate::state::StateError;

/// ECS's wording for an unknown cluster.
pub const CLUSTER_NOT_FOUND: &str = "Cluster not found.";
/// ECS's wording for StopTask on an unknown task.
pub const TASK_NOT_FOUND: &str = "The referenced task was not found.";
/// ECS's wording for DescribeTaskDefinition on an unknown definition.
pub const TASK_DEFINITION_NOT_DESCRIBABLE: &str = "Unable to describe task definition.";

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// A member is missing, of the wrong type or out of range; the message names it.
    #[error("{0}")]
    InvalidParameter(String),
    /// The request is well-formed but cannot be served as asked.
    #[error("{0}")]
    Client(String),
    #[error("{CLUSTER_NOT_FOUND}")]
    ClusterNotFound,
    #[error("The Cluster cannot be deleted while Tasks are active.")]
    ClusterContainsTasks,
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("Service not found.")]
    ServiceNotFound,
    #[error("Service was not ACTIVE.")]
    ServiceNotActive,
    #[error("The Cluster cannot be deleted while Services are active.")]
    ClusterContainsServices,
    #[error("{0}")]
    PlatformUnknown(String),
    #[error("Unknown operation: {0}")]
    UnknownOperation(String),
    /// The state store failed: a fault of the host, never of the input.
    #[error(transparent)]
    State(#[from] StateError),
    /// Anything else that is the host's fault (a blocking task panicked, …).
    #[error("{0}")]
    Internal(String),
}

impl ControlError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ControlError::InvalidParameter(message.into())
    }

    pub fn client(message: impl Into<String>) -> Self {
        ControlError::Client(message.into())
    }

    /// The ECS exception shape this error is sent as.
    pub fn code(&self) -> &'static str {
        match self {
            ControlError::InvalidParameter(_) => "InvalidParameterException",
            ControlError::Client(_) => "ClientException",
            ControlError::ClusterNotFound => "ClusterNotFoundException",
            ControlError::ClusterContainsTasks => "ClusterContainsTasksException",
            ControlError::ResourceNotFound(_) => "ResourceNotFoundException",
            ControlError::ServiceNotFound => "ServiceNotFoundException",
            ControlError::ServiceNotActive => "ServiceNotActiveException",
            ControlError::ClusterContainsServices => "ClusterContainsServicesException",
            ControlError::PlatformUnknown(_) => "PlatformUnknownException",
            ControlError::UnknownOperation(_) => "UnknownOperationException",
            ControlError::State(_) | ControlError::Internal(_) => "ServerException",
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(err: ControlError) -> Self {
        match err {
            ControlError::State(_) | ControlError::Internal(_) => {
                tracing::error!("ECS request failed on the host side: {err}");
                ApiError::server(err.to_string())
            }
            _ => ApiError::new(err.code(), err.to_string()),
        }
    }
}

pub type Result<T, E = ControlError> = std::result::Result<T, E>;
