//! Image references: where a container's component comes from.
//!
//! A file path (relative to a base folder: the definition file's for `run`, `image_root`
//! for `serve`), a `file://` URL, or an OCI
//! registry reference (`registry/repo:tag`, `…@sha256:…`, optionally `oci://…`) that the
//! image store pulls.

use crate::images::{ImageRef, ReferenceError};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageRefError {
    #[error(transparent)]
    Registry(#[from] ReferenceError),
    #[error("{0:?} is not a valid image reference: {1}")]
    Invalid(String, &'static str),
    #[error(
        "{path} is inside the host's data directory {data_dir}, which holds other tenants' \
         images and files; name a registry image or a file elsewhere"
    )]
    InDataDir { path: PathBuf, data_dir: PathBuf },
}

/// Where a container's component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    File(PathBuf),
    Registry(ImageRef),
}

/// Resolves `image` to a component file (relative paths against `base_dir`) or a registry
/// reference.
pub fn resolve(image: &str, base_dir: &Path) -> Result<ImageSource, ImageRefError> {
    let image = image.trim();
    if image.is_empty() {
        return Err(ImageRefError::Invalid(image.into(), "empty"));
    }
    if let Some(rest) = image.strip_prefix("file://") {
        // file:///abs/path, or file://relative/path for convenience.
        return Ok(ImageSource::File(base_dir.join(rest)));
    }
    if let Some((scheme, _)) = image.split_once("://") {
        return match scheme {
            "oci" | "docker" => Ok(ImageSource::Registry(ImageRef::parse(image)?)),
            _ => Err(ImageRefError::Invalid(image.into(), "unknown URL scheme")),
        };
    }
    let path = Path::new(image);
    if looks_like_registry_ref(image) && !base_dir.join(path).exists() {
        return Ok(ImageSource::Registry(ImageRef::parse(image)?));
    }
    Ok(ImageSource::File(base_dir.join(path)))
}

/// Refuses a file image inside the host's data directory: the image store (whose blobs a
/// task may run only through a pull that proves its access), other tasks' scratch space and
/// the host's databases are not a task's to run. Symlinks are followed before comparing.
pub fn check_file(path: &Path, data_dir: &Path) -> Result<(), ImageRefError> {
    let real = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_owned());
    // A path that does not exist fails later, when it is read, with its own message.
    let Ok(file) = std::fs::canonicalize(path) else {
        return Ok(());
    };
    let data = real(data_dir);
    if file.starts_with(&data) {
        return Err(ImageRefError::InDataDir {
            path: path.to_owned(),
            data_dir: data_dir.to_owned(),
        });
    }
    Ok(())
}

/// `name:tag`, `host/repo`, `…@sha256:…` without a `.wasm` suffix are registry references.
fn looks_like_registry_ref(image: &str) -> bool {
    if image.ends_with(".wasm") || image.starts_with('/') || image.starts_with('.') {
        return false;
    }
    image.contains("@sha256:") || image.contains(':') || image.contains('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(image: &str, base: &Path) -> PathBuf {
        match resolve(image, base).unwrap() {
            ImageSource::File(p) => p,
            other => panic!("{image}: {other:?}"),
        }
    }

    #[test]
    fn paths_resolve_against_the_definition_directory() {
        let base = Path::new("/defs");
        assert_eq!(file("app.wasm", base), PathBuf::from("/defs/app.wasm"));
        assert_eq!(file("/abs/app.wasm", base), PathBuf::from("/abs/app.wasm"));
        assert_eq!(
            file("file:///abs/app.wasm", base),
            PathBuf::from("/abs/app.wasm")
        );
        assert_eq!(
            file("../x/a.wasm", base),
            PathBuf::from("/defs/../x/a.wasm")
        );
    }

    #[test]
    fn registry_references_are_recognised() {
        let base = Path::new("/nonexistent");
        for r in [
            "ghcr.io/team/api:1.4",
            "nginx:latest",
            "localhost:5000/team/api@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "oci://ghcr.io/x/y:1",
        ] {
            assert!(
                matches!(resolve(r, base), Ok(ImageSource::Registry(_))),
                "{r}"
            );
        }
        let e = resolve("x/y@sha256:abcd", base).unwrap_err();
        assert!(e.to_string().contains("sha256"), "{e}");
        assert!(resolve("ftp://x/y", base).is_err());
    }

    #[test]
    fn files_in_the_data_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let blob = data.join("images/blobs/sha256/ab");
        std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
        std::fs::write(&blob, b"\0asm").unwrap();
        let e = check_file(&blob, &data).unwrap_err();
        assert!(e.to_string().contains("data directory"), "{e}");
        // Through a symlink and a `..` detour too.
        let link = dir.path().join("innocent.wasm");
        std::os::unix::fs::symlink(&blob, &link).unwrap();
        assert!(check_file(&link, &data).is_err());
        let detour = dir.path().join("x/../data/images/blobs/sha256/ab");
        std::fs::create_dir_all(dir.path().join("x")).unwrap();
        assert!(check_file(&detour, &data).is_err());
        // Elsewhere, or missing (reported when read): fine.
        let app = dir.path().join("app.wasm");
        std::fs::write(&app, b"\0asm").unwrap();
        assert!(check_file(&app, &data).is_ok());
        assert!(check_file(&dir.path().join("missing.wasm"), &data).is_ok());
    }
}
