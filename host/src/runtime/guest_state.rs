//! What a container's `Store` holds: its WASI context, resource table and limits.
//!
//! The host reaches each capability through a small view, the way wasmtime-wasi does; adding
//! a capability means one field here and one `add_to_linker` call in `engine`.

use super::fsquota::{QuotaFsView, StorageQuota};
use super::limits::ContainerLimiter;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub struct GuestState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: ContainerLimiter,
    pub quota: Arc<StorageQuota>,
}

impl GuestState {
    /// The filesystem as the storage quota sees it.
    pub fn quota_fs(&mut self) -> QuotaFsView<'_> {
        QuotaFsView {
            inner: wasmtime_wasi::filesystem::WasiFilesystemCtxView {
                ctx: self.wasi.filesystem(),
                table: &mut self.table,
            },
            quota: &self.quota,
        }
    }
}

impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
