//! STS's request and response shapes, as botocore's `sts/2011-06-15/service-2.json` has them.
//! Members wasmgate does not act on (MFA `SerialNumber`/`TokenCode`, `ProvidedContexts`,
//! `TransitiveTagKeys`: a session's tags do not pass to the sessions it starts) are not
//! declared: the protocol layer ignores them as AWS ignores unknown members.

use serde::{Deserialize, Serialize};

use crate::protocol::Timestamp;

#[derive(Debug, Default, Deserialize)]
pub struct GetCallerIdentityInput {}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCallerIdentityOutput {
    pub user_id: String,
    pub account: String,
    pub arn: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleInput {
    pub role_arn: String,
    pub role_session_name: String,
    pub duration_seconds: Option<i64>,
    /// Session policies: refused (see `service.rs`), never ignored, since ignoring one would
    /// grant the session more than its caller asked for.
    pub policy: Option<String>,
    #[serde(default)]
    pub policy_arns: Vec<PolicyDescriptor>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Checked by the trust policy's `sts:ExternalId` condition.
    pub external_id: Option<String>,
    pub source_identity: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct PolicyDescriptor {
    #[allow(dead_code)]
    pub arn: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleOutput {
    pub credentials: CredentialsOut,
    pub assumed_role_user: AssumedRoleUser,
    /// Sent by AWS when session policies or tags were passed; wasmgate packs nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packed_policy_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CredentialsOut {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub expiration: Timestamp,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumedRoleUser {
    pub assumed_role_id: String,
    pub arn: String,
}
