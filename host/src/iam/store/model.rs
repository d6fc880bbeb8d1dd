//! The IAM entities as stored: one state-store document each (`iam.user`, `iam.group`,
//! `iam.role`, `iam.policy`, `iam.access-key`). Policy documents are kept as the text the
//! caller sent, because IAM answers them back verbatim (URL-encoded).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Document kinds in the state store.
pub const USER: &str = "iam.user";
pub const GROUP: &str = "iam.group";
pub const ROLE: &str = "iam.role";
pub const POLICY: &str = "iam.policy";
pub const ACCESS_KEY: &str = "iam.access-key";

/// A tag of a user, role or policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    /// `AIDA…`.
    pub id: String,
    pub arn: String,
    pub path: String,
    /// Seconds since the epoch.
    pub created: f64,
    #[serde(default)]
    pub tags: Vec<Tag>,
    /// Inline policies: name → document text.
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    /// ARNs of attached managed policies, in attachment order.
    #[serde(default)]
    pub attached_policies: Vec<String>,
    /// Names of the groups the user is in (as the groups spell them).
    #[serde(default)]
    pub groups: Vec<String>,
}

/// An IAM group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    /// `AGPA…`.
    pub id: String,
    pub arn: String,
    pub path: String,
    pub created: f64,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    #[serde(default)]
    pub attached_policies: Vec<String>,
}

/// An IAM role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    /// `AROA…`.
    pub id: String,
    pub arn: String,
    pub path: String,
    pub created: f64,
    /// The trust policy (AssumeRolePolicyDocument) as sent.
    pub trust_policy: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Seconds, 3600–43200.
    pub max_session_duration: u32,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub inline_policies: BTreeMap<String, String>,
    #[serde(default)]
    pub attached_policies: Vec<String>,
}

/// A customer managed policy with its versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub name: String,
    /// `ANPA…`.
    pub id: String,
    pub arn: String,
    pub path: String,
    #[serde(default)]
    pub description: Option<String>,
    pub created: f64,
    pub updated: f64,
    /// `v1`, `v2`, …: the version the policy's holders get.
    pub default_version: String,
    /// The number of the next version created (ids are never reused).
    pub next_version: u32,
    /// Oldest first.
    pub versions: Vec<PolicyVersion>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl ManagedPolicy {
    pub fn version(&self, id: &str) -> Option<&PolicyVersion> {
        self.versions.iter().find(|v| v.id == id)
    }

    /// The document of the default version.
    pub fn default_document(&self) -> Option<&str> {
        self.version(&self.default_version)
            .map(|v| v.document.as_str())
    }
}

/// One version of a managed policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub id: String,
    pub document: String,
    pub created: f64,
}

/// Whether an access key may sign requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyStatus {
    Active,
    Inactive,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "Active",
            KeyStatus::Inactive => "Inactive",
        }
    }
}

/// An IAM user's access key.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessKey {
    /// `AKIA…`, 20 characters.
    pub id: String,
    /// 40 characters.
    pub secret: String,
    pub status: KeyStatus,
    pub user_name: String,
    pub created: f64,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("user_name", &self.user_name)
            .finish_non_exhaustive()
    }
}

/// Which kind of principal holds a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    User,
    Group,
    Role,
}

impl Holder {
    pub fn noun(self) -> &'static str {
        match self {
            Holder::User => "user",
            Holder::Group => "group",
            Holder::Role => "role",
        }
    }

    /// AWS's quota names: `PoliciesPerUser`.
    pub fn quota_noun(self) -> &'static str {
        match self {
            Holder::User => "User",
            Holder::Group => "Group",
            Holder::Role => "Role",
        }
    }
}
