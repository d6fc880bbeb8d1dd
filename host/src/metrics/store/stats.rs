//! The statistics CloudWatch computes over a period: SampleCount, Average, Sum, Minimum,
//! Maximum and percentiles `pNN` / `pNN.NN`.

use super::series::Agg;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
    /// A percentile, 0..=100.
    Percentile(f64),
}

impl Stat {
    /// `Average`, `p99`, `p99.9`; None for anything else.
    pub fn parse(text: &str) -> Option<Stat> {
        Some(match text {
            "SampleCount" => Stat::SampleCount,
            "Average" => Stat::Average,
            "Sum" => Stat::Sum,
            "Minimum" => Stat::Minimum,
            "Maximum" => Stat::Maximum,
            _ => {
                let n = text.strip_prefix('p')?;
                // `p99`, `p99.9`, at most two decimals as CloudWatch allows.
                let (whole, frac) = n.split_once('.').unwrap_or((n, ""));
                if whole.is_empty()
                    || whole.len() > 3
                    || frac.len() > 2
                    || !whole.bytes().all(|b| b.is_ascii_digit())
                    || !frac.bytes().all(|b| b.is_ascii_digit())
                    || (n.contains('.') && frac.is_empty())
                {
                    return None;
                }
                let p: f64 = n.parse().ok()?;
                if !(0.0..=100.0).contains(&p) {
                    return None;
                }
                Stat::Percentile(p)
            }
        })
    }

    pub fn is_percentile(&self) -> bool {
        matches!(self, Stat::Percentile(_))
    }

    /// The value of this statistic from an aggregate (None for a percentile).
    pub fn of(&self, agg: &Agg) -> Option<f64> {
        if agg.count <= 0.0 {
            return None;
        }
        Some(match self {
            Stat::SampleCount => agg.count,
            Stat::Average => agg.average(),
            Stat::Sum => agg.sum,
            Stat::Minimum => agg.min,
            Stat::Maximum => agg.max,
            Stat::Percentile(_) => return None,
        })
    }
}

/// The `p`th percentile (0..=100) of weighted values, nearest rank: the smallest value
/// whose cumulative weight reaches `p`% of the total. Sorts `values` in place.
pub fn percentile(values: &mut [(f64, f64)], p: f64) -> Option<f64> {
    let total: f64 = values.iter().map(|(_, w)| *w).sum();
    if values.is_empty() || total <= 0.0 {
        return None;
    }
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let rank = (p / 100.0 * total).max(f64::MIN_POSITIVE);
    let mut seen = 0.0;
    for (v, w) in values.iter() {
        seen += w;
        // A little slack for float sums of weights.
        if seen + 1e-9 >= rank {
            return Some(*v);
        }
    }
    values.last().map(|(v, _)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_statistics_cloudwatch_names() {
        assert_eq!(Stat::parse("Average"), Some(Stat::Average));
        assert_eq!(Stat::parse("p99"), Some(Stat::Percentile(99.0)));
        assert_eq!(Stat::parse("p99.9"), Some(Stat::Percentile(99.9)));
        assert_eq!(Stat::parse("p0"), Some(Stat::Percentile(0.0)));
        for bad in [
            "average", "p", "p101", "p9.999", "p-1", "p99.", "px", "tm99",
        ] {
            assert_eq!(Stat::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn percentiles_are_nearest_rank_and_weighted() {
        let mut v: Vec<(f64, f64)> = (1..=100).rev().map(|i| (f64::from(i), 1.0)).collect();
        assert_eq!(percentile(&mut v, 50.0), Some(50.0));
        assert_eq!(percentile(&mut v, 90.0), Some(90.0));
        assert_eq!(percentile(&mut v, 99.0), Some(99.0));
        assert_eq!(percentile(&mut v, 100.0), Some(100.0));
        assert_eq!(percentile(&mut v, 0.0), Some(1.0));
        // 9 ones and one 1000: p50 and p90 are 1, p99 is 1000.
        let mut w = vec![(1000.0, 1.0), (1.0, 9.0)];
        assert_eq!(percentile(&mut w, 50.0), Some(1.0));
        assert_eq!(percentile(&mut w, 90.0), Some(1.0));
        assert_eq!(percentile(&mut w, 99.0), Some(1000.0));
        assert_eq!(percentile(&mut [], 50.0), None);
    }

    #[test]
    fn aggregate_statistics() {
        let mut a = Agg::of(2.0, 3.0);
        a.merge(&Agg::of(10.0, 1.0));
        assert_eq!(Stat::SampleCount.of(&a), Some(4.0));
        assert_eq!(Stat::Sum.of(&a), Some(16.0));
        assert_eq!(Stat::Average.of(&a), Some(4.0));
        assert_eq!(Stat::Minimum.of(&a), Some(2.0));
        assert_eq!(Stat::Maximum.of(&a), Some(10.0));
        assert_eq!(Stat::Sum.of(&Agg::EMPTY), None);
    }
}
