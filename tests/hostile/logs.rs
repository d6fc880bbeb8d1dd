//! Attacks: logs (filled in by the hardening work, issue 9).
