//! Attacks: images (filled in by the hardening work, issue 9).
