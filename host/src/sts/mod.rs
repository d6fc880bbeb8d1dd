//! STS (issue 12): who am I (GetCallerIdentity) and temporary credentials for a role
//! (AssumeRole), over the awsQuery protocol.
//!
//! - [`StsService`]: the API, a `protocol::Service`;
//! - [`Sessions`]: the issued sessions, as state-store documents and an in-memory index,
//!   swept when expired, revocable ([`Sessions::revoke_session`]);
//! - [`Credentials`]: the `protocol::CredentialSource` the SigV4 check asks for keys the
//!   host config does not list: IAM users' keys and sessions;
//! - [`RoleDirectory`]: what STS asks IAM (the role, its trust policy's decision), and
//!   [`IamRoles`], its implementation over the IAM store;
//! - [`WithSessionTags`]: the authoriser's policy source with sessions' tags added;
//! - [`TaskRoleCredentials`]: tasks' role credentials (the runtime's
//!   `TaskCredentialsProvider`): a session per task, rotated, revoked at STOPPED.

mod credentials;
mod iam;
mod keys;
mod model;
mod roles;
mod service;
mod sessions;
mod task_roles;
mod validate;

#[cfg(test)]
mod tests;

pub use credentials::Credentials;
pub use iam::{IamRoles, TrustGrant, WithSessionTags};
pub use roles::{RoleDirectory, RoleInfo, TrustRequest};
pub use service::{MAX_SESSIONS_PER_PRINCIPAL, StsService};
pub use sessions::{EXPIRED_GRACE, Grant, KIND as SESSION_KIND, Session, SessionError, Sessions};
pub use task_roles::{ECS_TASKS, TaskRoleCredentials};
pub use validate::{DEFAULT_DURATION, MAX_DURATION, MIN_DURATION};

use std::time::Duration;

/// Forgets expired sessions every `every`, for as long as the runtime runs.
pub fn spawn_sweeper(sessions: std::sync::Arc<Sessions>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let s = sessions.clone();
            let swept =
                tokio::task::spawn_blocking(move || s.sweep(time::OffsetDateTime::now_utc())).await;
            match swept {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::debug!("sts: forgot {n} expired sessions"),
                Ok(Err(e)) => tracing::warn!("sts: sweeping expired sessions failed: {e}"),
                Err(e) => tracing::warn!("sts: the session sweep stopped: {e}"),
            }
        }
    });
}
