//! Reading the members that name resources and tags from a decoded request, whatever its
//! protocol: JSON lists and objects, or awsQuery forms (`Names.member.N`,
//! `Tags.member.N.Key`). Nothing here fails: a member of the wrong shape is treated as
//! absent, and the handler's own validation reports it if the request is allowed.

use crate::protocol::value::Node;

/// A string member.
pub(crate) fn text<'a>(input: &'a Node, member: &str) -> Option<&'a str> {
    match input.get(member)? {
        Node::Str(s) | Node::Text(s) => Some(s.as_str()),
        _ => None,
    }
}

/// The items of a list member (JSON list, or a query form's `member.N` / `N`), in order.
pub(crate) fn items<'a>(input: &'a Node, member: &str) -> Vec<&'a Node> {
    match input.get(member) {
        Some(Node::List(items)) => items.iter().collect(),
        Some(Node::Form(children)) => form_items(children),
        _ => Vec::new(),
    }
}

fn form_items(children: &[(String, Node)]) -> Vec<&Node> {
    let numbered = |c: &[(String, Node)]| c.iter().all(|(k, _)| k.parse::<u32>().is_ok());
    let list = match children {
        [(_, Node::Form(inner))] if numbered(inner) => inner.as_slice(),
        c if numbered(c) => c,
        _ => return Vec::new(),
    };
    let mut indexed: Vec<(u32, &Node)> = list
        .iter()
        .map(|(k, v)| (k.parse().unwrap_or(u32::MAX), v))
        .collect();
    indexed.sort_by_key(|(i, _)| *i);
    indexed.into_iter().map(|(_, v)| v).collect()
}

/// The string items of a list member.
pub(crate) fn strings<'a>(input: &'a Node, member: &str) -> Vec<&'a str> {
    items(input, member)
        .into_iter()
        .filter_map(|n| match n {
            Node::Str(s) | Node::Text(s) => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

/// Tags a request carries, in any of AWS's shapes: ECS `[{"key", "value"}]`, IAM/STS
/// `Tags.member.N.Key/Value`, or Logs' map `{"k": "v"}`.
pub(crate) fn tags(input: &Node, member: &str) -> Vec<(String, String)> {
    let Some(node) = input.get(member) else {
        return Vec::new();
    };
    let pair = |n: &Node| {
        let key = text(n, "key").or_else(|| text(n, "Key"))?;
        let value = text(n, "value").or_else(|| text(n, "Value")).unwrap_or("");
        Some((key.to_owned(), value.to_owned()))
    };
    match node {
        Node::List(list) => list.iter().filter_map(pair).collect(),
        Node::Form(children) => form_items(children).into_iter().filter_map(pair).collect(),
        Node::Struct(entries) | Node::Map(entries) => entries
            .iter()
            .filter_map(|(k, v)| match v {
                Node::Str(s) | Node::Text(s) => Some((k.clone(), s.clone())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Node {
        Node::Str(v.into())
    }

    fn t(v: &str) -> Node {
        Node::Text(v.into())
    }

    #[test]
    fn members_read_from_json_and_query_shapes() {
        let json = Node::Struct(vec![
            ("cluster".into(), s("a")),
            ("tasks".into(), Node::List(vec![s("t1"), s("t2")])),
            (
                "tags".into(),
                Node::List(vec![Node::Struct(vec![
                    ("key".into(), s("env")),
                    ("value".into(), s("prod")),
                ])]),
            ),
        ]);
        assert_eq!(text(&json, "cluster"), Some("a"));
        assert_eq!(strings(&json, "tasks"), ["t1", "t2"]);
        assert_eq!(tags(&json, "tags"), [("env".to_owned(), "prod".to_owned())]);

        let query = Node::Form(vec![
            ("UserName".into(), t("alice")),
            (
                "TagKeys".into(),
                Node::Form(vec![(
                    "member".into(),
                    Node::Form(vec![("2".into(), t("b")), ("1".into(), t("a"))]),
                )]),
            ),
            (
                "Tags".into(),
                Node::Form(vec![(
                    "member".into(),
                    Node::Form(vec![(
                        "1".into(),
                        Node::Form(vec![("Key".into(), t("team")), ("Value".into(), t("x"))]),
                    )]),
                )]),
            ),
        ]);
        assert_eq!(text(&query, "UserName"), Some("alice"));
        assert_eq!(strings(&query, "TagKeys"), ["a", "b"]);
        assert_eq!(tags(&query, "Tags"), [("team".to_owned(), "x".to_owned())]);

        let logs = Node::Struct(vec![(
            "tags".into(),
            Node::Struct(vec![("owner".into(), s("alice"))]),
        )]);
        assert_eq!(
            tags(&logs, "tags"),
            [("owner".to_owned(), "alice".to_owned())]
        );
        assert!(tags(&logs, "missing").is_empty());
        assert!(strings(&logs, "tags").is_empty());
    }
}
