//! From an HTTP request to (service, protocol, operation), and from the handler's result
//! to the response in that protocol's shape.
//!
//! [`Router::route`] looks at the request head only, so the front end can check the
//! signature against the chosen service's signing name before reading the body:
//! 1. `X-Amz-Target: <prefix>.<Op>` → the service with that JSON target prefix;
//! 2. else `POST /service/<S>/operation/<Op>` → the service with that rpc-v2-cbor name;
//! 3. else the SigV4 credential scope's service name → that service's awsQuery (a form
//!    body, or `Action` in the query string) or its restJson1 routes (method + path).
//!
//! A request that matches nothing still gets a [`Routed`], whose error is shaped for the
//! protocol the request looked like. [`Routed::call`] then decodes the body, runs the
//! handler and encodes the answer.

use super::authorize::{AuthorizeRequest, Authorizer, Peer, Refusal};
use super::cbor;
use super::context::{Context, Principal, ProtocolKind};
use super::encoding;
use super::error::ApiError;
use super::json::{self, JsonVersion};
use super::query;
use super::reply::Reply;
use super::rest_json::{self, CompiledRoute};
use super::service::{BoxFuture, Handler, Protocol, Request, Service};
use super::value::Node;
use bytes::Bytes;
use http::{Method, Response};
use std::collections::HashMap;
use std::sync::Arc;

/// Largest request body a codec reads once decompressed, unless
/// [`RouterBuilder::max_body_bytes`] says otherwise: 1 MiB, as the front end's own limit.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why a set of services cannot be served together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    #[error("service {service}: answers no protocol")]
    NoProtocol { service: &'static str },
    #[error("service {service}: the operation {operation} is registered twice")]
    DuplicateOperation {
        service: &'static str,
        operation: &'static str,
    },
    #[error("services {first} and {second} both use the {what} {key:?}")]
    Clash {
        first: &'static str,
        second: &'static str,
        what: &'static str,
        key: String,
    },
    #[error("service {service}: route {detail}")]
    BadRoute {
        service: &'static str,
        detail: String,
    },
}

/// A service with its operation table, types erased.
trait Erased: Send + Sync {
    fn name(&self) -> &'static str;
    fn signing_name(&self) -> &'static str;
    fn query_compatible(&self) -> bool;
    fn action_prefix(&self) -> &'static str;
    fn access_denied(&self, message: String) -> ApiError;
    /// The registered (static) spelling of `name`, if the service has that operation.
    fn operation(&self, name: &str) -> Option<&'static str>;
    fn invoke<'a>(
        &'a self,
        operation: &str,
        request: Request,
    ) -> Option<BoxFuture<'a, Result<Node, ApiError>>>;
}

struct Registered<S: Service> {
    service: Arc<S>,
    ops: HashMap<&'static str, Handler<S>>,
}

impl<S: Service> Erased for Registered<S> {
    fn name(&self) -> &'static str {
        self.service.name()
    }
    fn signing_name(&self) -> &'static str {
        self.service.signing_name()
    }
    fn query_compatible(&self) -> bool {
        self.service.query_compatible()
    }
    fn action_prefix(&self) -> &'static str {
        self.service.action_prefix()
    }
    fn access_denied(&self, message: String) -> ApiError {
        self.service.access_denied(message)
    }
    fn operation(&self, name: &str) -> Option<&'static str> {
        self.ops.get_key_value(name).map(|(k, _)| *k)
    }
    fn invoke<'a>(
        &'a self,
        operation: &str,
        request: Request,
    ) -> Option<BoxFuture<'a, Result<Node, ApiError>>> {
        let handler = self.ops.get(operation)?;
        Some(handler(&self.service, request))
    }
}

struct Entry {
    service: Box<dyn Erased>,
    query: Option<(&'static str, &'static str)>,
    json: Option<JsonVersion>,
    cbor: bool,
    routes: Vec<CompiledRoute>,
}

/// Builds a [`Router`] from services.
pub struct RouterBuilder {
    entries: Vec<Entry>,
    problems: Vec<RouterError>,
    max_body_bytes: usize,
    target_prefixes: HashMap<&'static str, usize>,
    rpc_names: HashMap<&'static str, usize>,
    authorizer: Option<Arc<dyn Authorizer>>,
    observer: Option<Arc<dyn RequestObserver>>,
}

/// Told of every answered request (Prometheus' API counters and latency histogram).
pub trait RequestObserver: Send + Sync {
    /// `operation` as [`Routed::describe`] writes it (`Service.Operation`, or the service
    /// alone when the body names the operation, `-` when nothing was routed).
    fn observe(&self, operation: &str, status: u16, seconds: f64);
}

impl RouterBuilder {
    /// Adds a service: every protocol it declares routes to its operation table.
    pub fn service<S: Service>(mut self, service: Arc<S>) -> Self {
        let name = service.name();
        let index = self.entries.len();
        let mut ops = HashMap::new();
        for op in service.operations() {
            if ops.insert(op.name, op.handler).is_some() {
                self.problems.push(RouterError::DuplicateOperation {
                    service: name,
                    operation: op.name,
                });
            }
        }
        let protocols = service.protocols();
        if protocols.is_empty() {
            self.problems
                .push(RouterError::NoProtocol { service: name });
        }
        let mut entry = Entry {
            service: Box::new(Registered { service, ops }),
            query: None,
            json: None,
            cbor: false,
            routes: Vec::new(),
        };
        for protocol in protocols {
            match *protocol {
                Protocol::AwsJson1_0 { target_prefix } | Protocol::AwsJson1_1 { target_prefix } => {
                    entry.json = Some(if protocol.kind() == ProtocolKind::AwsJson1_0 {
                        JsonVersion::V1_0
                    } else {
                        JsonVersion::V1_1
                    });
                    self.claim("JSON target prefix", target_prefix, index, name, true);
                }
                Protocol::RpcV2Cbor { service } => {
                    entry.cbor = true;
                    self.claim("rpc-v2-cbor service name", service, index, name, false);
                }
                Protocol::AwsQuery { version, xmlns } => entry.query = Some((version, xmlns)),
                Protocol::RestJson1 { routes } => {
                    for route in routes {
                        if entry.service.operation(route.operation).is_none() {
                            self.problems.push(RouterError::BadRoute {
                                service: name,
                                detail: format!(
                                    "{} names no registered operation",
                                    route.operation
                                ),
                            });
                        }
                        match CompiledRoute::compile(route) {
                            Ok(c) => entry.routes.push(c),
                            Err(detail) => self.problems.push(RouterError::BadRoute {
                                service: name,
                                detail,
                            }),
                        }
                    }
                }
            }
        }
        self.entries.push(entry);
        self
    }

    fn claim(
        &mut self,
        what: &'static str,
        key: &'static str,
        index: usize,
        name: &'static str,
        json: bool,
    ) {
        let map = if json {
            &mut self.target_prefixes
        } else {
            &mut self.rpc_names
        };
        if let Some(&other) = map.get(key) {
            let first = self.entries.get(other).map_or(name, |e| e.service.name());
            self.problems.push(RouterError::Clash {
                first,
                second: name,
                what,
                key: key.to_owned(),
            });
        } else {
            map.insert(key, index);
        }
    }

    /// The largest body a codec reads once decompressed (a gzip body may be smaller on
    /// the wire).
    /// The authorisation step between decoding and every handler; without one, every
    /// authenticated request is allowed.
    pub fn authorizer(mut self, authorizer: Arc<dyn Authorizer>) -> Self {
        self.authorizer = Some(authorizer);
        self
    }

    /// Tells `observer` of every request the server answers.
    pub fn observer(mut self, observer: Arc<dyn RequestObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    pub fn build(mut self) -> Result<Router, RouterError> {
        // Two awsQuery services under one signing name could not be told apart.
        let mut query_signers: HashMap<&'static str, &'static str> = HashMap::new();
        for e in self.entries.iter().filter(|e| e.query.is_some()) {
            let (signing, name) = (e.service.signing_name(), e.service.name());
            if let Some(first) = query_signers.insert(signing, name) {
                self.problems.push(RouterError::Clash {
                    first,
                    second: name,
                    what: "awsQuery signing name",
                    key: signing.to_owned(),
                });
            }
        }
        if let Some(p) = self.problems.into_iter().next() {
            return Err(p);
        }
        let mut by_signing: HashMap<&'static str, Vec<usize>> = HashMap::new();
        for (i, e) in self.entries.iter().enumerate() {
            by_signing
                .entry(e.service.signing_name())
                .or_default()
                .push(i);
        }
        Ok(Router {
            entries: self.entries,
            by_target: self.target_prefixes,
            by_rpc: self.rpc_names,
            by_signing,
            max_body_bytes: self.max_body_bytes,
            authorizer: self.authorizer,
            observer: self.observer,
        })
    }
}

/// Every service on one listener, by what routes to them.
pub struct Router {
    entries: Vec<Entry>,
    by_target: HashMap<&'static str, usize>,
    by_rpc: HashMap<&'static str, usize>,
    by_signing: HashMap<&'static str, Vec<usize>>,
    max_body_bytes: usize,
    authorizer: Option<Arc<dyn Authorizer>>,
    observer: Option<Arc<dyn RequestObserver>>,
}

/// How a request is answered: the protocol's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Json(JsonVersion),
    Query {
        version: &'static str,
        xmlns: &'static str,
    },
    Rest {
        status: u16,
    },
    Cbor,
}

impl Wire {
    fn kind(self) -> ProtocolKind {
        match self {
            Wire::Json(JsonVersion::V1_0) => ProtocolKind::AwsJson1_0,
            Wire::Json(JsonVersion::V1_1) => ProtocolKind::AwsJson1_1,
            Wire::Query { .. } => ProtocolKind::AwsQuery,
            Wire::Rest { .. } => ProtocolKind::RestJson1,
            Wire::Cbor => ProtocolKind::RpcV2Cbor,
        }
    }
}

/// What [`Router::route`] found.
struct Target<'r> {
    entry: &'r Entry,
    /// Known from the head, except for awsQuery (in the body).
    operation: Option<&'static str>,
    route: Option<(&'r CompiledRoute, Vec<(&'static str, String)>)>,
}

/// A routed request: its service (if any), its protocol, and how to answer it.
pub struct Routed<'r> {
    router: &'r Router,
    wire: Wire,
    query_compatible: bool,
    target: Result<Target<'r>, ApiError>,
    /// For a 405: the method the path does answer.
    allow: Option<&'static str>,
}

impl Router {
    pub fn builder() -> RouterBuilder {
        RouterBuilder {
            entries: Vec::new(),
            problems: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            target_prefixes: HashMap::new(),
            rpc_names: HashMap::new(),
            authorizer: None,
            observer: None,
        }
    }

    /// Who is told of every answered request, if anyone.
    pub fn observer(&self) -> Option<&Arc<dyn RequestObserver>> {
        self.observer.as_ref()
    }

    /// Picks the service, protocol and (except awsQuery) operation from the request head and
    /// the credential scope's service name (`None` for an unsigned request).
    pub fn route<'r>(
        &'r self,
        head: &http::request::Parts,
        scope_service: Option<&str>,
    ) -> Routed<'r> {
        let path = head.uri.path();
        if let Some(target) = head.headers.get("x-amz-target") {
            let target = target.to_str().unwrap_or("");
            return self.route_json(head, target);
        }
        if let Some((name, op)) = cbor::parse_path(path) {
            return self.route_cbor(&head.method, name, op);
        }
        let candidates = scope_service
            .and_then(|s| self.by_signing.get(s))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for &i in candidates {
            let entry = &self.entries[i];
            if let Some((version, xmlns)) = entry.query
                && query::looks_like_query(&head.method, &head.uri, &head.headers)
            {
                let wire = Wire::Query { version, xmlns };
                return self.found(wire, entry, None, None);
            }
            for route in &entry.routes {
                if let Some(labels) = route.matches(&head.method, path) {
                    let wire = Wire::Rest {
                        status: route.route.status,
                    };
                    return self.found(
                        wire,
                        entry,
                        Some(route.route.operation),
                        Some((route, labels)),
                    );
                }
            }
        }
        self.unmatched(head, candidates)
    }

    fn found<'r>(
        &'r self,
        wire: Wire,
        entry: &'r Entry,
        operation: Option<&'static str>,
        route: Option<(&'r CompiledRoute, Vec<(&'static str, String)>)>,
    ) -> Routed<'r> {
        Routed {
            router: self,
            wire,
            query_compatible: entry.service.query_compatible(),
            target: Ok(Target {
                entry,
                operation,
                route,
            }),
            allow: None,
        }
    }

    fn failed(&self, wire: Wire, err: ApiError) -> Routed<'_> {
        Routed {
            router: self,
            wire,
            query_compatible: false,
            target: Err(err),
            allow: None,
        }
    }

    fn route_json(&self, head: &http::request::Parts, target: &str) -> Routed<'_> {
        let asked = JsonVersion::of_request(&head.headers).unwrap_or(JsonVersion::V1_1);
        let (prefix, op) = target.rsplit_once('.').unwrap_or((target, ""));
        let Some(entry) = self.by_target.get(prefix).map(|&i| &self.entries[i]) else {
            let err = ApiError::unknown_operation(format!(
                "Unknown operation or service: X-Amz-Target {target:?}"
            ));
            return self.failed(Wire::Json(asked), err);
        };
        let wire = Wire::Json(entry.json.unwrap_or(asked));
        let mut routed = self.found(wire, entry, None, None);
        if head.uri.path() != "/" {
            routed.target = Err(ApiError::with_status(
                "UnknownOperationException",
                format!(
                    "No resource at {}: AWS JSON requests are POST /",
                    head.uri.path()
                ),
                404,
            ));
        } else if head.method != Method::POST {
            routed.allow = Some("POST");
            routed.target = Err(ApiError::with_status(
                "UnknownOperationException",
                format!(
                    "Method {} is not allowed: AWS JSON requests are POST /",
                    head.method
                ),
                405,
            ));
        } else {
            match entry.service.operation(op) {
                Some(op) => {
                    if let Ok(t) = &mut routed.target {
                        t.operation = Some(op);
                    }
                }
                None => {
                    routed.target = Err(ApiError::unknown_operation(format!(
                        "Unknown operation or service: X-Amz-Target {target:?}"
                    )))
                }
            }
        }
        routed
    }

    fn route_cbor(&self, method: &Method, name: &str, op: &str) -> Routed<'_> {
        let not_found =
            |what: String| ApiError::with_status("UnknownOperationException", what, 404);
        let Some(entry) = self.by_rpc.get(name).map(|&i| &self.entries[i]) else {
            return self.failed(Wire::Cbor, not_found(format!("Unknown service {name:?}")));
        };
        let mut routed = self.found(Wire::Cbor, entry, None, None);
        if *method != Method::POST {
            routed.allow = Some("POST");
            routed.target = Err(ApiError::with_status(
                "UnknownOperationException",
                format!("Method {method} is not allowed: rpc-v2-cbor requests are POST"),
                405,
            ));
            return routed;
        }
        match (entry.service.operation(op), &mut routed.target) {
            (Some(op), Ok(t)) => t.operation = Some(op),
            _ => {
                routed.target = Err(not_found(format!(
                    "Unknown operation {op:?} of service {name:?}"
                )))
            }
        }
        routed
    }

    /// No protocol claimed the request: answer in the shape it most looks like.
    fn unmatched(&self, head: &http::request::Parts, candidates: &[usize]) -> Routed<'_> {
        let (method, path) = (&head.method, head.uri.path());
        for &i in candidates {
            let entry = &self.entries[i];
            if let Some(route) = entry.routes.iter().find(|r| r.path_matches(path)) {
                let mut routed = self.failed(
                    Wire::Rest { status: 200 },
                    ApiError::with_status(
                        "UnknownOperationException",
                        format!("Method {method} is not allowed on {path}"),
                        405,
                    ),
                );
                routed.allow = Some(route.route.method);
                return routed;
            }
        }
        let first = candidates.first().map(|&i| &self.entries[i]);
        match first {
            Some(e) if e.query.is_some() => {
                let (version, xmlns) = e.query.unwrap_or_default();
                self.failed(
                    Wire::Query { version, xmlns },
                    ApiError::new(
                        "MissingAction",
                        "The request must contain the parameter Action.",
                    ),
                )
            }
            Some(e) if !e.routes.is_empty() => self.failed(
                Wire::Rest { status: 200 },
                ApiError::with_status(
                    "UnknownOperationException",
                    format!("No operation at {method} {path}"),
                    404,
                ),
            ),
            Some(e) if e.cbor && e.json.is_none() => self.failed(
                Wire::Cbor,
                ApiError::with_status(
                    "UnknownOperationException",
                    format!("No resource at {path}"),
                    404,
                ),
            ),
            _ => {
                let wire =
                    Wire::Json(JsonVersion::of_request(&head.headers).unwrap_or(JsonVersion::V1_1));
                let err = if path == "/" && *method == Method::POST {
                    ApiError::unknown_operation(
                        "Missing X-Amz-Target header: expected <service prefix>.<Operation>",
                    )
                } else {
                    ApiError::with_status(
                        "UnknownOperationException",
                        format!("No resource at {method} {path}"),
                        404,
                    )
                };
                self.failed(wire, err)
            }
        }
    }
}

impl Routed<'_> {
    /// The signing name the credential scope must carry, when a service was found.
    pub fn signing_name(&self) -> Option<&'static str> {
        self.target
            .as_ref()
            .ok()
            .map(|t| t.entry.service.signing_name())
    }

    /// The protocol the answer is shaped for.
    /// The request names no resource (404) or a method its route does not allow (405):
    /// no service is involved, so the front end answers it before authenticating.
    pub fn misdirected(&self) -> Option<&ApiError> {
        self.target
            .as_ref()
            .err()
            .filter(|e| matches!(e.status, 404 | 405))
    }

    pub fn protocol(&self) -> ProtocolKind {
        self.wire.kind()
    }

    /// `service` or `service.Operation`, for log lines.
    pub fn describe(&self) -> String {
        match &self.target {
            Ok(t) => match t.operation {
                Some(op) => format!("{}.{op}", t.entry.service.name()),
                None => t.entry.service.name().to_owned(),
            },
            Err(_) => "-".to_owned(),
        }
    }

    /// An error (a failed signature, a body over the limit, a panic) in this request's
    /// protocol shape.
    pub fn reject(&self, request_id: &str, err: &ApiError) -> Response<Bytes> {
        self.error_reply(request_id, err).into_response(request_id)
    }

    /// Decodes the body, runs the operation, and encodes its answer (or error). `body` is
    /// the raw body the signature was checked over.
    pub async fn call(
        &self,
        principal: Principal,
        request_id: &str,
        head: &http::request::Parts,
        body: Bytes,
    ) -> Response<Bytes> {
        let reply = match self.run(principal, request_id, head, body).await {
            Ok(reply) => reply,
            Err(err) => self.error_reply(request_id, &err),
        };
        reply.into_response(request_id)
    }

    async fn run(
        &self,
        principal: Principal,
        request_id: &str,
        head: &http::request::Parts,
        body: Bytes,
    ) -> Result<Reply, ApiError> {
        let target = self.target.as_ref().map_err(Clone::clone)?;
        let service = &target.entry.service;
        let body = encoding::decode(&head.headers, body, self.router.max_body_bytes)?;
        let unknown = || ApiError::unknown_operation("No operation was routed");
        let (operation, input) = match self.wire {
            Wire::Json(version) => {
                json::check_content_type(&head.headers, version)?;
                (target.operation.ok_or_else(unknown)?, json::decode(&body)?)
            }
            Wire::Cbor => {
                cbor::check_headers(&head.headers, &body)?;
                (target.operation.ok_or_else(unknown)?, cbor::decode(&body)?)
            }
            Wire::Query { version, .. } => {
                let q = query::decode(&head.method, &head.uri, &head.headers, &body)?;
                let op = service
                    .operation(&q.action)
                    .filter(|_| q.version.as_deref().is_none_or(|v| v == version));
                let op = op.ok_or_else(|| {
                    ApiError::new(
                        "InvalidAction",
                        format!(
                            "Could not find operation {} for version {}",
                            q.action,
                            q.version.as_deref().unwrap_or(version)
                        ),
                    )
                })?;
                (op, q.input)
            }
            Wire::Rest { .. } => {
                let (route, labels) = target.route.as_ref().ok_or_else(unknown)?;
                let input =
                    rest_json::decode(route, labels.clone(), &head.uri, &head.headers, &body)?;
                (target.operation.ok_or_else(unknown)?, input)
            }
        };
        if let Some(authorizer) = &self.router.authorizer {
            let peer = head.extensions.get::<Peer>();
            let request = AuthorizeRequest {
                principal: &principal,
                action_prefix: service.action_prefix(),
                operation,
                input: &input,
                source_ip: peer.map(|p| p.ip),
                secure_transport: peer.is_some_and(|p| p.secure),
            };
            match authorizer.authorize(request).await {
                Ok(()) => {}
                Err(Refusal::Denied(message)) => return Err(service.access_denied(message)),
                Err(Refusal::Failed(e)) => return Err(e),
            }
        }
        let ctx = Context {
            principal,
            request_id: request_id.to_owned(),
            service: service.name(),
            operation,
            protocol: self.wire.kind(),
            unknown_members: Vec::new(),
        };
        let call = service
            .invoke(operation, Request { ctx, input })
            .ok_or_else(unknown)?;
        let output = call.await?;
        Ok(match self.wire {
            Wire::Json(version) => json::ok(version, &output),
            Wire::Cbor => cbor::ok(&output),
            Wire::Query { xmlns, .. } => query::ok(operation, xmlns, &output, request_id),
            Wire::Rest { status } => rest_json::ok(status, &output),
        })
    }

    fn error_reply(&self, request_id: &str, err: &ApiError) -> Reply {
        let qc = self.query_compatible;
        let mut reply = match self.wire {
            Wire::Json(version) => json::error(version.content_type(), err, qc),
            Wire::Cbor => cbor::error(err, qc),
            Wire::Query { xmlns, .. } => query::error(xmlns, err, request_id),
            Wire::Rest { .. } => rest_json::error(err),
        };
        if let (405, Some(allow)) = (err.status, self.allow) {
            reply.header("allow", allow.to_owned());
        }
        reply
    }
}

#[cfg(test)]
mod tests;
