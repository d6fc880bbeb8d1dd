//! OCI image references: `registry/repository:tag`, `…@sha256:<digest>`, `localhost:5000/x:y`.
//!
//! Parsing follows the distribution reference grammar (through `oci-client`): a reference
//! without a registry names Docker Hub, one without a tag or digest means `:latest`.

use oci_client::Reference;
use std::fmt;

/// A parsed registry reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    inner: Reference,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{reference:?} is not a valid OCI image reference: {message}")]
pub struct ReferenceError {
    pub reference: String,
    pub message: String,
}

impl ImageRef {
    /// Parses `reference`; an `oci://` or `docker://` prefix is allowed.
    pub fn parse(reference: &str) -> Result<Self, ReferenceError> {
        let trimmed = reference.trim();
        let bare = trimmed
            .strip_prefix("oci://")
            .or_else(|| trimmed.strip_prefix("docker://"))
            .unwrap_or(trimmed);
        let err = |message: String| ReferenceError {
            reference: reference.to_owned(),
            message,
        };
        let inner: Reference = bare.parse().map_err(|e| err(format!("{e}")))?;
        if let Some(d) = inner.digest() {
            let hex = d
                .strip_prefix("sha256:")
                .ok_or_else(|| err(format!("only sha256 digests are supported, not {d:?}")))?;
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err(format!("{d:?} is not a sha256 digest")));
            }
        }
        // oci-client takes an upper-case first path component as part of the repository
        // (`A5000/team/api`), which the distribution grammar forbids: such a name would be
        // pulled under a name no registry accepts. (Found by tests/fuzz.)
        if inner.repository().bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(err(format!(
                "repository {:?} must be lower case",
                inner.repository()
            )));
        }
        Ok(Self { inner })
    }

    /// The registry as written (`localhost:5000`, `docker.io`).
    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    /// The host requests go to: the registry as written, except Docker Hub's aliases.
    pub fn resolved_registry(&self) -> &str {
        self.inner.resolve_registry()
    }

    pub fn repository(&self) -> &str {
        self.inner.repository()
    }

    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    /// `sha256:<hex>` when the reference pins a digest.
    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }

    /// The same repository pinned to `digest`.
    pub fn with_digest(&self, digest: &str) -> Self {
        Self {
            inner: Reference::with_digest(
                self.inner.registry().to_owned(),
                self.inner.repository().to_owned(),
                digest.to_owned(),
            ),
        }
    }

    /// True for registries on this machine (`localhost`, `127.x.y.z`, `[::1]`), which are
    /// always reached over plain HTTP.
    pub fn is_loopback(&self) -> bool {
        is_loopback_registry(self.registry())
    }
}

/// `localhost[:port]`, `127.x.y.z[:port]`, `[::1][:port]`.
pub fn is_loopback_registry(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => registry.split(':').next().unwrap_or(registry),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.whole())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn forms() {
        let r = ImageRef::parse("localhost:5000/team/api:1.4").unwrap();
        assert_eq!(r.registry(), "localhost:5000");
        assert_eq!(r.repository(), "team/api");
        assert_eq!(r.tag(), Some("1.4"));
        assert!(r.is_loopback());

        let r = ImageRef::parse("registry.example.com/x").unwrap();
        assert_eq!(r.tag(), Some("latest"));
        assert!(!r.is_loopback());

        let r = ImageRef::parse(&format!("127.0.0.1:5000/x@{D}")).unwrap();
        assert_eq!(r.digest(), Some(D));
        assert!(r.is_loopback());
        assert_eq!(r.to_string(), format!("127.0.0.1:5000/x@{D}"));

        let r = ImageRef::parse("oci://ghcr.io/a/b:1").unwrap();
        assert_eq!(r.registry(), "ghcr.io");
    }

    #[test]
    fn bad_references() {
        assert!(ImageRef::parse("has space/x:1").is_err());
        assert!(ImageRef::parse("x/y@sha256:abcd").is_err());
        assert!(ImageRef::parse("").is_err());
        let e = ImageRef::parse("A5000/team/api:1.4").unwrap_err();
        assert!(e.message.contains("must be lower case"), "{e}");
    }

    #[test]
    fn loopback() {
        assert!(is_loopback_registry("localhost"));
        assert!(is_loopback_registry("127.1.2.3:80"));
        assert!(is_loopback_registry("[::1]:5000"));
        assert!(!is_loopback_registry("example.com:5000"));
    }
}
