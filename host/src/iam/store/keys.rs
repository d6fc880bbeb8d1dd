//! Access keys: at most two per user, Active or Inactive.

use super::model::{AccessKey, KeyStatus};
use super::{IamError, IamResult, IamStore, key, now};
use std::sync::Arc;

/// Access keys per user (IAM's quota `AccessKeysPerUser`).
pub const MAX_KEYS_PER_USER: usize = 2;

impl IamStore {
    pub fn create_access_key(&self, user_name: &str) -> IamResult<Arc<AccessKey>> {
        let _w = self.lock_writer();
        let user = self.user_entry(user_name)?.value;
        if self.keys_of(&user.name).len() >= MAX_KEYS_PER_USER {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS_PER_USER}"
            )));
        }
        self.insert(AccessKey {
            id: super::ids::access_key_id(),
            secret: super::ids::secret_access_key(),
            status: KeyStatus::Active,
            user_name: user.name.clone(),
            created: now(),
        })
    }

    pub fn update_access_key(&self, user_name: &str, id: &str, status: KeyStatus) -> IamResult<()> {
        let _w = self.lock_writer();
        let old = self.key_entry(user_name, id)?;
        let mut k = (*old.value).clone();
        k.status = status;
        self.replace(&old, k).map(drop)
    }

    pub fn delete_access_key(&self, user_name: &str, id: &str) -> IamResult<()> {
        let _w = self.lock_writer();
        let old = self.key_entry(user_name, id)?;
        self.remove(&old)
    }

    /// The key `id` of `user_name`; a key of another user is not found, as in IAM.
    fn key_entry(&self, user_name: &str, id: &str) -> IamResult<super::Entry<AccessKey>> {
        self.user_entry(user_name)?;
        self.entry::<AccessKey>(id)
            .filter(|e| key(&e.value.user_name) == key(user_name))
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!("The Access Key with id {id} cannot be found."))
            })
    }
}
