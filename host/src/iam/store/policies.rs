//! Customer managed policies and their versions (at most 5; one is the default).

use super::model::{ManagedPolicy, PolicyVersion, Tag};
use super::{
    Entry, IamError, IamResult, IamStore, attachment_count, documents, ids, key, now, validate,
};
use std::sync::Arc;

/// Versions a managed policy may have.
pub const MAX_VERSIONS: usize = 5;

/// ListPolicies' `Scope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyScope {
    #[default]
    All,
    /// AWS managed policies: this host has none.
    Aws,
    Local,
}

/// What ListPolicies filters on.
#[derive(Debug, Clone, Default)]
pub struct ListPoliciesQuery {
    pub scope: PolicyScope,
    pub only_attached: bool,
    pub path_prefix: Option<String>,
}

/// What CreatePolicy takes.
#[derive(Debug, Clone, Default)]
pub struct NewPolicy {
    pub name: String,
    pub path: Option<String>,
    pub document: String,
    pub description: Option<String>,
    pub tags: Vec<Tag>,
}

impl IamStore {
    pub fn create_policy(&self, new: NewPolicy) -> IamResult<Arc<ManagedPolicy>> {
        validate::name("policyName", &new.name, validate::MAX_POLICY_NAME)?;
        let path = new.path.as_deref().unwrap_or("/");
        policy_path(path)?;
        if let Some(d) = &new.description {
            validate::length("description", d, 0, validate::MAX_DESCRIPTION)?;
        }
        validate::tags(&new.tags, &[])?;
        documents::check_managed(&new.document)?;
        let _w = self.lock_writer();
        if self.get::<ManagedPolicy>(&key(&new.name)).is_some() {
            return Err(IamError::EntityAlreadyExists(format!(
                "A policy called {} already exists. Duplicate names are not allowed.",
                new.name
            )));
        }
        let t = now();
        self.insert(ManagedPolicy {
            id: ids::entity_id(ids::POLICY_PREFIX),
            arn: format!("arn:aws:iam::{}:policy{path}{}", self.account_id, new.name),
            path: path.to_owned(),
            name: new.name,
            description: new.description,
            created: t,
            updated: t,
            default_version: "v1".into(),
            next_version: 2,
            versions: vec![PolicyVersion {
                id: "v1".into(),
                document: new.document,
                created: t,
            }],
            tags: new.tags,
        })
    }

    /// A policy by ARN, or `NoSuchEntity` (`InvalidInput` for a string that is no ARN).
    pub fn policy_by_arn(&self, arn: &str) -> IamResult<Arc<ManagedPolicy>> {
        check_policy_arn(arn)?;
        self.policy(arn)
            .ok_or_else(|| IamError::no_such_policy(arn))
    }

    /// Deletes a policy that is attached nowhere and has no version but its default.
    pub fn delete_policy(&self, arn: &str) -> IamResult<()> {
        let _w = self.lock_writer();
        let old = self.policy_entry(arn)?;
        if attachment_count(&self.read(), arn) > 0 {
            return Err(IamError::DeleteConflict(
                "Cannot delete a policy attached to entities.".into(),
            ));
        }
        if old.value.versions.len() > 1 {
            return Err(IamError::DeleteConflict(
                "This policy has more than one version. Before you delete a policy, you must \
                 delete the policy's versions. The default version is deleted with the policy."
                    .into(),
            ));
        }
        self.remove(&old)
    }

    pub fn create_policy_version(
        &self,
        arn: &str,
        document: &str,
        set_as_default: bool,
    ) -> IamResult<PolicyVersion> {
        documents::check_managed(document)?;
        let _w = self.lock_writer();
        let old = self.policy_entry(arn)?;
        if old.value.versions.len() >= MAX_VERSIONS {
            return Err(IamError::LimitExceeded(format!(
                "A managed policy can have up to {MAX_VERSIONS} versions. Before you create a \
                 new version, you must delete an existing version."
            )));
        }
        let mut p = (*old.value).clone();
        let t = now();
        let version = PolicyVersion {
            id: format!("v{}", p.next_version),
            document: document.to_owned(),
            created: t,
        };
        p.next_version += 1;
        p.versions.push(version.clone());
        if set_as_default {
            p.default_version = version.id.clone();
        }
        p.updated = t;
        self.replace(&old, p)?;
        Ok(version)
    }

    pub fn delete_policy_version(&self, arn: &str, version_id: &str) -> IamResult<()> {
        let _w = self.lock_writer();
        let old = self.policy_entry(arn)?;
        if old.value.version(version_id).is_none() {
            return Err(no_such_version(arn, version_id));
        }
        if old.value.default_version == version_id {
            return Err(IamError::DeleteConflict(
                "Cannot delete the default version of a policy.".into(),
            ));
        }
        let mut p = (*old.value).clone();
        p.versions.retain(|v| v.id != version_id);
        self.replace(&old, p).map(drop)
    }

    pub fn set_default_policy_version(&self, arn: &str, version_id: &str) -> IamResult<()> {
        let _w = self.lock_writer();
        let old = self.policy_entry(arn)?;
        if old.value.version(version_id).is_none() {
            return Err(no_such_version(arn, version_id));
        }
        let mut p = (*old.value).clone();
        p.default_version = version_id.to_owned();
        p.updated = now();
        self.replace(&old, p).map(drop)
    }

    /// One version of a policy.
    pub fn policy_version(
        &self,
        arn: &str,
        version_id: &str,
    ) -> IamResult<(Arc<ManagedPolicy>, PolicyVersion)> {
        let p = self.policy_by_arn(arn)?;
        let v = p
            .version(version_id)
            .cloned()
            .ok_or_else(|| no_such_version(arn, version_id))?;
        Ok((p, v))
    }

    /// The customer managed policies that match, by name.
    pub fn list_policies(&self, q: &ListPoliciesQuery) -> IamResult<Vec<Arc<ManagedPolicy>>> {
        if let Some(p) = &q.path_prefix {
            validate::path_prefix("pathPrefix", p)?;
        }
        if q.scope == PolicyScope::Aws {
            return Ok(Vec::new());
        }
        let index = self.read();
        Ok(index
            .policies
            .values()
            .filter(|e| {
                q.path_prefix
                    .as_deref()
                    .is_none_or(|prefix| e.value.path.starts_with(prefix))
            })
            .filter(|e| !q.only_attached || attachment_count(&index, &e.value.arn) > 0)
            .map(|e| e.value.clone())
            .collect())
    }

    fn policy_entry(&self, arn: &str) -> IamResult<Entry<ManagedPolicy>> {
        let p = self.policy_by_arn(arn)?;
        self.entry::<ManagedPolicy>(&key(&p.name))
            .ok_or_else(|| IamError::no_such_policy(arn))
    }
}

fn no_such_version(arn: &str, version_id: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "Policy {arn} version {version_id} does not exist or is not attachable."
    ))
}

/// A managed policy's path: `/` or `/a/b/` of `[A-Za-z0-9.,+@=_-]`.
fn policy_path(path: &str) -> IamResult<()> {
    validate::length("path", path, 1, 512)?;
    let ok = path.starts_with('/')
        && path.ends_with('/')
        && !path.contains("//")
        && path
            .chars()
            .all(|c| c == '/' || c.is_ascii_alphanumeric() || ".,+@=_-".contains(c));
    if !ok {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{path}' at 'path' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: \
             ((/[A-Za-z0-9\\.,\\+@=_-]+)*)/"
        )));
    }
    Ok(())
}

/// An IAM policy ARN, as IAM checks it before looking: `arn:<partition>:iam::<account>:policy/…`.
fn check_policy_arn(arn: &str) -> IamResult<()> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && !parts[1].is_empty()
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[5].starts_with("policy/")
        && parts[5].len() > "policy/".len();
    if !ok {
        return Err(IamError::InvalidInput(format!("ARN {arn} is not valid.")));
    }
    Ok(())
}
