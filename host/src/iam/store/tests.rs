use super::*;
use crate::state::memory::MemStore;

pub(super) fn store() -> (Arc<MemStore>, IamStore) {
    let mem = Arc::new(MemStore::default());
    let s = IamStore::new(mem.clone(), "000000000000", "us-east-1").unwrap();
    (mem, s)
}
