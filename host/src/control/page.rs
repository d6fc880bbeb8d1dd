//! Pagination of the List* operations: `maxResults` items per page and an opaque
//! `nextToken` naming the last key returned. Keys are unique and strictly ordered, so a
//! token is never repeated, and the last page carries none.

use super::error::{ControlError, Result};

/// Which way the listing runs over its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// One page of `items` (already sorted by `key` in `order`), after the position `token`
/// names. `scope` ties a token to one operation so that a token of another is refused.
pub fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    order: Order,
    scope: &str,
    token: Option<&str>,
    max: usize,
) -> Result<(Vec<T>, Option<String>)> {
    let after = match token {
        Some(t) => Some(decode(scope, t)?),
        None => None,
    };
    let mut rest = items.into_iter().filter(|item| match &after {
        None => true,
        Some(last) => match order {
            Order::Asc => key(item) > *last,
            Order::Desc => key(item) < *last,
        },
    });
    let page: Vec<T> = rest.by_ref().take(max).collect();
    let next = match (rest.next(), page.last()) {
        (Some(_), Some(last)) => Some(encode(scope, &key(last))),
        _ => None,
    };
    Ok((page, next))
}

fn encode(scope: &str, key: &str) -> String {
    hex::encode(format!("{scope}\n{key}"))
}

fn decode(scope: &str, token: &str) -> Result<String> {
    let invalid = || ControlError::invalid("nextToken: is not a valid pagination token");
    let bytes = hex::decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (token_scope, key) = text.split_once('\n').ok_or_else(invalid)?;
    if token_scope != scope {
        return Err(invalid());
    }
    Ok(key.to_owned())
}

/// A sort key for `(name, number)` pairs that orders like the pair: the name, then the
/// number (the separator sorts below every character a name may hold).
pub fn pair_key(name: &str, number: u64) -> String {
    format!("{name}\u{1}{number:020}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_pages(items: &[u32], max: usize, order: Order) -> Vec<Vec<u32>> {
        let mut pages = Vec::new();
        let mut token: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let (p, next) = page(
                items.to_vec(),
                |n| format!("{n:05}"),
                order,
                "test",
                token.as_deref(),
                max,
            )
            .expect("page");
            pages.push(p);
            match next {
                Some(t) => {
                    assert!(seen.insert(t.clone()), "token repeated");
                    token = Some(t);
                }
                None => return pages,
            }
        }
    }

    #[test]
    fn pages_to_the_end_without_a_last_token() {
        let items: Vec<u32> = (1..=7).collect();
        assert_eq!(
            all_pages(&items, 3, Order::Asc),
            vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]
        );
        assert_eq!(all_pages(&items, 7, Order::Asc), vec![items.clone()]);
        let desc: Vec<u32> = items.iter().rev().copied().collect();
        assert_eq!(
            all_pages(&desc, 4, Order::Desc),
            vec![vec![7, 6, 5, 4], vec![3, 2, 1]]
        );
        assert_eq!(all_pages(&[], 3, Order::Asc), vec![Vec::<u32>::new()]);
    }

    #[test]
    fn bad_tokens_are_refused() {
        let run = |t: &str, scope: &str| {
            page(
                vec![1u32],
                |n| n.to_string(),
                Order::Asc,
                scope,
                Some(t),
                10,
            )
        };
        assert!(run("zz", "a").is_err());
        assert!(run(&hex::encode([0xff, 0xfe]), "a").is_err());
        assert!(run(&hex::encode("no-newline"), "a").is_err());
        assert!(run(&encode("b", "1"), "a").is_err());
        assert!(run(&encode("a", "0"), "a").is_ok());
    }

    #[test]
    fn pair_keys_order_like_pairs() {
        assert!(pair_key("a", 2) < pair_key("a", 10));
        assert!(pair_key("a", 99) < pair_key("a-b", 1));
        assert!(pair_key("a", 99) < pair_key("a_b", 1));
        assert!(pair_key("A", 99) < pair_key("a", 1));
    }
}
