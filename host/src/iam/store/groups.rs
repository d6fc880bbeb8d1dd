//! Groups and their members. Membership is kept on the user's document (`groups`), so
//! adding or removing a member writes one document.

use super::model::{Group, User};
use super::{IamError, IamResult, IamStore, MAX_GROUPS_PER_USER, ids, key, now, validate};
use std::sync::Arc;

impl IamStore {
    pub fn create_group(&self, name: &str, path: Option<&str>) -> IamResult<Arc<Group>> {
        validate::name("groupName", name, validate::MAX_GROUP_NAME)?;
        let path = path.unwrap_or("/");
        validate::path("path", path)?;
        let _w = self.lock_writer();
        if self.group(name).is_some() {
            return Err(IamError::exists("Group", name));
        }
        self.insert(Group {
            name: name.to_owned(),
            id: ids::entity_id(ids::GROUP_PREFIX),
            arn: format!("arn:aws:iam::{}:group{path}{name}", self.account_id),
            path: path.to_owned(),
            created: now(),
            inline_policies: Default::default(),
            attached_policies: Vec::new(),
        })
    }

    /// Deletes a group without members or policies.
    pub fn delete_group(&self, name: &str) -> IamResult<()> {
        let _w = self.lock_writer();
        let old = self.group_entry(name)?;
        let g = &old.value;
        let conflict = |what: &str| {
            Err(IamError::DeleteConflict(format!(
                "Cannot delete entity, must {what} first."
            )))
        };
        if !self.members_of(&g.name).is_empty() {
            return conflict("remove users from group");
        }
        if !g.inline_policies.is_empty() {
            return conflict("delete policies");
        }
        if !g.attached_policies.is_empty() {
            return conflict("detach all policies");
        }
        self.remove(&old)
    }

    /// Adds a user to a group; adding a member again changes nothing, as in IAM.
    pub fn add_user_to_group(&self, group_name: &str, user_name: &str) -> IamResult<()> {
        let _w = self.lock_writer();
        let group = self.group_entry(group_name)?.value;
        let old = self.user_entry(user_name)?;
        if old.value.groups.iter().any(|g| key(g) == key(&group.name)) {
            return Ok(());
        }
        if old.value.groups.len() >= MAX_GROUPS_PER_USER {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}"
            )));
        }
        let mut u = (*old.value).clone();
        u.groups.push(group.name.clone());
        self.replace(&old, u).map(drop)
    }

    pub fn remove_user_from_group(&self, group_name: &str, user_name: &str) -> IamResult<()> {
        let _w = self.lock_writer();
        let group = self.group_entry(group_name)?.value;
        let old = self.user_entry(user_name)?;
        if !old.value.groups.iter().any(|g| key(g) == key(&group.name)) {
            return Err(IamError::no_such("user", user_name));
        }
        let mut u = (*old.value).clone();
        u.groups.retain(|g| key(g) != key(&group.name));
        self.replace(&old, u).map(drop)
    }

    /// The groups a user is in, by name.
    pub fn groups_of(&self, user: &User) -> Vec<Arc<Group>> {
        let mut groups: Vec<Arc<Group>> =
            user.groups.iter().filter_map(|g| self.group(g)).collect();
        groups.sort_by_key(|g| key(&g.name));
        groups
    }

    pub(super) fn group_entry(&self, name: &str) -> IamResult<super::Entry<Group>> {
        self.entry::<Group>(&key(name))
            .ok_or_else(|| IamError::no_such("group", name))
    }
}
