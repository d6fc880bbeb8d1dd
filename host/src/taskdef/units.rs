//! Task size strings as ECS accepts them: cpu in units or vCPUs ("256", "1 vCPU",
//! ".25 vcpu") and memory in MiB or GB ("512", "512 MiB", "2 GB", "0.5GB").
//!
//! Arithmetic is exact decimal (no floats) so ".25 vcpu" is 256, never 255.

const CPU_UNITS_PER_VCPU: u64 = 1024;
const MIB_PER_GB: u64 = 1024;

/// Cpu units from an ECS cpu string.
pub fn parse_cpu(text: &str) -> Result<u32, String> {
    let invalid = || {
        format!("invalid cpu {text:?}: expected cpu units like \"256\" or vCPUs like \"1 vCPU\"")
    };
    let (number, unit) = split_unit(text);
    let multiplier = match unit.as_str() {
        "" => 1,
        "vcpu" | "vcpus" => CPU_UNITS_PER_VCPU,
        _ => return Err(invalid()),
    };
    let units = scale(number, multiplier).ok_or_else(invalid)?;
    u32::try_from(units).map_err(|_| invalid())
}

/// MiB from an ECS memory string.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let invalid =
        || format!("invalid memory {text:?}: expected MiB like \"512\" or GB like \"2 GB\"");
    let (number, unit) = split_unit(text);
    let multiplier = match unit.as_str() {
        "" | "mib" | "mb" => 1,
        "gb" | "gib" => MIB_PER_GB,
        _ => return Err(invalid()),
    };
    scale(number, multiplier).ok_or_else(invalid)
}

/// Splits "0.5 GB" into ("0.5", "gb").
fn split_unit(text: &str) -> (&str, String) {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(end);
    (number, unit.trim().to_ascii_lowercase())
}

/// `number * multiplier` when it is a whole number; `None` for anything else.
fn scale(number: &str, multiplier: u64) -> Option<u64> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    // Bounded so the u128 arithmetic below cannot overflow.
    if whole.len() + fraction.len() > 30 || fraction.contains('.') {
        return None;
    }
    let digits: u128 = format!("{whole}{fraction}").parse().ok()?;
    let divisor = 10u128.pow(u32::try_from(fraction.len()).ok()?);
    let scaled = digits.checked_mul(u128::from(multiplier))?;
    if scaled % divisor != 0 {
        return None;
    }
    u64::try_from(scaled / divisor).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_accepts_units_and_vcpus() {
        assert_eq!(parse_cpu("256"), Ok(256));
        assert_eq!(parse_cpu(" 1024 "), Ok(1024));
        assert_eq!(parse_cpu("1 vCPU"), Ok(1024));
        assert_eq!(parse_cpu("1vcpu"), Ok(1024));
        assert_eq!(parse_cpu(".25 vcpu"), Ok(256));
        assert_eq!(parse_cpu(".5 vCPU"), Ok(512));
        assert_eq!(parse_cpu("16 vCPUs"), Ok(16384));
    }

    #[test]
    fn cpu_rejects_garbage_and_fractions_of_a_unit() {
        for bad in [
            "",
            "abc",
            "1 GB",
            "1.5",
            "0.0001 vcpu",
            "1..2 vcpu",
            ". vcpu",
            "-1",
        ] {
            let err = parse_cpu(bad).expect_err(bad);
            assert!(err.starts_with("invalid cpu"), "{err}");
        }
        assert!(parse_cpu("99999999999").is_err(), "overflows u32");
    }

    #[test]
    fn memory_accepts_mib_and_gb() {
        assert_eq!(parse_memory("512"), Ok(512));
        assert_eq!(parse_memory("512 MiB"), Ok(512));
        assert_eq!(parse_memory("512MB"), Ok(512));
        assert_eq!(parse_memory("2 GB"), Ok(2048));
        assert_eq!(parse_memory("2GB"), Ok(2048));
        assert_eq!(parse_memory("0.5GB"), Ok(512));
        assert_eq!(parse_memory("0.5 gib"), Ok(512));
        assert_eq!(parse_memory("120 GB"), Ok(122_880));
    }

    #[test]
    fn memory_rejects_garbage() {
        for bad in ["", "lots", "2 TB", "1.5", "0.0001 GB", "GB"] {
            let err = parse_memory(bad).expect_err(bad);
            assert!(err.starts_with("invalid memory"), "{err}");
        }
    }
}
