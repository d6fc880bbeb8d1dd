//! Finds the JSON path (`containerDefinitions[0].cpu`) at a line/column that
//! serde_json reported, so type errors name the field without an extra dependency.

enum Frame {
    Object { key: Option<String> },
    Array { index: usize },
}

/// The path of the value being read when serde_json stopped at `line`/`column`
/// (its convention: 1-based line, column = bytes consumed on that line).
pub fn path_at(json: &str, line: usize, column: usize) -> String {
    let bytes = json.as_bytes();
    let end = offset_of(bytes, line, column).min(bytes.len());
    let mut stack: Vec<Frame> = Vec::new();
    // Set after `{` or `,` inside an object: the next string is a key.
    let mut expecting_key = false;
    let mut i = 0;
    while i < end {
        match bytes[i] {
            b'"' => {
                let start = i + 1;
                i = string_end(bytes, start);
                if expecting_key {
                    let key = String::from_utf8_lossy(&bytes[start..i.min(bytes.len())]);
                    if let Some(Frame::Object { key: slot }) = stack.last_mut() {
                        *slot = Some(key.into_owned());
                    }
                    expecting_key = false;
                }
            }
            b'{' => {
                stack.push(Frame::Object { key: None });
                expecting_key = true;
            }
            b'[' => {
                stack.push(Frame::Array { index: 0 });
                expecting_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                expecting_key = false;
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { key }) => {
                    *key = None;
                    expecting_key = true;
                }
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            _ => {}
        }
        i += 1;
    }
    render(&stack)
}

/// Byte offset of `column` bytes into 1-based `line`.
fn offset_of(bytes: &[u8], line: usize, column: usize) -> usize {
    let line_start = if line <= 1 {
        0
    } else {
        bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map_or(bytes.len(), |(i, _)| i + 1)
    };
    line_start + column
}

/// Index of the closing quote of a string whose content starts at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

fn render(stack: &[Frame]) -> String {
    let mut path = String::new();
    for frame in stack {
        match frame {
            Frame::Object { key: Some(key) } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Frame::Object { key: None } => {}
            Frame::Array { index } => path.push_str(&format!("[{index}]")),
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
  "family": "web",
  "containerDefinitions": [
    {"name": "a", "image": "a.wasm"},
    {"name": "b\"}", "cpu": "abc"}
  ]
}"#;

    #[test]
    fn finds_nested_paths() {
        // Just past `"abc"` on line 5.
        let column = r#"    {"name": "b\"}", "cpu": "abc""#.len();
        assert_eq!(path_at(DOC, 5, column), "containerDefinitions[1].cpu");
        assert_eq!(path_at(DOC, 2, 17), "family");
        assert_eq!(path_at(DOC, 1, 1), "");
    }

    #[test]
    fn closed_objects_are_left() {
        // Just past the `}` closing the first container.
        let column = r#"    {"name": "a", "image": "a.wasm"}"#.len();
        assert_eq!(path_at(DOC, 4, column), "containerDefinitions[0]");
    }

    #[test]
    fn positions_past_the_end_are_clamped() {
        assert_eq!(path_at(DOC, 99, 99), "");
    }
}
