//! Image references: where a container's component comes from.
//!
//! A file path (relative to the task definition's directory), a `file://` URL, or an OCI
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
}
