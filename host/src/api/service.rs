//! The seam between the HTTP front end and what answers: one [`Service`] per AWS protocol
//! target (ECS, CloudWatch Logs). The front end verifies the signature, parses the JSON body
//! and routes `X-Amz-Target: <prefix>.<Operation>` to the service whose prefix matches.

use serde_json::Value;
use std::future::Future;
use std::pin::Pin;

/// Who made a request: the access key's principal from the host config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub access_key_id: String,
    /// e.g. `arn:aws:iam::000000000000:user/test`.
    pub arn: String,
}

/// An error as the AWS JSON 1.1 protocol carries it: `{"__type": code, "message": …}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// The exception shape name (`ClusterNotFoundException`, `InvalidParameterException`, …).
    pub code: String,
    pub message: String,
    /// 400 for client errors (never 5xx for bad input: clients retry those).
    pub status: u16,
}

impl ApiError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            status: 400,
        }
    }

    /// `InvalidParameterException`: a member has a bad value; the message names it.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }

    /// `ClientException`: the request cannot be served as asked.
    pub fn client(message: impl Into<String>) -> Self {
        Self::new("ClientException", message)
    }

    /// `ServerException` (500): a fault of the host, never of the input.
    pub fn server(message: impl Into<String>) -> Self {
        Self {
            code: "ServerException".into(),
            message: message.into(),
            status: 500,
        }
    }
}

pub type ServiceFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, ApiError>> + Send + 'a>>;

/// One AWS JSON 1.1 service.
pub trait Service: Send + Sync {
    /// SigV4 signing name: `ecs`, `logs`.
    fn signing_name(&self) -> &'static str;
    /// `X-Amz-Target` prefix: `AmazonEC2ContainerServiceV20141113`, `Logs_20140328`.
    fn target_prefix(&self) -> &'static str;
    /// Runs `operation` with the request body (always a JSON object). Unknown operations
    /// answer `UnknownOperationException`.
    fn call<'a>(
        &'a self,
        principal: &'a Principal,
        operation: &'a str,
        body: Value,
    ) -> ServiceFuture<'a>;
}
