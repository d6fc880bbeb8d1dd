//! Attacks: lb_api (filled in by the hardening work, issue 9).
