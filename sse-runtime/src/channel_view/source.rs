//! A channel view's channel as the attribute writes it: a name or a template over path
//! parameters (a resolver is `resolver.rs`'s). The macro parses it once, at compile
//! time, into a [`Template`], and checks it there against the channel-name rule.

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::str::FromStr;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Channels;
use crate::channel::{self, Broken, MAX_CHANNEL_LEN};

/// A channel name or template from an `#[sse_view]` attribute, as the macro parsed it:
/// `"room:{room}"` is `[Text("room:"), Param("room")]`.
#[derive(Debug, Clone, Copy)]
pub struct Template {
    parts: &'static [Part],
}

/// A piece of a [`Template`].
#[derive(Debug, Clone, Copy)]
pub enum Part {
    /// Text, as written.
    Text(&'static str),
    /// `{name}`: the path parameter `name`.
    Param(&'static str),
}

impl Part {
    /// The text of a `Text` part; a parameter has none.
    fn text(&self) -> &'static str {
        match self {
            Part::Text(text) => text,
            Part::Param(_) => "",
        }
    }
}

impl Template {
    /// The template made of `parts`.
    pub const fn new(parts: &'static [Part]) -> Template {
        Template { parts }
    }

    /// Fails the build, with the rule it breaks, if the template can never make a channel
    /// name: evaluated in a `const` the macro writes beside the view.
    pub const fn check(self) {
        let mut text_len = 0;
        let mut has_param = false;
        let mut i = 0;
        while i < self.parts.len() {
            match self.parts[i] {
                Part::Text(text) => {
                    text_len += text.len();
                    if let Err(broken) = channel::check_text(text.as_bytes()) {
                        refuse(broken);
                    }
                }
                Part::Param(_) => has_param = true,
            }
            i += 1;
        }
        if text_len == 0 && !has_param {
            refuse(Broken::Empty);
        }
        if text_len > MAX_CHANNEL_LEN {
            refuse(Broken::TooLong);
        }
    }

    /// Its pieces.
    pub const fn parts(self) -> &'static [Part] {
        self.parts
    }
}

/// A compile error naming the rule: `panic!` in a `const` is one.
const fn refuse(broken: Broken) {
    match broken {
        Broken::Empty => panic!("bad channel in `#[sse_view]`: the channel name is empty"),
        Broken::TooLong => panic!(
            "bad channel in `#[sse_view]`: it is longer than 256 bytes, the longest channel name"
        ),
        Broken::ControlOrSpace => panic!(
            "bad channel in `#[sse_view]`: it holds a control character or white space, which no channel name may hold (write `all-builds`, `room:{{room}}`)"
        ),
        Broken::Slash => panic!(
            "bad channel in `#[sse_view]`: it holds `/` or `\\`, which no channel name may hold (Redis's convention is `:`, as in `room:{{room}}`)"
        ),
        Broken::Pattern => panic!(
            "bad channel in `#[sse_view]`: it holds `*`, `?`, `[` or `]`, Redis pattern characters, which no channel name may hold: channels are plain names"
        ),
    }
}

/// `channel = "foo"`.
pub fn fixed_channel(
    name: &'static str,
) -> impl Future<Output = Result<Channels, Response>> + Send {
    std::future::ready(Ok(Channels::one(name)))
}

/// How a parameter typed with `params(name: Type)` is read: parsed as its type, then
/// written back with `Display`, as the view's publisher writes it.
pub type ParseParam = fn(&str) -> Result<String, String>;

/// The [`ParseParam`] of a parameter of type `T`.
pub fn parse_param<T>(raw: &str) -> Result<String, String>
where
    T: FromStr + Display,
    T::Err: Display,
{
    match raw.parse::<T>() {
        Ok(value) => Ok(value.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

/// `channel = "room:{room}"`: the template with each `{name}` replaced by the path
/// parameter of that name, read as its type says when `typed` names it (a value that
/// does not parse is answered `400` with the reason).
pub async fn template_channel<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    template: Template,
    typed: &[(&'static str, ParseParam)],
) -> Result<Channels, Response> {
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    let mut channel = String::new();
    for part in template.parts {
        match *part {
            Part::Text(text) => channel.push_str(text),
            Part::Param(name) => {
                let value = params.get(name).ok_or_else(|| {
                    // The macro checks every name against the path, so this is a route
                    // mounted by hand at a path without the parameter.
                    let reason = format!("the path has no parameter `{name}`\n");
                    (StatusCode::INTERNAL_SERVER_ERROR, reason).into_response()
                })?;
                match typed.iter().find(|(typed, _)| *typed == name) {
                    Some((_, parse)) => {
                        let value = parse(value).map_err(|error| {
                            let reason = format!("bad path parameter `{name}`: {error}\n");
                            (StatusCode::BAD_REQUEST, reason).into_response()
                        })?;
                        channel.push_str(&value);
                    }
                    None => channel.push_str(value),
                }
            }
        }
    }
    Ok(Channels::one(channel))
}

/// `channels = ["news", "user:{user}"]`: each template with its parameters replaced, as
/// a feed.
pub async fn template_channels<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    templates: &[Template],
) -> Result<Channels, Response> {
    let mut channels = Channels::many(Vec::<String>::new());
    for template in templates {
        let fixed = template
            .parts
            .iter()
            .all(|part| matches!(part, Part::Text(_)));
        let channel = match fixed {
            // A route without path parameters has no `Path` to read.
            true => Channels::one(template.parts.iter().map(Part::text).collect::<String>()),
            false => template_channel(parts, state, *template, &[]).await?,
        };
        channels.extend(channel);
    }
    Ok(channels)
}
