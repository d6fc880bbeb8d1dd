//! One time series in memory: raw 1-second samples for the recent window, statistic sets
//! (which have no values to keep), and 1-minute aggregates for the long window.

use std::collections::VecDeque;

/// Sample count, sum, minimum and maximum of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agg {
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl Agg {
    pub const EMPTY: Agg = Agg {
        count: 0.0,
        sum: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    };

    /// `count` occurrences of `value`.
    pub fn of(value: f64, count: f64) -> Agg {
        Agg {
            count,
            sum: value * count,
            min: value,
            max: value,
        }
    }

    pub fn merge(&mut self, other: &Agg) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn is_empty(&self) -> bool {
        self.count <= 0.0 && self.min > self.max
    }

    pub fn average(&self) -> f64 {
        if self.count > 0.0 {
            self.sum / self.count
        } else {
            0.0
        }
    }
}

/// One raw value (with how many times it occurred), at a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub sec: u32,
    pub weight: f32,
    pub value: f64,
}

/// An aggregate at a time: a statistic set at its second, or a minute's aggregate at the
/// minute's first second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimedAgg {
    pub t: u32,
    pub agg: Agg,
}

/// Bytes one kept item costs (what the caps count).
pub const SAMPLE_BYTES: u64 = std::mem::size_of::<Sample>() as u64;
pub const AGG_BYTES: u64 = std::mem::size_of::<TimedAgg>() as u64;

#[derive(Debug, Default)]
pub struct Series {
    /// Row id in the file.
    pub id: i64,
    /// The unit of the last datum written (`None` if never given).
    pub unit: String,
    pub samples: VecDeque<Sample>,
    pub sets: VecDeque<TimedAgg>,
    pub minutes: VecDeque<TimedAgg>,
    /// Wall-clock second of the last write (least-recently-written eviction, RecentlyActive).
    pub last_write: i64,
    /// The API caller that created it (None: the host's own, or loaded from the file).
    pub owner: Option<std::sync::Arc<str>>,
    /// The minute whose aggregate a queued change will write at the next flush.
    pub unflushed_minute: Option<u32>,
}

/// Inserts keeping `items` sorted by `key`; appends in the common (in-order) case.
fn insert_sorted<T: Copy>(items: &mut VecDeque<T>, item: T, key: impl Fn(&T) -> u32) {
    let k = key(&item);
    if items.back().is_none_or(|b| key(b) <= k) {
        items.push_back(item);
    } else {
        let at = items.partition_point(|x| key(x) <= k);
        items.insert(at, item);
    }
}

/// Items with key in `[from, to)` of a sorted deque.
pub fn range<T>(
    items: &VecDeque<T>,
    from: u32,
    to: u32,
    key: impl Fn(&T) -> u32,
) -> (usize, usize) {
    let a = items.partition_point(|x| key(x) < from);
    let b = items.partition_point(|x| key(x) < to);
    (a, b.max(a))
}

impl Series {
    /// Adds `count` occurrences of `value` at `sec`; `raw` keeps the sample itself too.
    /// Returns the bytes added.
    pub fn add_value(&mut self, sec: u32, value: f64, count: f64, raw: bool) -> (u64, bool) {
        let mut bytes = 0;
        if raw {
            insert_sorted(
                &mut self.samples,
                Sample {
                    sec,
                    weight: count as f32,
                    value,
                },
                |s| s.sec,
            );
            bytes += SAMPLE_BYTES;
        }
        let (b, new_minute) = self.add_to_minute(sec, &Agg::of(value, count));
        (bytes + b, new_minute)
    }

    /// Adds a statistic set at `sec`. Returns the bytes added.
    pub fn add_set(&mut self, sec: u32, agg: Agg, raw: bool) -> (u64, bool) {
        let mut bytes = 0;
        if raw {
            insert_sorted(&mut self.sets, TimedAgg { t: sec, agg }, |s| s.t);
            bytes += AGG_BYTES;
        }
        let (b, new_minute) = self.add_to_minute(sec, &agg);
        (bytes + b, new_minute)
    }

    /// Merges into the minute of `sec`; returns (bytes added, whether the minute is new).
    fn add_to_minute(&mut self, sec: u32, agg: &Agg) -> (u64, bool) {
        let minute = sec - sec % 60;
        if let Some(back) = self.minutes.back_mut()
            && back.t == minute
        {
            back.agg.merge(agg);
            return (0, false);
        }
        let at = self.minutes.partition_point(|m| m.t < minute);
        if let Some(m) = self.minutes.get_mut(at)
            && m.t == minute
        {
            m.agg.merge(agg);
            return (0, false);
        }
        self.minutes.insert(
            at,
            TimedAgg {
                t: minute,
                agg: *agg,
            },
        );
        (AGG_BYTES, true)
    }

    pub fn minute(&self, minute: u32) -> Option<Agg> {
        let at = self.minutes.partition_point(|m| m.t < minute);
        self.minutes
            .get(at)
            .filter(|m| m.t == minute)
            .map(|m| m.agg)
    }

    /// Drops raw data before `raw_cutoff` and minutes before `minute_cutoff`; returns the
    /// bytes freed.
    pub fn prune(&mut self, raw_cutoff: u32, minute_cutoff: u32) -> u64 {
        let mut freed = 0;
        while self.samples.front().is_some_and(|s| s.sec < raw_cutoff) {
            self.samples.pop_front();
            freed += SAMPLE_BYTES;
        }
        while self.sets.front().is_some_and(|s| s.t < raw_cutoff) {
            self.sets.pop_front();
            freed += AGG_BYTES;
        }
        while self.minutes.front().is_some_and(|m| m.t < minute_cutoff) {
            self.minutes.pop_front();
            freed += AGG_BYTES;
        }
        freed
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty() && self.sets.is_empty() && self.minutes.is_empty()
    }

    /// The oldest second this series holds anything for.
    pub fn oldest(&self) -> Option<u32> {
        [
            self.samples.front().map(|s| s.sec),
            self.sets.front().map(|s| s.t),
            self.minutes.front().map(|m| m.t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn bytes(&self) -> u64 {
        self.samples.len() as u64 * SAMPLE_BYTES
            + (self.sets.len() + self.minutes.len()) as u64 * AGG_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_order_values_stay_sorted_and_minutes_merge() {
        let mut s = Series::default();
        s.add_value(125, 3.0, 1.0, true);
        s.add_value(61, 1.0, 1.0, true);
        s.add_value(70, 5.0, 2.0, true);
        let secs: Vec<u32> = s.samples.iter().map(|x| x.sec).collect();
        assert_eq!(secs, [61, 70, 125]);
        assert_eq!(s.minutes.len(), 2);
        let m = s.minute(60).unwrap();
        assert_eq!((m.count, m.sum, m.min, m.max), (3.0, 11.0, 1.0, 5.0));
        assert_eq!(s.minute(120).unwrap().sum, 3.0);
        assert_eq!(s.prune(100, 120), SAMPLE_BYTES * 2 + AGG_BYTES);
        assert_eq!(s.oldest(), Some(120));
    }
}
