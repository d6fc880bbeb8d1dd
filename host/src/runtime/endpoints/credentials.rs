//! The task-role credentials endpoint (ECS's `AWS_CONTAINER_CREDENTIALS_FULL_URI`): a GET
//! with the task's `Authorization` token answers the JSON the AWS SDKs' container
//! credential provider reads. The credentials come from a [`TaskCredentialsProvider`]
//! (the STS side of the host); this module only checks the token and shapes the answer.

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::time::SystemTime;

/// The path credentials are served on (ECS serves `/v2/credentials/<id>`; here the whole
/// endpoint belongs to one task, so the token alone says who asks).
pub const PATH: &str = "/v2/credentials";

/// One set of temporary credentials for a task's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub token: String,
    pub expiration: SystemTime,
    pub role_arn: String,
}

/// A task that has a role: what a provider is told when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRole {
    pub task_id: String,
    pub task_arn: String,
    pub role_arn: String,
}

/// Where tasks' role credentials come from. The runtime asks on every request, so an
/// implementation hands out what it holds now (rotated in its own time) and `None` once
/// the task's credentials are revoked.
pub trait TaskCredentialsProvider: Send + Sync {
    fn credentials(&self, task_id: &str) -> Option<ContainerCredentials>;

    /// Whether tasks may run with `role_arn` (ECS refuses RunTask and CreateService for a
    /// role that does not exist or does not trust `ecs-tasks.amazonaws.com`); the error
    /// is the ClientException's message.
    fn check_role(&self, _role_arn: &str) -> Result<(), String> {
        Ok(())
    }

    /// A task with a `taskRoleArn` is starting (before any container runs): a provider
    /// may issue its first credentials now.
    fn task_started(&self, _task: &TaskRole) {}

    /// The task is STOPPED: its credentials must stop working.
    fn task_stopped(&self, _task_id: &str) {}
}

/// The JSON the SDKs' container provider reads (botocore `ContainerMetadataFetcher`,
/// the Rust SDK's `ecs` provider): these five members, `Expiration` in ISO 8601.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Body<'a> {
    access_key_id: &'a str,
    secret_access_key: &'a str,
    token: &'a str,
    expiration: String,
    role_arn: &'a str,
}

pub fn to_json(c: &ContainerCredentials) -> Vec<u8> {
    let body = Body {
        access_key_id: &c.access_key_id,
        secret_access_key: &c.secret_access_key,
        token: &c.token,
        expiration: super::time::iso8601(c.expiration),
        role_arn: &c.role_arn,
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// A fresh random token (two v4 UUIDs: 244 random bits from the OS generator).
pub fn new_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Whether `given` is the task's token, in time that does not depend on where they differ
/// (both sides are hashed first).
pub fn token_matches(expected: &str, given: &[u8]) -> bool {
    Sha256::digest(expected.as_bytes()) == Sha256::digest(given)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_has_the_members_the_sdks_read() {
        let c = ContainerCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "secret".into(),
            token: "session".into(),
            expiration: std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
            role_arn: "arn:aws:iam::000000000000:role/app".into(),
        };
        let v: serde_json::Value = serde_json::from_slice(&to_json(&c)).unwrap();
        assert_eq!(v["AccessKeyId"], "ASIAEXAMPLE");
        assert_eq!(v["SecretAccessKey"], "secret");
        assert_eq!(v["Token"], "session");
        assert_eq!(v["Expiration"], "2023-11-14T22:13:20Z");
        assert_eq!(v["RoleArn"], "arn:aws:iam::000000000000:role/app");
    }

    #[test]
    fn tokens_are_random_and_compared_whole() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(token_matches(&a, a.as_bytes()));
        assert!(!token_matches(&a, b.as_bytes()));
        assert!(!token_matches(&a, &a.as_bytes()[..63]));
        assert!(!token_matches(&a, b""));
    }
}
