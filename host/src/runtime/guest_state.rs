//! What a container's `Store` holds: its WASI context, resource table and limits.
//!
//! The host reaches each capability through a small view, the way wasmtime-wasi does; adding
//! a capability means one field here and one `add_to_linker` call in `engine`.

use super::fsquota::{QuotaFsView, StorageQuota, StoreFiles};
use super::limits::ContainerLimiter;
use super::net::{ContainerNet, TaskNetView};
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

pub struct GuestState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: ContainerLimiter,
    pub quota: Arc<StorageQuota>,
    /// Files and directories this store's guest holds open, against its container's cap.
    pub files: StoreFiles,
    pub http: WasiHttpCtx,
    /// Where the guest's outgoing wasi:http requests go (`http::OutgoingHooks`: siblings
    /// in-process, else the task's egress rules). Held as wasmtime-wasi-http's trait so that
    /// this module, which `http/` builds stores from, does not point back up to `http/`.
    pub http_hooks: Box<dyn WasiHttpHooks>,
    /// The task's network as this container's sockets see it (address map, rules, ports).
    pub net: ContainerNet,
}

/// A resource table that holds at most `max` handles: a guest creating handles in a loop
/// (pollables, streams, HTTP fields...) would otherwise grow host memory without bound
/// (wasmtime's default cap is a million). Past it the guest traps.
pub fn bounded_table(max: usize) -> ResourceTable {
    let mut table = ResourceTable::new();
    table.set_max_capacity(max);
    table
}

impl GuestState {
    /// wasi:sockets as the task's network sees it.
    pub fn task_net(&mut self) -> TaskNetView<'_> {
        TaskNetView {
            inner: wasmtime_wasi::sockets::WasiSocketsCtxView {
                ctx: self.wasi.sockets(),
                table: &mut self.table,
            },
            net: &mut self.net,
        }
    }

    /// The filesystem as the storage quota sees it.
    pub fn quota_fs(&mut self) -> QuotaFsView<'_> {
        QuotaFsView {
            inner: wasmtime_wasi::filesystem::WasiFilesystemCtxView {
                ctx: self.wasi.filesystem(),
                table: &mut self.table,
            },
            quota: &self.quota,
            files: &mut self.files,
        }
    }
}

impl WasiHttpView for GuestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut *self.http_hooks,
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
