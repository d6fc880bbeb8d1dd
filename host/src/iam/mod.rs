//! IAM (issue 12): the policy language and its evaluation (`policy`), the per-operation
//! authorisation table (`authz`), IAM's state (`store`: users, groups, roles, managed
//! policies, access keys, as state-store documents) and the IAM API over it (`api`).

pub mod api;
pub mod store;
