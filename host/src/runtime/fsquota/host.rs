//! The shadowing `wasi:filesystem/types` host: charges the quota, caps open descriptors
//! and path depth, then delegates to wasmtime-wasi's own implementation on
//! [`WasiFilesystemCtxView`].

use std::os::fd::AsFd;
use std::sync::Arc;

use wasmtime::component::{HasData, Linker, Resource};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystemCtxView};
use wasmtime_wasi::p2::bindings::filesystem::types::{
    self, DescriptorFlags, DescriptorType, ErrorCode, HostDescriptor, HostDirectoryEntryStream,
    OpenFlags, PathFlags,
};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, FsError, FsResult};

use super::fds::StoreFiles;
use super::paths::{self, Location, Unplaced};
use super::quota::{BLOCK, Reservation, StorageQuota, blocks_touched, growth};
use super::stream::{Charging, CountedInputStream, QuotaOutputStream};
use super::tree;

/// wasmtime-wasi's filesystem view plus the task's quota and the store's open descriptors.
pub struct QuotaFsView<'a> {
    pub inner: WasiFilesystemCtxView<'a>,
    pub quota: &'a Arc<StorageQuota>,
    pub files: &'a mut StoreFiles,
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

fn borrow(fd: &Resource<Descriptor>) -> Resource<Descriptor> {
    Resource::new_borrow(fd.rep())
}

/// The directory a new entry goes into: the descriptor the guest gave, or (for a path with
/// several components) its parent, opened the way the delegate would resolve it.
enum Parent {
    Given(Resource<Descriptor>),
    Opened(Resource<Descriptor>),
}

impl Parent {
    fn fd(&self) -> Resource<Descriptor> {
        match self {
            Parent::Given(fd) | Parent::Opened(fd) => borrow(fd),
        }
    }
}

impl QuotaFsView<'_> {
    /// The error a guest gets for a path past the caps; the operator is told once per task.
    fn too_deep(&self, what: &str) -> FsError {
        self.quota.note_path_refused(what);
        ErrorCode::NameTooLong.into()
    }

    /// Where the directory `fd` is below its mount point; `None` if it is no directory or
    /// the caps cannot be checked on this host.
    fn locate(&self, fd: &Resource<Descriptor>) -> FsResult<Option<Location>> {
        use std::os::fd::AsRawFd;
        let raw = match self.inner.table.get(fd) {
            Ok(Descriptor::Dir(d)) => d.dir.as_raw_fd(),
            _ => return Ok(None),
        };
        match paths::locate(raw, self.quota.canonical_root()) {
            Ok(location) => Ok(Some(location)),
            Err(Unplaced::TooLong) => Err(self.too_deep("a directory beyond PATH_MAX")),
            Err(Unplaced::Unknown) => Ok(None),
        }
    }

    /// Resolves the directory that the last component of `path` goes into.
    async fn parent_of(
        &mut self,
        fd: Resource<Descriptor>,
        path: &str,
    ) -> FsResult<(Parent, String)> {
        match paths::split_parent(path) {
            (None, name) => Ok((Parent::Given(fd), name.to_owned())),
            (Some(parent), name) => {
                let opened = HostDescriptor::open_at(
                    &mut self.inner,
                    fd,
                    PathFlags::SYMLINK_FOLLOW,
                    parent.to_owned(),
                    OpenFlags::DIRECTORY,
                    DescriptorFlags::READ,
                )
                .await?;
                Ok((Parent::Opened(opened), name.to_owned()))
            }
        }
    }

    /// Drops a parent this view opened itself (never counted against the guest).
    fn close(&mut self, parent: Parent) -> FsResult<()> {
        match parent {
            Parent::Given(_) => Ok(()),
            Parent::Opened(fd) => HostDescriptor::drop(&mut self.inner, fd).map_err(FsError::trap),
        }
    }

    /// Refuses a new entry `name` in `parent` past the caps.
    fn check_new_entry(&self, parent: &Parent, name: &str, what: &str) -> FsResult<()> {
        let limits = self.quota.limits().paths;
        match self.locate(&parent.fd())? {
            Some(at) if !at.child(name).fits(&limits) => Err(self.too_deep(what)),
            _ => Ok(()),
        }
    }

    /// Creates the directory in `parent` once placed within the caps, charging a block.
    async fn create_directory_in(&mut self, parent: &Parent, name: String) -> FsResult<()> {
        self.check_new_entry(parent, &name, "create-directory-at")?;
        let reservation = reserve(self.quota, self.entry_charge(&parent.fd())).await?;
        let created = HostDescriptor::create_directory_at(&mut self.inner, parent.fd(), name).await;
        settle(created, reservation)
    }

    /// Whether moving the directory `old_path` of `fd` to `name` in `parent` keeps every
    /// path below it within the caps. Moving a directory no deeper and no longer than it
    /// was needs no walk: everything below it fit where it was.
    async fn check_move(
        &mut self,
        fd: &Resource<Descriptor>,
        old_path: &str,
        parent: &Parent,
        name: &str,
    ) -> FsResult<()> {
        let limits = self.quota.limits().paths;
        let Some(dest) = self.locate(&parent.fd())?.map(|at| at.child(name)) else {
            return Ok(());
        };
        if !dest.fits(&limits) {
            return Err(self.too_deep("rename-at"));
        }
        let source = match HostDescriptor::open_at(
            &mut self.inner,
            borrow(fd),
            PathFlags::empty(),
            old_path.to_owned(),
            OpenFlags::DIRECTORY,
            DescriptorFlags::READ,
        )
        .await
        {
            Ok(source) => source,
            // Not a directory (or not there): nothing below it; the rename itself decides.
            Err(_) => return Ok(()),
        };
        let checked = self.check_subtree(&source, dest, &limits).await;
        HostDescriptor::drop(&mut self.inner, source).map_err(FsError::trap)?;
        checked
    }

    async fn check_subtree(
        &mut self,
        source: &Resource<Descriptor>,
        dest: Location,
        limits: &paths::PathLimits,
    ) -> FsResult<()> {
        let Some(from) = self.locate(source)? else {
            return Ok(());
        };
        if dest.depth <= from.depth && dest.bytes <= from.bytes {
            return Ok(());
        }
        let dir = match self.inner.table.get(source) {
            Ok(Descriptor::Dir(d)) => d.dir.clone(),
            _ => return Ok(()),
        };
        let max_entries = self.quota.limits().measure_max_entries;
        let extent = tokio::task::spawn_blocking(move || tree::extent(dir.as_fd(), max_entries))
            .await
            .map_err(FsError::trap)?;
        match extent {
            Ok(e) if dest.below(e.depth, e.path_len).fits(limits) => Ok(()),
            Ok(_) => Err(self.too_deep("rename-at")),
            Err(e) => {
                tracing::debug!("cannot measure a directory being moved: {e}");
                Err(self.too_deep("rename-at of a directory too large to measure"))
            }
        }
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
        if let Ok(n) = &written {
            self.quota.note_written(*n);
        }
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
        if !self.writable_dir(&fd) {
            // Refused by the delegate with its own error; nothing to charge or place.
            return HostDescriptor::create_directory_at(&mut self.inner, fd, path).await;
        }
        if paths::lexically_too_long(&path, &self.quota.limits().paths) {
            return Err(self.too_deep("create-directory-at"));
        }
        let (parent, name) = self.parent_of(fd, &path).await?;
        let created = self.create_directory_in(&parent, name).await;
        self.close(parent)?;
        created
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
        // No EMFILE in wasi:filesystem's error-code: `insufficient-memory` (ENOMEM) is the
        // resource-exhaustion code; `quota` (EDQUOT) would tell the guest its disk is full.
        if !self.files.reserve() {
            return Err(ErrorCode::InsufficientMemory.into());
        }
        let reservation = match reserve(self.quota, charge).await {
            Ok(reservation) => reservation,
            Err(e) => {
                self.files.unreserve();
                return Err(e);
            }
        };
        let opened =
            HostDescriptor::open_at(&mut self.inner, fd, path_flags, path, oflags, flags).await;
        let opened = match settle(opened, reservation) {
            Ok(opened) => opened,
            Err(e) => {
                self.files.unreserve();
                return Err(e);
            }
        };
        self.files.opened(opened.rep());
        // A directory past the caps (a bind mount, or a move raced by another container)
        // is not a place to nest further from.
        let limits = self.quota.limits().paths;
        match self.locate(&opened) {
            Ok(Some(at)) if !at.fits(&limits) => {
                HostDescriptor::drop(self, opened).map_err(FsError::trap)?;
                Err(self.too_deep("open-at"))
            }
            Ok(_) => Ok(opened),
            Err(e) => {
                HostDescriptor::drop(self, opened).map_err(FsError::trap)?;
                Err(e)
            }
        }
    }

    async fn symlink_at(
        &mut self,
        fd: Resource<types::Descriptor>,
        src_path: String,
        dest_path: String,
    ) -> FsResult<()> {
        // The link is a leaf in an existing directory (within the caps); its target must
        // not be a path no directory within the caps could have.
        let limits = self.quota.limits().paths;
        if paths::lexically_too_long(&dest_path, &limits) || src_path.len() > limits.max_bytes {
            return Err(self.too_deep("symlink-at"));
        }
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
        if paths::lexically_too_long(&new_path, &self.quota.limits().paths) {
            return Err(self.too_deep("link-at"));
        }
        let reservation = reserve(self.quota, self.entry_charge(&new_descriptor)).await?;
        // A link then an unlink moves a file: a re-measure overlapping it may miss it.
        self.quota.note_move();
        let linked = HostDescriptor::link_at(
            &mut self.inner,
            fd,
            old_path_flags,
            old_path,
            new_descriptor,
            new_path,
        )
        .await;
        self.quota.note_move();
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
        let read = HostDescriptor::read(&mut self.inner, fd, len, offset).await;
        if let Ok((data, _)) = &read {
            self.quota.note_read(data.len() as u64);
        }
        read
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
        self.files.closed(fd.rep());
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
        if !self.writable_dir(&new_fd) {
            return HostDescriptor::rename_at(&mut self.inner, fd, old_path, new_fd, new_path)
                .await;
        }
        if paths::lexically_too_long(&new_path, &self.quota.limits().paths) {
            return Err(self.too_deep("rename-at"));
        }
        // Moving a directory deeper moves everything below it: resolve where it goes, check
        // the whole subtree fits there, then rename into the very directory checked.
        let is_dir = matches!(
            HostDescriptor::stat_at(&mut self.inner, borrow(&fd), PathFlags::empty(), old_path.clone())
                .await,
            Ok(stat) if matches!(stat.type_, DescriptorType::Directory)
        );
        if !is_dir {
            self.quota.note_move();
            let renamed =
                HostDescriptor::rename_at(&mut self.inner, fd, old_path, new_fd, new_path).await;
            self.quota.note_move();
            return renamed;
        }
        let (parent, name) = self.parent_of(new_fd, &new_path).await?;
        let renamed = match self.check_move(&fd, &old_path, &parent, &name).await {
            Ok(()) => {
                self.quota.note_move();
                let renamed =
                    HostDescriptor::rename_at(&mut self.inner, fd, old_path, parent.fd(), name)
                        .await;
                self.quota.note_move();
                renamed
            }
            Err(e) => Err(e),
        };
        self.close(parent)?;
        renamed
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
        let stream = HostDescriptor::read_via_stream(&mut self.inner, fd, offset)?;
        let inner = self.inner.table.delete(stream)?;
        let counted: DynInputStream = Box::new(CountedInputStream::new(inner, self.quota.clone()));
        Ok(self.inner.table.push(counted)?)
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
