//! The route paths of axum 0.8 (`/rooms/{room}`, `/files/{*rest}`), checked at compile time.

/// Checks `path` as axum's router reads it and returns the names of its parameters, or
/// says what is wrong and what to write instead.
pub(crate) fn params(path: &str) -> Result<Vec<String>, String> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(format!("a route path starts with `/`: write \"/{path}\""));
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let mut names: Vec<String> = Vec::new();
    for (index, segment) in segments.iter().enumerate() {
        if let Some(name) = segment.strip_prefix(':') {
            return Err(format!(
                "axum 0.8 writes path parameters in braces: write `{{{name}}}` instead of `:{name}`"
            ));
        }
        if segment.is_empty() && index + 1 < segments.len() {
            return Err("the path has an empty segment (`//`)".into());
        }
        for param in segment_params(segment)? {
            let name = match param.strip_prefix('*') {
                Some(name) if index + 1 == segments.len() => name,
                Some(_) => return Err("a wildcard `{*name}` must be the last segment".into()),
                None => param,
            };
            if !is_identifier(name) {
                return Err(format!(
                    "`{{{param}}}` is not a parameter name: use letters, digits and `_`"
                ));
            }
            if names.iter().any(|seen| seen == name) {
                return Err(format!("the parameter `{name}` appears twice"));
            }
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// The `{...}` parameters of one segment; `{{` and `}}` stand for literal braces.
fn segment_params(segment: &str) -> Result<Vec<&str>, String> {
    let mut params = Vec::new();
    let mut rest = segment;
    while let Some(at) = rest.find(['{', '}']) {
        let (brace, after) = (&rest[at..at + 1], &rest[at + 1..]);
        if after.starts_with(brace) {
            rest = &after[1..];
            continue;
        }
        if brace == "}" {
            return Err(format!(
                "`}}` without its `{{` in `{segment}`: write `}}}}` for a brace"
            ));
        }
        let Some(end) = after.find('}') else {
            return Err(format!("`{{` without its `}}` in `{segment}`"));
        };
        params.push(&after[..end]);
        rest = &after[end + 1..];
    }
    Ok(params)
}

pub(crate) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::params;

    #[test]
    fn good_paths_give_their_parameters() {
        assert_eq!(params("/").unwrap(), Vec::<String>::new());
        assert_eq!(params("/time").unwrap(), Vec::<String>::new());
        assert_eq!(params("/rooms/{room}/").unwrap(), ["room"]);
        assert_eq!(params("/a/{x}/b/{*rest}").unwrap(), ["x", "rest"]);
        assert_eq!(params("/lit/{{braces}}").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn bad_paths_say_what_to_write() {
        assert!(params("time").unwrap_err().contains("\"/time\""));
        assert!(params("/rooms/:room").unwrap_err().contains("`{room}`"));
        assert!(params("/a//b").is_err());
        assert!(params("/{*rest}/more").is_err());
        assert!(params("/{room").is_err());
        assert!(params("/room}").is_err());
        assert!(params("/{a-b}").is_err());
        assert!(params("/{x}/{x}").unwrap_err().contains("twice"));
    }
}
