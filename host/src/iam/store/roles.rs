//! Roles: a trust policy (who may assume it), a session length, tags.

use super::model::{Role, Tag};
use super::{IamError, IamResult, IamStore, documents, ids, key, now, validate};
use std::sync::Arc;

/// What CreateRole takes.
#[derive(Debug, Clone, Default)]
pub struct NewRole {
    pub name: String,
    pub path: Option<String>,
    pub trust_policy: String,
    pub description: Option<String>,
    pub max_session_duration: Option<u32>,
    pub tags: Vec<Tag>,
}

impl IamStore {
    pub fn create_role(&self, new: NewRole) -> IamResult<Arc<Role>> {
        validate::name("roleName", &new.name, validate::MAX_ROLE_NAME)?;
        let path = new.path.as_deref().unwrap_or("/");
        validate::path("path", path)?;
        if let Some(d) = &new.description {
            validate::length("description", d, 0, validate::MAX_DESCRIPTION)?;
        }
        let max_session = new
            .max_session_duration
            .unwrap_or(validate::MIN_SESSION_DURATION);
        validate::max_session_duration(max_session)?;
        validate::tags(&new.tags, &[])?;
        documents::check_trust(&new.trust_policy)?;
        let _w = self.lock_writer();
        if self.role(&new.name).is_some() {
            return Err(IamError::exists("Role", &new.name));
        }
        self.insert(Role {
            id: ids::entity_id(ids::ROLE_PREFIX),
            arn: format!("arn:aws:iam::{}:role{path}{}", self.account_id, new.name),
            path: path.to_owned(),
            name: new.name,
            created: now(),
            trust_policy: new.trust_policy,
            description: new.description,
            max_session_duration: max_session,
            tags: new.tags,
            inline_policies: Default::default(),
            attached_policies: Vec::new(),
        })
    }

    /// Deletes a role without policies.
    pub fn delete_role(&self, name: &str) -> IamResult<()> {
        let _w = self.lock_writer();
        let old = self.role_entry(name)?;
        let conflict = |what: &str| {
            Err(IamError::DeleteConflict(format!(
                "Cannot delete entity, must {what} first."
            )))
        };
        if !old.value.inline_policies.is_empty() {
            return conflict("delete policies");
        }
        if !old.value.attached_policies.is_empty() {
            return conflict("detach all policies");
        }
        self.remove(&old)
    }

    pub fn update_trust_policy(&self, name: &str, document: &str) -> IamResult<()> {
        documents::check_trust(document)?;
        let _w = self.lock_writer();
        let old = self.role_entry(name)?;
        let mut r = (*old.value).clone();
        r.trust_policy = document.to_owned();
        self.replace(&old, r).map(drop)
    }

    pub fn tag_role(&self, name: &str, tags: Vec<Tag>) -> IamResult<()> {
        let _w = self.lock_writer();
        let old = self.role_entry(name)?;
        validate::tags(&tags, &old.value.tags)?;
        let mut r = (*old.value).clone();
        validate::merge_tags(&mut r.tags, tags);
        self.replace(&old, r).map(drop)
    }

    pub fn untag_role(&self, name: &str, keys: &[String]) -> IamResult<()> {
        let _w = self.lock_writer();
        let old = self.role_entry(name)?;
        let mut r = (*old.value).clone();
        r.tags
            .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
        self.replace(&old, r).map(drop)
    }

    pub(super) fn role_entry(&self, name: &str) -> IamResult<super::Entry<Role>> {
        self.entry::<Role>(&key(name))
            .ok_or_else(|| IamError::no_such("role", name))
    }
}
