//! Name rules from the Logs model, checked here so every entry point (runtime, API, CLI)
//! stores only names CloudWatch clients could also have sent.

use super::LogError;

/// Longest group or stream name the Logs model allows.
pub const MAX_NAME_LEN: usize = 512;

/// A log group name: `[\.\-_/#A-Za-z0-9]+`, 1–512 characters.
pub fn check_group_name(field: &'static str, name: &str) -> Result<(), LogError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(LogError::invalid(field, "must be 1-512 characters long"));
    }
    let ok = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/' | b'#'));
    if !ok {
        return Err(LogError::invalid(
            field,
            format!("{name:?} must match [\\.\\-_/#A-Za-z0-9]+"),
        ));
    }
    Ok(())
}

/// A log stream name: `[^:*]*`, 1–512 characters.
pub fn check_stream_name(field: &'static str, name: &str) -> Result<(), LogError> {
    let len = name.chars().count();
    if len == 0 || len > MAX_NAME_LEN {
        return Err(LogError::invalid(field, "must be 1-512 characters long"));
    }
    if name.contains([':', '*']) {
        return Err(LogError::invalid(
            field,
            format!("{name:?} must not contain ':' or '*'"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names() {
        assert!(check_group_name("g", "/ecs/web-app_1.#x").is_ok());
        assert!(check_group_name("g", "").is_err());
        assert!(check_group_name("g", "has space").is_err());
        assert!(check_group_name("g", &"a".repeat(513)).is_err());
    }

    #[test]
    fn stream_names() {
        assert!(check_stream_name("s", "ecs/web/0123abcd ü").is_ok());
        assert!(check_stream_name("s", "a:b").is_err());
        assert!(check_stream_name("s", "a*").is_err());
        assert!(check_stream_name("s", "").is_err());
    }
}
