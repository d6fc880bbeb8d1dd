//! IAM: the policy language and the authorisation of every API request (issue 12).

pub mod authz;
pub mod policy;
