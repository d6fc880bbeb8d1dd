//! Attacks: network (filled in by the hardening work, issue 9).
