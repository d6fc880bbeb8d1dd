//! Policies that reach into the sandbox: a task role's `wasmgate:` statements decide what
//! the task's code may reach (the runtime asks through `runtime::net::NetworkAuthority`).
//!
//! - `wasmgate:NetworkConnect` (TCP connect, UDP send; inbound sources off loopback too) on
//!   `arn:wasmgate:network:<region>:<account>:destination/<ip>:<port>`;
//! - `wasmgate:HttpRequest` (outgoing wasi:http) on the same resource, with the host the
//!   guest named;
//! - `wasmgate:NetworkListen` (a listen or UDP bind on a port beyond the task's
//!   portMappings) on `arn:wasmgate:network:<region>:<account>:listener/<port>`.
//!
//! Condition keys: `wasmgate:DestinationCidr` (the destination address, for `IpAddress`),
//! `wasmgate:DestinationPort`, `wasmgate:DestinationFamily`, `wasmgate:DestinationCluster` (its
//! ARN) and `wasmgate:DestinationService` (when the destination is a task of this host; the
//! service is the one whose scheduler started the task, never a RunTask `group`: service
//! names are unique per cluster, so an Allow pairs it with the cluster; a family is any
//! name a caller allowed `ecs:RegisterTaskDefinition` chooses),
//! `wasmgate:DestinationHost` (HttpRequest), `wasmgate:ListenPort` (NetworkListen),
//! `wasmgate:Protocol` (`tcp`/`udp`), `aws:PrincipalArn` (the role), `aws:RequestedRegion`,
//! `aws:PrincipalAccount`. No time keys: decisions are memoised per task.
//!
//! A role governs its tasks only while one of its policies names a `wasmgate:` action;
//! otherwise the host's `[[network.rules]]` and `egress` decide, as for tasks without a role.

use std::sync::Arc;

use super::policy::{
    ConditionKeys, Decision, EvalContext, NamedPolicy, PolicyDocument, PolicyError, evaluate,
};
use super::store::IamStore;
use crate::runtime::net::{
    NetAction, NetRequest, NetVerdict, NetworkAuthorities, NetworkAuthority, Proto,
};
use crate::util::sync::lock;

/// The action prefix of the sandbox's actions.
pub const SERVICE: &str = "wasmgate";

/// A role's identity policies, as a task's network asks them.
pub struct RoleNetworkPolicy {
    role_arn: String,
    region: String,
    account: String,
    policies: Vec<(String, Arc<PolicyDocument>)>,
}

/// A plain policy document that does not parse, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy {name}: {error}")]
pub struct DocumentError {
    pub name: String,
    pub error: PolicyError,
}

impl RoleNetworkPolicy {
    /// `policies` (parsed identity policies with the names decisions report them by), or
    /// `None` when none names a `wasmgate:` action.
    pub fn new(
        role_arn: &str,
        region: &str,
        account: &str,
        policies: Vec<(String, Arc<PolicyDocument>)>,
    ) -> Option<Self> {
        policies
            .iter()
            .any(|(_, d)| d.names_service(SERVICE))
            .then(|| Self {
                role_arn: role_arn.to_owned(),
                region: region.to_owned(),
                account: account.to_owned(),
                policies,
            })
    }

    /// From plain documents `(name, JSON text)` (`wasmgate run --role-policy FILE`), each
    /// parsed as an identity policy; `Ok(None)` when none names a `wasmgate:` action.
    pub fn from_documents(
        role_arn: &str,
        region: &str,
        account: &str,
        documents: &[(String, String)],
    ) -> Result<Option<Self>, DocumentError> {
        let policies = documents
            .iter()
            .map(|(name, text)| {
                PolicyDocument::parse_identity(text)
                    .map(|d| (name.clone(), Arc::new(d)))
                    .map_err(|error| DocumentError {
                        name: name.clone(),
                        error,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::new(role_arn, region, account, policies))
    }

    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }

    /// The evaluation context of one request: action, resource ARN, condition keys.
    pub fn context(&self, r: &NetRequest<'_>) -> EvalContext {
        let mut keys = ConditionKeys::new();
        keys.insert("aws:PrincipalArn", self.role_arn.clone());
        keys.insert("aws:PrincipalAccount", self.account.clone());
        keys.insert("aws:RequestedRegion", self.region.clone());
        keys.insert(
            "wasmgate:Protocol",
            match r.proto {
                Proto::Tcp => "tcp",
                Proto::Udp => "udp",
            },
        );
        let prefix = format!("arn:wasmgate:network:{}:{}", self.region, self.account);
        let resource = match r.action {
            NetAction::Listen => {
                keys.insert("wasmgate:ListenPort", r.dest.port().to_string());
                format!("{prefix}:listener/{}", r.dest.port())
            }
            NetAction::Connect | NetAction::HttpRequest => {
                let ip = r.dest.ip().to_canonical();
                keys.insert("wasmgate:DestinationCidr", ip.to_string());
                keys.insert("wasmgate:DestinationPort", r.dest.port().to_string());
                if let Some(peer) = r.peer {
                    keys.insert("wasmgate:DestinationFamily", peer.family.clone());
                    if let Some(service) = &peer.service {
                        keys.insert("wasmgate:DestinationService", service.clone());
                    }
                    if let Some(cluster) = &peer.cluster {
                        keys.insert("wasmgate:DestinationCluster", cluster.clone());
                    }
                }
                if let Some(host) = r.host {
                    keys.insert("wasmgate:DestinationHost", host.to_owned());
                }
                format!(
                    "{prefix}:destination/{}",
                    std::net::SocketAddr::new(ip, r.dest.port())
                )
            }
        };
        EvalContext {
            action: r.action.name().to_owned(),
            resource,
            principal_arn: self.role_arn.clone(),
            keys,
        }
    }

    /// Evaluates the role's policies for one request (no memo: see `TaskAuthority`).
    pub fn evaluate(&self, r: &NetRequest<'_>) -> NetVerdict {
        let named: Vec<NamedPolicy<'_>> = self
            .policies
            .iter()
            .map(|(name, document)| NamedPolicy { name, document })
            .collect();
        let decision = evaluate(&named, &self.context(r));
        let by = match &decision {
            Decision::Allow(m) | Decision::ExplicitDeny(m) => {
                let how = if decision.is_allowed() {
                    "allowed"
                } else {
                    "explicit deny"
                };
                match &m.sid {
                    Some(sid) => format!(
                        "{how} by statement {} (Sid {sid:?}) of {}",
                        m.statement_index, m.policy
                    ),
                    None => format!("{how} by statement {} of {}", m.statement_index, m.policy),
                }
            }
            Decision::ImplicitDeny => format!(
                "no statement of the policies of {} allows it (implicit deny)",
                self.role_arn
            ),
        };
        NetVerdict {
            allowed: decision.is_allowed(),
            by: by.into(),
        }
    }
}

impl NetworkAuthority for RoleNetworkPolicy {
    fn decide(&self, request: &NetRequest<'_>) -> Option<NetVerdict> {
        Some(self.evaluate(request))
    }
}

/// The same policies for every task (`wasmgate run --role-policy FILE`).
pub struct FixedAuthorities(pub Arc<RoleNetworkPolicy>);

impl NetworkAuthorities for FixedAuthorities {
    fn for_task(&self, _role_arn: Option<&str>) -> Option<Arc<dyn NetworkAuthority>> {
        Some(self.0.clone())
    }
}

/// Task roles from the IAM store (`serve`, and `run` over the data directory's state):
/// a task with a `taskRoleArn` of this account is asked of its role's policies as they
/// are now, re-read whenever IAM changes.
pub struct IamNetworkAuthorities {
    store: Arc<IamStore>,
}

impl IamNetworkAuthorities {
    pub fn new(store: Arc<IamStore>) -> Self {
        Self { store }
    }
}

impl NetworkAuthorities for IamNetworkAuthorities {
    fn for_task(&self, role_arn: Option<&str>) -> Option<Arc<dyn NetworkAuthority>> {
        let role_arn = role_arn?;
        let prefix = format!("arn:aws:iam::{}:role/", self.store.account_id());
        // Another account's role (a definition written for AWS) holds no policy here.
        let name = role_arn
            .strip_prefix(&prefix)?
            .rsplit('/')
            .next()?
            .to_owned();
        let role = StoreRole {
            store: self.store.clone(),
            role_arn: role_arn.to_owned(),
            name,
            current: std::sync::Mutex::new(None),
        };
        if role.current().is_some() {
            tracing::info!(
                "task role {role_arn}: its wasmgate: policies govern the task's network"
            );
        }
        Some(Arc::new(role))
    }
}

/// One task's role in the store: its policies as of the store's generation.
struct StoreRole {
    store: Arc<IamStore>,
    role_arn: String,
    name: String,
    current: std::sync::Mutex<Option<(u64, Option<Arc<RoleNetworkPolicy>>)>>,
}

impl StoreRole {
    /// The role's policies now (re-read when the store's generation moved).
    fn current(&self) -> Option<Arc<RoleNetworkPolicy>> {
        let generation = self.store.generation();
        let mut current = lock(&self.current);
        if let Some((g, policy)) = current.as_ref()
            && *g == generation
        {
            return policy.clone();
        }
        let policy = self.load();
        *current = Some((generation, policy.clone()));
        policy
    }

    fn load(&self) -> Option<Arc<RoleNetworkPolicy>> {
        let role = self.store.role(&self.name)?;
        // Same name, another path: not the role the definition names.
        if role.arn != self.role_arn {
            return None;
        }
        let policies = self.store.role_identity_policies(&role.name)?;
        RoleNetworkPolicy::new(
            &self.role_arn,
            self.store.region(),
            self.store.account_id(),
            policies,
        )
        .map(Arc::new)
    }
}

impl NetworkAuthority for StoreRole {
    fn decide(&self, request: &NetRequest<'_>) -> Option<NetVerdict> {
        self.current().map(|p| p.evaluate(request))
    }

    fn generation(&self) -> u64 {
        self.store.generation()
    }

    fn governs(&self) -> bool {
        self.current().is_some()
    }
}

#[cfg(test)]
mod tests;
