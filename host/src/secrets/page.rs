//! Pagination tokens: an opaque offset into a listing sorted the same way on every call.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

const PREFIX: &str = "wgp1:";

/// The token for the page that starts at `offset`.
pub fn token(offset: usize) -> String {
    B64.encode(format!("{PREFIX}{offset}"))
}

/// The offset a token names; `None` when it is not one of ours.
pub fn offset(token: &str) -> Option<usize> {
    let bytes = B64.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix(PREFIX)?.parse().ok()
}

/// One page of `items` from `start`: the items and the next page's token, if any.
pub fn slice<T>(mut items: Vec<T>, start: usize, max: usize) -> (Vec<T>, Option<String>) {
    let end = start.saturating_add(max);
    let next = (items.len() > end).then(|| token(end));
    items.truncate(end);
    let page = items.into_iter().skip(start).collect();
    (page, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(offset(&token(42)), Some(42));
        assert_eq!(offset("garbage"), None);
        assert_eq!(offset(&B64.encode("other:1")), None);
    }

    #[test]
    fn pages_cover_the_listing_once() {
        let (a, t) = slice((0..5).collect::<Vec<_>>(), 0, 2);
        assert_eq!(a, [0, 1]);
        let (b, t) = slice((0..5).collect::<Vec<_>>(), offset(&t.unwrap()).unwrap(), 2);
        assert_eq!(b, [2, 3]);
        let (c, t) = slice((0..5).collect::<Vec<_>>(), offset(&t.unwrap()).unwrap(), 2);
        assert_eq!((c, t), (vec![4], None));
        let (d, t) = slice((0..4).collect::<Vec<_>>(), 2, 2);
        assert_eq!((d, t), (vec![2, 3], None));
    }
}
