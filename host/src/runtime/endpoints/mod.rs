//! The in-task endpoints: what a task's containers ask the platform about themselves: the
//! task metadata endpoint (v4, and v3 for older readers) and the task-role credentials
//! endpoint, served by the host for each task.
//!
//! **Where.** On the task's own address, port [`PORT`] (51679, the port the ECS agent's
//! credentials proxy uses), written `http://127.0.0.1:51679/...` in the containers'
//! environment. ECS puts metadata on `169.254.170.2`, but the AWS SDKs accept a
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` only on loopback, and a guest's loopback *is* its
//! task's address (`net::map`), so one address serves both and needs no new route. It is
//! also the address nothing else can reach: other tasks' loopback is their own address,
//! the policy refuses another task's address unless a rule opens it, and the listener
//! drops any connection whose source is not the task's own address (so even a
//! `[[network.rules]]` entry opening the task to others, or a host process, gets nothing).
//!
//! **How.** Two doors to one handler ([`TaskEndpoints::respond`]):
//! - wasi:http: the outgoing-request hook (`http::outgoing`) answers requests to its own
//!   task's `:51679` in-process, before any socket or rule;
//! - wasi:sockets: a real listener per task ([`listener`]), opened on the task's first
//!   connection to the port, bounded in connections, request size and time.
//!
//! **Bounds.** Every request, either door, takes a token from the task's bucket
//! ([`ratelimit`]); an empty bucket answers 429 with `Retry-After` at once. Answers are
//! built from atomics and a watch channel: no lock another task or the API waits on.
//!
//! - [`metadata`]: the container, task and taskWithTags documents.
//! - [`stats`]: Docker-stats-shaped `/stats` and `/task/stats` from the live meters (read
//!   through [`super::live`], the host's one reader).
//! - [`credentials`]: the provider trait and the token check.
//! - [`identity`]: the ECS facts (ARNs, cluster, service) the control plane supplies.

pub mod credentials;
mod identity;
mod listener;
mod metadata;
mod ratelimit;
mod stats;
mod time;

pub use credentials::{ContainerCredentials, TaskCredentialsProvider, TaskRole};
pub use identity::TaskIdentity;
pub(super) use listener::EndpointDoor;

pub(super) use super::live::LiveSources;
use crate::taskdef::TaskDefinition;
use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode, header};
use http_body_util::Full;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

/// The port of the endpoints on every task's address.
pub const PORT: u16 = 51679;

/// How containers write the endpoints' address (their loopback is their task).
const BASE: &str = "http://127.0.0.1:51679";

/// What one container is, as its metadata says, fixed at start.
#[derive(Debug, Clone)]
struct ContainerFacts {
    name: String,
    /// `DockerId`: the task id and a number from the container's name, as Fargate shapes it.
    docker_id: String,
    arn: String,
    image: String,
    labels: BTreeMap<String, String>,
    cpu_units: u32,
    memory_mib: Option<u64>,
    log_driver: Option<String>,
    log_options: BTreeMap<String, String>,
}

/// The role credentials a task with a `taskRoleArn` is served.
struct Credentials {
    provider: Arc<dyn TaskCredentialsProvider>,
    token: String,
}

/// One task's endpoints.
pub struct TaskEndpoints {
    identity: TaskIdentity,
    family: String,
    cpu: u32,
    memory_mib: u64,
    containers: Vec<ContainerFacts>,
    live: LiveSources,
    credentials: Option<Credentials>,
    bucket: ratelimit::TokenBucket,
    /// The last stats reading per container (Docker's `precpu_stats`, rates).
    previous: Mutex<Vec<Option<stats::Sample>>>,
}

impl TaskEndpoints {
    /// The endpoints of a task; `provider` serves credentials only if the definition has a
    /// `taskRoleArn`.
    pub(super) fn new(
        identity: TaskIdentity,
        definition: &TaskDefinition,
        cpu_units: &[u32],
        live: LiveSources,
        provider: Option<Arc<dyn TaskCredentialsProvider>>,
    ) -> Arc<Self> {
        let containers = definition
            .container_definitions
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut labels = c.docker_labels.clone();
                for (k, v) in [
                    ("com.amazonaws.ecs.cluster", identity.cluster_arn.clone()),
                    ("com.amazonaws.ecs.container-name", c.name.clone()),
                    ("com.amazonaws.ecs.task-arn", identity.task_arn.clone()),
                    (
                        "com.amazonaws.ecs.task-definition-family",
                        definition.family.clone(),
                    ),
                    (
                        "com.amazonaws.ecs.task-definition-version",
                        identity.revision.clone(),
                    ),
                ] {
                    labels.insert(k.to_owned(), v);
                }
                ContainerFacts {
                    name: c.name.clone(),
                    docker_id: docker_id(&identity.task_id, &c.name),
                    arn: identity.container_arns.get(i).cloned().unwrap_or_default(),
                    image: c.image.clone(),
                    labels,
                    cpu_units: cpu_units.get(i).copied().unwrap_or(0),
                    memory_mib: c.memory,
                    log_driver: c.log_configuration.as_ref().map(|l| l.log_driver.clone()),
                    log_options: c
                        .log_configuration
                        .as_ref()
                        .map(|l| l.options.clone())
                        .unwrap_or_default(),
                }
            })
            .collect::<Vec<_>>();
        let credentials = match (&definition.task_role_arn, provider) {
            (Some(_), Some(provider)) => Some(Credentials {
                provider,
                token: credentials::new_token(),
            }),
            _ => None,
        };
        let n = containers.len();
        Arc::new(Self {
            family: definition.family.clone(),
            cpu: definition.cpu,
            memory_mib: definition.memory,
            containers,
            live,
            credentials,
            bucket: ratelimit::TokenBucket::new(ratelimit::BURST, ratelimit::PER_SECOND),
            previous: Mutex::new(vec![None; n]),
            identity,
        })
    }

    fn address(&self) -> Ipv4Addr {
        self.live.network.address()
    }

    /// What container `i` finds in its environment.
    pub fn env(&self, i: usize) -> Vec<(String, String)> {
        let Some(c) = self.containers.get(i) else {
            return Vec::new();
        };
        let mut env = vec![
            (
                "ECS_CONTAINER_METADATA_URI_V4".to_owned(),
                format!("{BASE}/v4/{}", c.docker_id),
            ),
            (
                "ECS_CONTAINER_METADATA_URI".to_owned(),
                format!("{BASE}/v3/{}", c.docker_id),
            ),
        ];
        if let Some(creds) = &self.credentials {
            env.push((
                "AWS_CONTAINER_CREDENTIALS_FULL_URI".to_owned(),
                format!("{BASE}{}", credentials::PATH),
            ));
            env.push((
                "AWS_CONTAINER_AUTHORIZATION_TOKEN".to_owned(),
                creds.token.clone(),
            ));
        }
        env
    }

    /// Answers one request, whichever door it came through.
    pub fn respond(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Response<Full<Bytes>> {
        if let Err(wait) = self.bucket.take() {
            let secs = wait.as_secs().max(1);
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests to the task's endpoints",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            return r;
        }
        if method != Method::GET && method != Method::HEAD {
            let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "only GET is served here");
            r.headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        if path == credentials::PATH || path.starts_with("/v2/credentials/") {
            return self.credentials(headers);
        }
        let Some((i, rest)) = self.container_path(path) else {
            return error(StatusCode::NOT_FOUND, "no such metadata path");
        };
        match rest.trim_end_matches('/') {
            "" => json(&metadata::container(self, i)),
            "/task" => json(&metadata::task(self, false)),
            "/taskWithTags" => json(&metadata::task(self, true)),
            "/stats" => json(&stats::container(self, i)),
            "/task/stats" => json(&stats::task(self)),
            _ => error(StatusCode::NOT_FOUND, "no such metadata path"),
        }
    }

    /// `/v3/<id>…` or `/v4/<id>…`: the container it names and the rest of the path.
    fn container_path<'p>(&self, path: &'p str) -> Option<(usize, &'p str)> {
        let rest = path
            .strip_prefix("/v4/")
            .or_else(|| path.strip_prefix("/v3/"))?;
        let (id, rest) = rest.find('/').map_or((rest, ""), |at| rest.split_at(at));
        let i = self.containers.iter().position(|c| c.docker_id == id)?;
        Some((i, rest))
    }

    fn credentials(&self, headers: &HeaderMap) -> Response<Full<Bytes>> {
        let Some(creds) = &self.credentials else {
            return error(
                StatusCode::NOT_FOUND,
                "this task has no role (taskRoleArn) or the host serves no role credentials",
            );
        };
        let Some(given) = headers.get(header::AUTHORIZATION) else {
            return error(
                StatusCode::UNAUTHORIZED,
                "the Authorization header is missing",
            );
        };
        if !credentials::token_matches(&creds.token, given.as_bytes()) {
            return error(
                StatusCode::FORBIDDEN,
                "the Authorization token is not this task's",
            );
        }
        match creds.provider.credentials(&self.identity.task_id) {
            Some(c) => respond(StatusCode::OK, credentials::to_json(&c)),
            None => error(
                StatusCode::NOT_FOUND,
                "no credentials for this task (revoked, or not issued yet)",
            ),
        }
    }

    /// Tells the provider the task (with a role) is starting.
    pub(super) fn task_started(&self, role_arn: &str) {
        if let Some(c) = &self.credentials {
            c.provider.task_started(&TaskRole {
                task_id: self.identity.task_id.clone(),
                task_arn: self.identity.task_arn.clone(),
                role_arn: role_arn.to_owned(),
            });
        }
    }

    /// Tells the provider the task is stopped: its credentials end.
    pub(super) fn task_stopped(&self) {
        if let Some(c) = &self.credentials {
            c.provider.task_stopped(&self.identity.task_id);
        }
    }
}

/// A container's `DockerId`: `<task id>-<10 digits>` as on Fargate, the digits from the
/// container's name so that the id is stable for the task's life.
fn docker_id(task_id: &str, name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    format!("{task_id}-{n:010}")
}

/// Puts `extra` into `env`, replacing variables of the same name (the platform's win, as
/// the ECS agent's do).
pub fn merge_env(env: &mut Vec<(String, String)>, extra: Vec<(String, String)>) {
    env.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
    env.extend(extra);
}

fn json(value: &serde_json::Value) -> Response<Full<Bytes>> {
    respond(
        StatusCode::OK,
        serde_json::to_vec(value).unwrap_or_default(),
    )
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "error": message });
    respond(status, serde_json::to_vec(&body).unwrap_or_default())
}

fn respond(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests;
