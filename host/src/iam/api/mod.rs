//! The IAM query API over [`IamStore`](super::store::IamStore).
