//! The Fargate task sizes: which memory values go with which cpu value.
//!
//! Kept as ECS documents them so a task definition valid here is valid on Fargate.

/// One cpu value and its memory range (MiB), inclusive, in `step` increments.
struct Tier {
    cpu: u32,
    ranges: &'static [(u64, u64, u64)],
}

const TIERS: &[Tier] = &[
    Tier {
        cpu: 256,
        ranges: &[(512, 512, 512), (1024, 2048, 1024)],
    },
    Tier {
        cpu: 512,
        ranges: &[(1024, 4096, 1024)],
    },
    Tier {
        cpu: 1024,
        ranges: &[(2048, 8192, 1024)],
    },
    Tier {
        cpu: 2048,
        ranges: &[(4096, 16384, 1024)],
    },
    Tier {
        cpu: 4096,
        ranges: &[(8192, 30720, 1024)],
    },
    Tier {
        cpu: 8192,
        ranges: &[(16384, 61440, 4096)],
    },
    Tier {
        cpu: 16384,
        ranges: &[(32768, 122880, 8192)],
    },
];

/// The cpu values Fargate accepts, ascending.
pub fn cpu_values() -> Vec<u32> {
    TIERS.iter().map(|tier| tier.cpu).collect()
}

/// The memory values (MiB) Fargate accepts with `cpu`, ascending; `None` when `cpu`
/// is not a Fargate cpu value.
pub fn memory_values(cpu: u32) -> Option<Vec<u64>> {
    let tier = TIERS.iter().find(|tier| tier.cpu == cpu)?;
    let values = tier
        .ranges
        .iter()
        .flat_map(|&(min, max, step)| {
            std::iter::successors(Some(min), move |m| Some(m + step)).take_while(move |m| *m <= max)
        })
        .collect();
    Some(values)
}

pub fn is_valid_size(cpu: u32, memory: u64) -> bool {
    memory_values(cpu).is_some_and(|values| values.contains(&memory))
}

/// A readable list for error messages: short lists in full, long regular ones as a
/// range ("8192 to 30720 in steps of 1024").
pub fn describe(values: &[u64]) -> String {
    let regular_step = match values {
        [first, second, ..] => {
            let step = second - first;
            values
                .windows(2)
                .all(|w| w[1] - w[0] == step)
                .then_some(step)
        }
        _ => None,
    };
    match (regular_step, values.first(), values.last()) {
        (Some(step), Some(first), Some(last)) if values.len() > 4 => {
            format!("{first} to {last} in steps of {step}")
        }
        _ => join(values),
    }
}

pub fn join<T: ToString>(values: &[T]) -> String {
    values
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_five_cpu_values_have_fifty_combinations() {
        let count: usize = [256, 512, 1024, 2048, 4096]
            .iter()
            .map(|&cpu| memory_values(cpu).map_or(0, |values| values.len()))
            .sum();
        assert_eq!(count, 50);
    }

    #[test]
    fn large_tiers_follow_their_steps() {
        assert_eq!(memory_values(8192).map(|v| v.len()), Some(12));
        assert_eq!(memory_values(16384).map(|v| v.len()), Some(12));
        assert!(is_valid_size(8192, 20480));
        assert!(!is_valid_size(8192, 17408));
        assert!(is_valid_size(16384, 122880));
    }

    #[test]
    fn small_tiers() {
        assert_eq!(memory_values(256), Some(vec![512, 1024, 2048]));
        assert!(is_valid_size(512, 3072));
        assert!(!is_valid_size(256, 3072));
        assert!(!is_valid_size(300, 512));
        assert_eq!(memory_values(300), None);
    }

    #[test]
    fn describes_lists_and_ranges() {
        assert_eq!(describe(&[512, 1024, 2048]), "512, 1024, 2048");
        assert_eq!(
            describe(&[1024, 2048, 3072, 4096]),
            "1024, 2048, 3072, 4096"
        );
        let values = memory_values(1024).unwrap_or_default();
        assert_eq!(describe(&values), "2048 to 8192 in steps of 1024");
    }
}
