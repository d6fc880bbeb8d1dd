//! The shadowing `wasi:filesystem/types` host: charges the quota, then delegates to
//! wasmtime-wasi's own implementation on [`WasiFilesystemCtxView`].

use std::sync::Arc;

use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemCtxView};
use wasmtime_wasi::p2::bindings::filesystem::types::{
    self, ErrorCode, HostDescriptor, HostDirectoryEntryStream,
};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, FsResult};

use super::quota::{BLOCK, Reservation, StorageQuota, blocks_touched, growth};
use super::stream::{Charging, QuotaOutputStream};

/// wasmtime-wasi's filesystem view plus the task's quota.
pub struct QuotaFsView<'a> {
    pub inner: WasiFilesystemCtxView<'a>,
    pub quota: &'a Arc<StorageQuota>,
}

/// [`HasData`] marker for registering [`QuotaFsView`] in a linker.
pub struct QuotaFs;

impl HasData for QuotaFs {
    type Data<'a> = QuotaFsView<'a>;
}

/// Registers the shadowing `wasi:filesystem/types`. Call after
/// `wasmtime_wasi::p2::add_to_linker_async`, which it overrides for this interface only;
/// `wasi:filesystem/preopens` and the stream interfaces keep working on the same table.
/// Leaves shadowing disabled afterwards.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> QuotaFsView<'_>,
) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = types::add_to_linker::<T, QuotaFs>(linker, get);
    linker.allow_shadowing(false);
    added
}

/// Reserves `bytes`, or refuses the operation with `insufficient-space` (ENOSPC).
///
/// A free function over the quota alone: a `&QuotaFsView` held across the await would make
/// the host future `!Send` (the resource table is not `Sync`).
async fn reserve(quota: &Arc<StorageQuota>, bytes: u64) -> FsResult<Reservation> {
    match quota.reserve(bytes).await {
        Some(reservation) => Ok(reservation),
        None => Err(ErrorCode::InsufficientSpace.into()),
    }
}

impl QuotaFsView<'_> {
    /// Only descriptors the delegate would let write are charged, so a full quota never
    /// masks `not-permitted` on read-only mounts (and never fires `exceeded` for them).
    fn writable_file(&self, fd: &Resource<Descriptor>) -> bool {
        matches!(self.inner.table.get(fd), Ok(Descriptor::File(f)) if !f.perms.write_not_permitted())
    }

    fn writable_dir(&self, fd: &Resource<Descriptor>) -> bool {
        matches!(self.inner.table.get(fd), Ok(Descriptor::Dir(d)) if !d.perms.write_not_permitted())
    }

    /// A block for a new directory entry/inode, if `fd` is a writable directory.
    fn entry_charge(&self, fd: &Resource<Descriptor>) -> u64 {
        if self.writable_dir(fd) { BLOCK } else { 0 }
    }

    /// Swaps the stream wasmtime-wasi created for one that charges each chunk.
    fn wrap_stream(
        &mut self,
        stream: Resource<DynOutputStream>,
        charging: Charging,
    ) -> FsResult<Resource<DynOutputStream>> {
        let inner = self.inner.table.delete(stream)?;
        let wrapped: DynOutputStream =
            Box::new(QuotaOutputStream::new(inner, self.quota.clone(), charging));
        Ok(self.inner.table.push(wrapped)?)
    }
}

/// Keeps the charge if the operation succeeded, returns it if it failed (nothing written:
/// each of these is a single syscall).
fn settle<T>(result: FsResult<T>, reservation: Reservation) -> FsResult<T> {
    if result.is_err() {
        reservation.release();
    }
    result
}

impl types::Host for QuotaFsView<'_> {
    fn convert_error_code(
        &mut self,
        err: wasmtime_wasi::p2::FsError,
    ) -> wasmtime::Result<ErrorCode> {
        types::Host::convert_error_code(&mut self.inner, err)
    }

    fn filesystem_error_code(
        &mut self,
        err: Resource<wasmtime::Error>,
    ) -> wasmtime::Result<Option<ErrorCode>> {
        types::Host::filesystem_error_code(&mut self.inner, err)
    }
}

impl HostDescriptor for QuotaFsView<'_> {
    async fn write(
        &mut self,
        fd: Resource<types::Descriptor>,
        buf: Vec<u8>,
        offset: types::Filesize,
    ) -> FsResult<types::Filesize> {
        let charge = match self.writable_file(&fd) {
            true => blocks_touched(offset, buf.len() as u64),
            false => 0,
        };
        let reservation = reserve(self.quota, charge).await?;
        let written = HostDescriptor::write(&mut self.inner, fd, buf, offset).await;
        settle(written, reservation)
    }

    async fn set_size(
        &mut self,
        fd: Resource<types::Descriptor>,
        size: types::Filesize,
    ) -> FsResult<()> {
        let mut charge = 0;
        if self.writable_file(&fd) {
            let this = Resource::new_borrow(fd.rep());
            // If stat fails, so will set-size; charging the full size is the safe side.
            let current = match HostDescriptor::stat(&mut self.inner, this).await {
                Ok(stat) => stat.size,
                Err(_) => 0,
            };
            charge = growth(current, size);
        }
        let reservation = reserve(self.quota, charge).await?;
        let resized = HostDescriptor::set_size(&mut self.inner, fd, size).await;
        settle(resized, reservation)
    }

    fn write_via_stream(
        &mut self,
        fd: Resource<types::Descriptor>,
        offset: types::Filesize,
    ) -> FsResult<Resource<DynOutputStream>> {
        let stream = HostDescriptor::write_via_stream(&mut self.inner, fd, offset)?;
        self.wrap_stream(stream, Charging::at(offset))
    }

    fn append_via_stream(
        &mut self,
        fd: Resource<types::Descriptor>,
    ) -> FsResult<Resource<DynOutputStream>> {
        let stream = HostDescriptor::append_via_stream(&mut self.inner, fd)?;
        self.wrap_stream(stream, Charging::append())
    }

    async fn create_directory_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path: String,
    ) -> FsResult<()> {
        let reservation = reserve(self.quota, self.entry_charge(&fd)).await?;
        let created = HostDescriptor::create_directory_at(&mut self.inner, fd, path).await;
        settle(created, reservation)
    }

    async fn open_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path_flags: types::PathFlags,
        path: String,
        oflags: types::OpenFlags,
        flags: types::DescriptorFlags,
    ) -> FsResult<Resource<types::Descriptor>> {
        // Charged even if the file already existed; the next re-measure corrects that.
        let charge = match oflags.contains(types::OpenFlags::CREATE) {
            true => self.entry_charge(&fd),
            false => 0,
        };
        let reservation = reserve(self.quota, charge).await?;
        let opened =
            HostDescriptor::open_at(&mut self.inner, fd, path_flags, path, oflags, flags).await;
        settle(opened, reservation)
    }

    async fn symlink_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        src_path: String,
        dest_path: String,
    ) -> FsResult<()> {
        let reservation = reserve(self.quota, self.entry_charge(&fd)).await?;
        let linked = HostDescriptor::symlink_at(&mut self.inner, fd, src_path, dest_path).await;
        settle(linked, reservation)
    }

    async fn link_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        old_path_flags: types::PathFlags,
        old_path: String,
        new_descriptor: Resource<types::Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        let reservation = reserve(self.quota, self.entry_charge(&new_descriptor)).await?;
        let linked = HostDescriptor::link_at(
            &mut self.inner,
            fd,
            old_path_flags,
            old_path,
            new_descriptor,
            new_path,
        )
        .await;
        settle(linked, reservation)
    }

    // Everything below neither allocates space nor needs a charge: plain delegation.
    // (Truncation, unlink and remove free space; the next re-measure credits it.)

    async fn advise(
        &mut self,
        fd: Resource<types::Descriptor>,
        offset: types::Filesize,
        len: types::Filesize,
        advice: types::Advice,
    ) -> FsResult<()> {
        HostDescriptor::advise(&mut self.inner, fd, offset, len, advice).await
    }

    async fn sync_data(&mut self, fd: Resource<types::Descriptor>) -> FsResult<()> {
        HostDescriptor::sync_data(&mut self.inner, fd).await
    }

    async fn get_flags(
        &mut self,
        fd: Resource<types::Descriptor>,
    ) -> FsResult<types::DescriptorFlags> {
        HostDescriptor::get_flags(&mut self.inner, fd).await
    }

    async fn get_type(
        &mut self,
        fd: Resource<types::Descriptor>,
    ) -> FsResult<types::DescriptorType> {
        HostDescriptor::get_type(&mut self.inner, fd).await
    }

    async fn set_times(
        &mut self,
        fd: Resource<types::Descriptor>,
        atim: types::NewTimestamp,
        mtim: types::NewTimestamp,
    ) -> FsResult<()> {
        HostDescriptor::set_times(&mut self.inner, fd, atim, mtim).await
    }

    async fn read(
        &mut self,
        fd: Resource<types::Descriptor>,
        len: types::Filesize,
        offset: types::Filesize,
    ) -> FsResult<(Vec<u8>, bool)> {
        HostDescriptor::read(&mut self.inner, fd, len, offset).await
    }

    async fn read_directory(
        &mut self,
        fd: Resource<types::Descriptor>,
    ) -> FsResult<Resource<types::DirectoryEntryStream>> {
        HostDescriptor::read_directory(&mut self.inner, fd).await
    }

    async fn sync(&mut self, fd: Resource<types::Descriptor>) -> FsResult<()> {
        HostDescriptor::sync(&mut self.inner, fd).await
    }

    async fn stat(&mut self, fd: Resource<types::Descriptor>) -> FsResult<types::DescriptorStat> {
        HostDescriptor::stat(&mut self.inner, fd).await
    }

    async fn stat_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path_flags: types::PathFlags,
        path: String,
    ) -> FsResult<types::DescriptorStat> {
        HostDescriptor::stat_at(&mut self.inner, fd, path_flags, path).await
    }

    async fn set_times_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path_flags: types::PathFlags,
        path: String,
        atim: types::NewTimestamp,
        mtim: types::NewTimestamp,
    ) -> FsResult<()> {
        HostDescriptor::set_times_at(&mut self.inner, fd, path_flags, path, atim, mtim).await
    }

    fn drop(&mut self, fd: Resource<types::Descriptor>) -> wasmtime::Result<()> {
        HostDescriptor::drop(&mut self.inner, fd)
    }

    async fn readlink_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path: String,
    ) -> FsResult<String> {
        HostDescriptor::readlink_at(&mut self.inner, fd, path).await
    }

    async fn remove_directory_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path: String,
    ) -> FsResult<()> {
        HostDescriptor::remove_directory_at(&mut self.inner, fd, path).await
    }

    async fn rename_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        old_path: String,
        new_fd: Resource<types::Descriptor>,
        new_path: String,
    ) -> FsResult<()> {
        HostDescriptor::rename_at(&mut self.inner, fd, old_path, new_fd, new_path).await
    }

    async fn unlink_file_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path: String,
    ) -> FsResult<()> {
        HostDescriptor::unlink_file_at(&mut self.inner, fd, path).await
    }

    fn read_via_stream(
        &mut self,
        fd: Resource<types::Descriptor>,
        offset: types::Filesize,
    ) -> FsResult<Resource<DynInputStream>> {
        HostDescriptor::read_via_stream(&mut self.inner, fd, offset)
    }

    async fn is_same_object(
        &mut self,
        a: Resource<types::Descriptor>,
        b: Resource<types::Descriptor>,
    ) -> wasmtime::Result<bool> {
        HostDescriptor::is_same_object(&mut self.inner, a, b).await
    }

    async fn metadata_hash(
        &mut self,
        fd: Resource<types::Descriptor>,
    ) -> FsResult<types::MetadataHashValue> {
        HostDescriptor::metadata_hash(&mut self.inner, fd).await
    }

    async fn metadata_hash_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        path_flags: types::PathFlags,
        path: String,
    ) -> FsResult<types::MetadataHashValue> {
        HostDescriptor::metadata_hash_at(&mut self.inner, fd, path_flags, path).await
    }
}

impl HostDirectoryEntryStream for QuotaFsView<'_> {
    async fn read_directory_entry(
        &mut self,
        stream: Resource<types::DirectoryEntryStream>,
    ) -> FsResult<Option<types::DirectoryEntry>> {
        HostDirectoryEntryStream::read_directory_entry(&mut self.inner, stream).await
    }

    fn drop(&mut self, stream: Resource<types::DirectoryEntryStream>) -> wasmtime::Result<()> {
        HostDirectoryEntryStream::drop(&mut self.inner, stream)
    }
}
