//! A channel name or template of an attribute (`"room:{room}"`), parsed once into its
//! pieces. Which characters a channel name may hold is the runtime's rule, checked at
//! compile time by the code the macro writes; here only the braces are read.

use crate::path;

/// A piece of a template.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Text(String),
    Param(String),
}

/// The pieces of `template`, or what is wrong with its braces.
pub(crate) fn parse(template: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '}']) {
        if rest[open..].starts_with('}') {
            return Err("`}` without its `{`".into());
        }
        let Some(close) = rest[open..].find('}') else {
            return Err("`{` without its `}`".into());
        };
        let name = &rest[open + 1..open + close];
        if !path::is_identifier(name) {
            return Err(format!("`{{{name}}}` is not a parameter name"));
        }
        if open > 0 {
            parts.push(Part::Text(rest[..open].to_owned()));
        }
        parts.push(Part::Param(name.to_owned()));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_owned()));
    }
    Ok(parts)
}

/// The names of the path parameters a template uses.
pub(crate) fn params(parts: &[Part]) -> impl Iterator<Item = &str> {
    parts.iter().filter_map(|part| match part {
        Part::Param(name) => Some(name.as_str()),
        Part::Text(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_give_their_pieces() {
        assert_eq!(
            parse("room:{room}").unwrap(),
            [Part::Text("room:".into()), Part::Param("room".into())]
        );
        assert_eq!(parse("foo").unwrap(), [Part::Text("foo".into())]);
        assert!(parse("").unwrap().is_empty());
        assert!(parse("{room").is_err());
        assert!(parse("room}").is_err());
        assert!(parse("{1x}").is_err());
    }
}
