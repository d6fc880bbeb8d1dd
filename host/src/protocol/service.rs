//! The one trait every AWS service implements, and its operation table.
//!
//! ```ignore
//! impl Service for Sts {
//!     fn name(&self) -> &'static str { "sts" }
//!     fn signing_name(&self) -> &'static str { "sts" }
//!     fn protocols(&self) -> &'static [Protocol] {
//!         &[Protocol::AwsQuery { version: "2011-06-15", xmlns: "https://sts.amazonaws.com/doc/2011-06-15/" }]
//!     }
//!     fn operations(&self) -> Vec<Operation<Self>> {
//!         vec![op!("GetCallerIdentity", Self::get_caller_identity), op!("AssumeRole", Self::assume_role)]
//!     }
//!     fn validation_error(&self, message: String) -> ApiError { ApiError::new("ValidationError", message) }
//! }
//!
//! impl Sts {
//!     async fn assume_role(&self, ctx: &Context, input: AssumeRoleInput) -> Result<AssumeRoleOutput, ApiError> { … }
//! }
//! ```
//!
//! A handler takes its typed input (`serde::Deserialize`) and returns its typed output
//! (`serde::Serialize`); the codecs do the wire. [`op!`](crate::op) erases the types: each
//! table row is a name and a plain function pointer.

use super::context::{Context, ProtocolKind};
use super::error::ApiError;
use super::value::{Node, from_node, to_node};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One AWS service: who it is, the protocols it answers, and its operations.
pub trait Service: Send + Sync + 'static {
    /// Short name, for logs and [`Context::service`]: `sts`, `monitoring`, `scheduler`.
    fn name(&self) -> &'static str;

    /// The SigV4 signing name (the credential scope's service): `sts`, `monitoring`. Query
    /// and REST requests are routed by it.
    fn signing_name(&self) -> &'static str;

    /// Every protocol the service answers; all of them reach the same operations.
    fn protocols(&self) -> &'static [Protocol];

    /// The operation table, built once when the service is registered: one [`op!`](crate::op)
    /// per operation.
    fn operations(&self) -> Vec<Operation<Self>>
    where
        Self: Sized;

    /// The error for input that does not fit an operation's type (the message names the
    /// member). AWS services differ: `ValidationException`, IAM/STS `ValidationError`, ECS
    /// `InvalidParameterException`, CloudWatch `InvalidParameterValue`.
    fn validation_error(&self, message: String) -> ApiError {
        ApiError::validation(message)
    }

    /// The IAM action prefix (`ecs:RunTask`): the signing name for most services;
    /// CloudWatch signs as `monitoring` but its actions are `cloudwatch:…`.
    fn action_prefix(&self) -> &'static str {
        self.signing_name()
    }

    /// The error for a request the policies do not allow, with AWS's message. JSON services
    /// answer `AccessDeniedException` (400); query services (IAM, STS) override with
    /// `AccessDenied` (403).
    fn access_denied(&self, message: String) -> ApiError {
        ApiError::new("AccessDeniedException", message)
    }

    /// `awsQueryCompatible` services (CloudWatch) also send JSON and CBOR errors' awsQuery
    /// code and fault in `x-amzn-query-error`.
    fn query_compatible(&self) -> bool {
        false
    }
}

/// A protocol a service answers, with what routes requests to it.
#[derive(Debug, Clone, Copy)]
pub enum Protocol {
    /// `X-Amz-Target: <target_prefix>.<Operation>`, `application/x-amz-json-1.0`.
    AwsJson1_0 { target_prefix: &'static str },
    /// Same, `application/x-amz-json-1.1`.
    AwsJson1_1 { target_prefix: &'static str },
    /// `Action=<Operation>&Version=<version>`; responses in the `xmlns` namespace. Routed
    /// by the signing name.
    AwsQuery {
        version: &'static str,
        xmlns: &'static str,
    },
    /// HTTP method and path per operation. Routed by the signing name, then the routes.
    RestJson1 { routes: &'static [Route] },
    /// `POST /service/<service>/operation/<Operation>` (botocore uses the model's target
    /// prefix as `<service>`).
    RpcV2Cbor { service: &'static str },
}

impl Protocol {
    pub fn kind(&self) -> ProtocolKind {
        match self {
            Protocol::AwsJson1_0 { .. } => ProtocolKind::AwsJson1_0,
            Protocol::AwsJson1_1 { .. } => ProtocolKind::AwsJson1_1,
            Protocol::AwsQuery { .. } => ProtocolKind::AwsQuery,
            Protocol::RestJson1 { .. } => ProtocolKind::RestJson1,
            Protocol::RpcV2Cbor { .. } => ProtocolKind::RpcV2Cbor,
        }
    }
}

/// Where a restJson1 operation lives: `Route::new("GetSchedule", "GET", "/schedules/{Name}")`.
/// Path labels fill the member of the same name (`{Key+}` takes the rest of the path);
/// `query` and `headers` map a query-string key or header name to a member, as the model's
/// `locationName` says. All other members are in the JSON body.
#[derive(Debug)]
pub struct Route {
    pub operation: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    /// (query-string key, member).
    pub query: &'static [(&'static str, &'static str)],
    /// (lower-case header name, member).
    pub headers: &'static [(&'static str, &'static str)],
    /// The success status (the model's `responseCode`).
    pub status: u16,
}

impl Route {
    pub const fn new(operation: &'static str, method: &'static str, path: &'static str) -> Self {
        Self {
            operation,
            method,
            path,
            query: &[],
            headers: &[],
            status: 200,
        }
    }

    pub const fn query(mut self, query: &'static [(&'static str, &'static str)]) -> Self {
        self.query = query;
        self
    }

    pub const fn headers(mut self, headers: &'static [(&'static str, &'static str)]) -> Self {
        self.headers = headers;
        self
    }

    pub const fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }
}

/// The type-erased handler of one operation: decodes its input, runs it, encodes its output.
pub type Handler<S> = for<'a> fn(&'a S, Request) -> BoxFuture<'a, Result<Node, ApiError>>;

/// One row of a service's operation table; made by [`op!`](crate::op).
pub struct Operation<S> {
    pub name: &'static str,
    pub handler: Handler<S>,
}

impl<S> Operation<S> {
    pub const fn new(name: &'static str, handler: Handler<S>) -> Self {
        Self { name, handler }
    }
}

/// What an erased handler receives: the call's context and its input as a tree.
pub struct Request {
    pub(crate) ctx: Context,
    pub(crate) input: Node,
}

impl Request {
    /// The typed input; on failure the message names the member (for
    /// [`Service::validation_error`]). Members the type does not have land in
    /// [`Context::unknown_members`].
    pub fn decode<I: DeserializeOwned>(self) -> Result<(Context, I), String> {
        let decoded = from_node::<I>(self.input)?;
        let mut ctx = self.ctx;
        if !decoded.ignored.is_empty() {
            tracing::debug!(
                service = ctx.service,
                operation = ctx.operation,
                "ignoring unknown request members: {}",
                decoded.ignored.join(", ")
            );
        }
        ctx.unknown_members = decoded.ignored;
        Ok((ctx, decoded.value))
    }
}

/// A handler's output as a tree. A failure is a bug in the output type (a map keyed by a
/// structure), so it is the host's fault.
pub fn encode<O: Serialize>(output: &O) -> Result<Node, ApiError> {
    to_node(output).map_err(|e| {
        tracing::error!("an operation's output could not be encoded: {e}");
        ApiError::server("The response could not be encoded.")
    })
}

/// One row of an operation table: `op!("GetCallerIdentity", Self::get_caller_identity)`,
/// where the handler is
/// `async fn(&self, &Context, Input) -> Result<Output, ApiError>` (any future that is `Send`).
#[macro_export]
macro_rules! op {
    ($name:literal, $handler:path) => {
        $crate::protocol::Operation::new($name, |service, request| {
            ::std::boxed::Box::pin(async move {
                let (ctx, input) = request.decode().map_err(|message| {
                    $crate::protocol::Service::validation_error(service, message)
                })?;
                let output = $handler(service, &ctx, input).await?;
                $crate::protocol::encode(&output)
            })
        })
    };
}

/// A service still written over `serde_json::Value` (ECS, Logs): every operation decodes its
/// input as a JSON value and answers one, through [`forwarding`]. Typed `serde` inputs
/// (with [`op!`](crate::op)) can replace the rows one at a time.
pub trait ValueService: Service {
    /// Runs `ctx.operation` with the request's members as a JSON object.
    fn call_value<'a>(
        &'a self,
        ctx: &'a Context,
        input: serde_json::Value,
    ) -> BoxFuture<'a, Result<serde_json::Value, ApiError>>;
}

/// The operation table of a [`ValueService`]: each name forwards to
/// [`ValueService::call_value`].
pub fn forwarding<S: ValueService>(names: &[&'static str]) -> Vec<Operation<S>> {
    names
        .iter()
        .map(|&name| Operation::new(name, forward::<S>))
        .collect()
}

fn forward<S: ValueService>(
    service: &S,
    request: Request,
) -> BoxFuture<'_, Result<Node, ApiError>> {
    Box::pin(async move {
        let (ctx, input) = request
            .decode::<serde_json::Value>()
            .map_err(|message| service.validation_error(message))?;
        let output = service.call_value(&ctx, input).await?;
        encode(&output)
    })
}
