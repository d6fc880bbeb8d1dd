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

/// The same raw value (and weight) at each of `len` consecutive seconds from `sec`.
///
/// Most of the host's own series are flat while a task idles (its CPU is 0, its memory
/// and reservations do not move): kept as runs, such a series costs one item however long
/// it stays flat, instead of one per second up to the store's cap. Packed to 20 bytes (24
/// aligned), so a series whose every value differs costs a quarter more than plain samples
/// (16), not half more.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, packed(4))]
pub struct Run {
    pub sec: u32,
    pub len: u32,
    pub weight: f32,
    pub value: f64,
}

impl Run {
    fn of(s: Sample) -> Run {
        Run {
            sec: s.sec,
            len: 1,
            weight: s.weight,
            value: s.value,
        }
    }

    /// The second after its last.
    pub fn end(&self) -> u32 {
        self.sec.saturating_add(self.len)
    }

    /// Whether `s` is this run's value (bit for bit: -0.0 and NaN payloads are kept).
    fn same_value(&self, s: &Sample) -> bool {
        self.weight.to_bits() == s.weight.to_bits() && self.value.to_bits() == s.value.to_bits()
    }

    /// Its samples within `[from, to)`: their value and their total weight.
    pub fn within(&self, from: u32, to: u32) -> (f64, f64) {
        let n = self.end().min(to).saturating_sub(self.sec.max(from));
        (self.value, f64::from(self.weight) * f64::from(n))
    }
}

/// An aggregate at a time: a statistic set at its second, or a minute's aggregate at the
/// minute's first second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimedAgg {
    pub t: u32,
    pub agg: Agg,
}

/// How many one-second runs back a value looks for its own value at its second.
const SAME_SECOND_LOOKBACK: usize = 16;

/// Bytes one kept item costs (what the caps count): a raw value costs at most one run.
pub const SAMPLE_BYTES: u64 = std::mem::size_of::<Run>() as u64;
const _: () = assert!(SAMPLE_BYTES == 20, "a run is packed to 20 bytes");
pub const AGG_BYTES: u64 = std::mem::size_of::<TimedAgg>() as u64;

#[derive(Debug, Default)]
pub struct Series {
    /// Row id in the file.
    pub id: i64,
    /// The unit of the last datum written (`None` if never given).
    pub unit: String,
    /// Raw values as runs, sorted by second (see [`Run`]).
    pub samples: VecDeque<Run>,
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
            bytes += self.add_sample(Sample {
                sec,
                weight: count as f32,
                value,
            });
        }
        let (b, new_minute) = self.add_to_minute(sec, &Agg::of(value, count));
        (bytes + b, new_minute)
    }

    /// Keeps one raw value: it extends the last run when it repeats that run's value at the
    /// next second, adds its weight to a one-second run of the same value at its second (a
    /// cluster's series gets one value per task each second, mostly the same), and is a run
    /// of its own otherwise (splitting the run it falls in when it comes out of order).
    /// Returns the bytes added.
    pub fn add_sample(&mut self, s: Sample) -> u64 {
        let Some(last) = self.samples.back_mut() else {
            self.samples.push_back(Run::of(s));
            return SAMPLE_BYTES;
        };
        if last.end() == s.sec && last.same_value(&s) && last.len < u32::MAX {
            last.len += 1;
            return 0;
        }
        if let Some(run) = (self.samples.iter_mut().rev())
            .take(SAME_SECOND_LOOKBACK)
            .take_while(|r| r.sec == s.sec && r.len == 1)
            .find(|r| r.value.to_bits() == s.value.to_bits())
        {
            run.weight += s.weight;
            return 0;
        }
        if self.samples.back().is_some_and(|last| last.end() <= s.sec) {
            // A new second: the one before it may have ended as its predecessor's repeat.
            let freed = self.join_last_run();
            self.samples.push_back(Run::of(s));
            return SAMPLE_BYTES - freed;
        }
        // Out of order, or a second value at a second: runs stay sorted by start and by end.
        let at = self.samples.partition_point(|r| r.end() <= s.sec);
        let mut bytes = SAMPLE_BYTES;
        let mut insert_at = at;
        if let Some(r) = self.samples.get_mut(at)
            && r.sec <= s.sec
        {
            // `r` covers `s.sec`: it keeps its part up to and including that second, and the
            // part after it becomes a run of its own, after the new value.
            let after = Run {
                sec: s.sec + 1,
                len: r.end() - (s.sec + 1),
                ..*r
            };
            r.len = s.sec + 1 - r.sec;
            insert_at = at + 1;
            if after.len > 0 {
                self.samples.insert(insert_at, after);
                bytes += SAMPLE_BYTES;
            }
        }
        self.samples.insert(insert_at, Run::of(s));
        bytes
    }

    /// Joins the last run to the one before it when it continues it (the same value and
    /// weight from the second that one ends); returns the bytes freed.
    fn join_last_run(&mut self) -> u64 {
        let n = self.samples.len();
        if n < 2 {
            return 0;
        }
        let (prev, last) = (self.samples[n - 2], self.samples[n - 1]);
        let continues = prev.end() == last.sec
            && prev.weight.to_bits() == last.weight.to_bits()
            && prev.value.to_bits() == last.value.to_bits();
        match prev.len.checked_add(last.len) {
            Some(len) if continues => {
                self.samples[n - 2].len = len;
                self.samples.pop_back();
                SAMPLE_BYTES
            }
            _ => 0,
        }
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
        while self.samples.front().is_some_and(|r| r.end() <= raw_cutoff) {
            self.samples.pop_front();
            freed += SAMPLE_BYTES;
        }
        if let Some(r) = self.samples.front_mut()
            && r.sec < raw_cutoff
        {
            r.len = r.end() - raw_cutoff;
            r.sec = raw_cutoff;
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

    /// The last second it holds a raw value for.
    pub fn newest_sample(&self) -> Option<u32> {
        self.samples.back().map(|r| r.end() - 1)
    }

    /// The raw runs that have values within `[from, to)`.
    pub fn runs_within(&self, from: u32, to: u32) -> impl Iterator<Item = &Run> {
        let a = self.samples.partition_point(|r| r.end() <= from);
        let b = self.samples.partition_point(|r| r.sec < to).max(a);
        self.samples.range(a..b)
    }

    pub fn bytes(&self) -> u64 {
        self.samples.len() as u64 * SAMPLE_BYTES
            + (self.sets.len() + self.minutes.len()) as u64 * AGG_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every raw value a series holds, one per second of each run.
    fn expanded(s: &Series) -> Vec<(u32, f32, f64)> {
        (s.samples.iter())
            .flat_map(|r| (r.sec..r.end()).map(move |t| (t, r.weight, r.value)))
            .collect()
    }

    #[test]
    fn a_flat_series_is_one_run_however_long_it_stays_flat() {
        let mut s = Series::default();
        let mut bytes = 0;
        for t in 1000..4600 {
            bytes += s.add_value(t, 0.0, 1.0, true).0;
        }
        assert_eq!(s.samples.len(), 1);
        assert_eq!(bytes, SAMPLE_BYTES + 61 * AGG_BYTES);
        // A change of value, a gap, or another weight starts a run.
        s.add_value(4600, 0.5, 1.0, true);
        s.add_value(4602, 0.5, 1.0, true);
        s.add_value(4603, 0.5, 2.0, true);
        assert_eq!(s.samples.len(), 4);
        let (value, weight) = s.samples[0].within(4000, 5000);
        assert_eq!((value, weight), (0.0, 600.0));
    }

    #[test]
    fn many_values_a_second_join_by_value_and_flat_seconds_join_runs() {
        // A cluster's series: one value per task each second, most of them the same.
        let mut s = Series::default();
        let mut bytes = 0;
        for t in 100..400 {
            for task in 0..2000 {
                let value = if task % 500 == 7 { 3.0 } else { 0.0 };
                bytes += s.add_value(t, value, 1.0, true).0;
            }
        }
        // Each second ends as (0.0 ×1996, 3.0 ×4), and a run cannot hold two values: two
        // runs a second, none joined.
        assert_eq!(s.samples.len(), 600);
        assert_eq!(bytes, 600 * SAMPLE_BYTES + 6 * AGG_BYTES);
        let weight: f64 = s.runs_within(100, 400).map(|r| r.within(100, 400).1).sum();
        assert_eq!(weight, 600_000.0);

        // All at one value: one run however many tasks and seconds, and the newest second
        // (which may get more values yet) apart until the next begins.
        let mut s = Series::default();
        for t in 100..400 {
            for _ in 0..2000 {
                s.add_value(t, 0.0, 1.0, true);
            }
        }
        let runs: Vec<(u32, u32, f32)> =
            s.samples.iter().map(|r| (r.sec, r.len, r.weight)).collect();
        assert_eq!(runs, vec![(100, 299, 2000.0), (399, 1, 2000.0)]);
        assert_eq!(s.samples[0].within(150, 160), (0.0, 20_000.0));
    }

    #[test]
    fn values_out_of_order_or_at_one_second_split_the_run_they_fall_in() {
        let mut s = Series::default();
        for t in 10..20 {
            s.add_value(t, 1.0, 1.0, true);
        }
        s.add_value(14, 7.0, 1.0, true);
        s.add_value(19, 8.0, 1.0, true);
        s.add_value(5, 9.0, 1.0, true);
        let mut want: Vec<(u32, f32, f64)> = (10..20).map(|t| (t, 1.0, 1.0)).collect();
        want.insert(5, (14, 1.0, 7.0));
        want.push((19, 1.0, 8.0));
        want.insert(0, (5, 1.0, 9.0));
        assert_eq!(expanded(&s), want);
        let starts: Vec<u32> = s.samples.iter().map(|r| r.sec).collect();
        assert!(starts.is_sorted(), "{starts:?}");
        // Within [14, 19): second 14 twice, then 15..19 once each.
        let weight: f64 = s.runs_within(14, 19).map(|r| r.within(14, 19).1).sum();
        assert_eq!(weight, 6.0);
        // Pruning cuts into a run (and drops the minute before it).
        s.prune(12, 60);
        assert_eq!(expanded(&s)[0], (12, 1.0, 1.0));
        assert_eq!(s.oldest(), Some(12));
        assert_eq!(s.newest_sample(), Some(19));
    }

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
