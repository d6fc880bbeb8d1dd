//! Image references: where a container's component comes from.
//!
//! Today: a file path (relative to the task definition's directory) or a `file://` URL.
//! Registry references (`registry/repo:tag`, `…@sha256:…`) are recognised so the user gets a
//! clear "not yet" rather than a confusing "file not found".

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageRefError {
    #[error(
        "{0:?} looks like an OCI registry reference; registry images are not supported yet: use a path or file:// URL to a .wasm component"
    )]
    Registry(String),
    #[error("{0:?} is not a valid image reference: {1}")]
    Invalid(String, &'static str),
}

/// Resolves `image` to a component file, relative paths against `base_dir`.
pub fn resolve(image: &str, base_dir: &Path) -> Result<PathBuf, ImageRefError> {
    let image = image.trim();
    if image.is_empty() {
        return Err(ImageRefError::Invalid(image.into(), "empty"));
    }
    if let Some(rest) = image.strip_prefix("file://") {
        // file:///abs/path, or file://relative/path for convenience.
        return Ok(base_dir.join(rest));
    }
    if let Some((scheme, _)) = image.split_once("://") {
        return match scheme {
            "oci" | "docker" | "https" | "http" => Err(ImageRefError::Registry(image.into())),
            _ => Err(ImageRefError::Invalid(image.into(), "unknown URL scheme")),
        };
    }
    let path = Path::new(image);
    if looks_like_registry_ref(image) && !base_dir.join(path).exists() {
        return Err(ImageRefError::Registry(image.into()));
    }
    Ok(base_dir.join(path))
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

    #[test]
    fn paths_resolve_against_the_definition_directory() {
        let base = Path::new("/defs");
        assert_eq!(
            resolve("app.wasm", base).unwrap(),
            PathBuf::from("/defs/app.wasm")
        );
        assert_eq!(
            resolve("/abs/app.wasm", base).unwrap(),
            PathBuf::from("/abs/app.wasm")
        );
        assert_eq!(
            resolve("file:///abs/app.wasm", base).unwrap(),
            PathBuf::from("/abs/app.wasm")
        );
        assert_eq!(
            resolve("../x/a.wasm", base).unwrap(),
            PathBuf::from("/defs/../x/a.wasm")
        );
    }

    #[test]
    fn registry_references_get_a_clear_error() {
        let base = Path::new("/nonexistent");
        for r in [
            "ghcr.io/team/api:1.4",
            "nginx:latest",
            "registry.example.com/team/api@sha256:abcd",
            "oci://ghcr.io/x/y:1",
        ] {
            let e = resolve(r, base).unwrap_err();
            assert!(matches!(e, ImageRefError::Registry(_)), "{r}: {e}");
            assert!(e.to_string().contains("not supported yet"));
        }
    }
}
