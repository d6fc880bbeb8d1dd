//! IAM (issue 12): the policy language and its evaluation (`policy`), the authorisation of
//! every API request (`authz`), the `wasmgate:` network actions of task roles (`network`), IAM's state (`store`: users, groups, roles, managed
//! policies, access keys, as state-store documents) and the IAM API over it (`api`).

pub mod api;
pub mod authz;
pub mod network;
pub mod policy;
pub mod store;
