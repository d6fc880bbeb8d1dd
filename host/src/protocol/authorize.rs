//! The authorisation step every request passes between decoding and its handler (issue 12).
//!
//! The router decodes the body to a [`Node`] tree, then asks the [`Authorizer`] whether the
//! caller may run the operation on what that input names; only an allowed request reaches
//! the handler, so a denied one changes nothing. The decision needs no typed input: which
//! members name the resource and the condition keys is data the authoriser keeps per
//! operation, the same for every protocol. Without an authoriser every authenticated
//! request is allowed (the unit tests of single services).

use std::net::IpAddr;

use super::context::Principal;
use super::error::ApiError;
use super::service::BoxFuture;
use super::value::Node;

/// Who asks to run which operation on what.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizeRequest<'a> {
    pub principal: &'a Principal,
    /// The IAM action prefix of the service: `ecs`, `logs`, `iam`, `sts`, `cloudwatch`.
    pub action_prefix: &'static str,
    /// The operation as registered: `RunTask`.
    pub operation: &'static str,
    /// The decoded request, before its typed form.
    pub input: &'a Node,
    /// Where the request came from (`aws:SourceIp`), when the transport knows.
    pub source_ip: Option<IpAddr>,
    /// Whether it arrived over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
}

/// Why a request may not run.
#[derive(Debug, Clone)]
pub enum Refusal {
    /// The policies do not allow it; the message is AWS's (`User: … is not authorized to
    /// perform: …`). The service turns it into its own error shape
    /// ([`Service::access_denied`](super::Service::access_denied)).
    Denied(String),
    /// The decision could not be made (the state store failed): answered as is.
    Failed(ApiError),
}

/// Decides whether a request may run.
pub trait Authorizer: Send + Sync + 'static {
    fn authorize<'a>(&'a self, request: AuthorizeRequest<'a>)
    -> BoxFuture<'a, Result<(), Refusal>>;
}

/// The transport's facts about the connection a request came on, carried in the request
/// head's extensions (`http::Extensions`) so the protocol layer needs no transport type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub ip: IpAddr,
    pub secure: bool,
}
