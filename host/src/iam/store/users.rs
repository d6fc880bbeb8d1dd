//! Users: create, tag, delete.

use super::model::{Tag, User};
use super::{IamError, IamResult, IamStore, ids, key, now, validate};
use std::sync::Arc;

impl IamStore {
    pub fn create_user(
        &self,
        name: &str,
        path: Option<&str>,
        tags: Vec<Tag>,
    ) -> IamResult<Arc<User>> {
        validate::name("userName", name, validate::MAX_USER_NAME)?;
        let path = path.unwrap_or("/");
        validate::path("path", path)?;
        validate::tags(&tags, &[])?;
        let _w = self.lock_writer();
        if self.user(name).is_some() {
            return Err(IamError::exists("User", name));
        }
        self.insert(User {
            name: name.to_owned(),
            id: ids::entity_id(ids::USER_PREFIX),
            arn: self.user_arn(path, name),
            path: path.to_owned(),
            created: now(),
            tags,
            inline_policies: Default::default(),
            attached_policies: Vec::new(),
            groups: Vec::new(),
        })
    }

    /// Deletes a user that has no access keys, policies or group memberships left, as IAM
    /// insists.
    pub fn delete_user(&self, name: &str) -> IamResult<()> {
        let _w = self.lock_writer();
        let old = self.user_entry(name)?;
        let u = &old.value;
        let conflict = |what: &str| {
            Err(IamError::DeleteConflict(format!(
                "Cannot delete entity, must {what} first."
            )))
        };
        if !self.keys_of(&u.name).is_empty() {
            return conflict("delete access keys");
        }
        if !u.inline_policies.is_empty() {
            return conflict("delete policies");
        }
        if !u.attached_policies.is_empty() {
            return conflict("detach all policies");
        }
        if !u.groups.is_empty() {
            return conflict("remove users from group");
        }
        self.remove(&old)
    }

    pub fn tag_user(&self, name: &str, tags: Vec<Tag>) -> IamResult<()> {
        let _w = self.lock_writer();
        let old = self.user_entry(name)?;
        validate::tags(&tags, &old.value.tags)?;
        let mut u = (*old.value).clone();
        validate::merge_tags(&mut u.tags, tags);
        self.replace(&old, u).map(drop)
    }

    pub fn untag_user(&self, name: &str, keys: &[String]) -> IamResult<()> {
        let _w = self.lock_writer();
        let old = self.user_entry(name)?;
        let mut u = (*old.value).clone();
        u.tags
            .retain(|t| !keys.iter().any(|k| k.eq_ignore_ascii_case(&t.key)));
        self.replace(&old, u).map(drop)
    }

    pub(super) fn user_entry(&self, name: &str) -> IamResult<super::Entry<User>> {
        self.entry::<User>(&key(name))
            .ok_or_else(|| IamError::no_such("user", name))
    }
}
