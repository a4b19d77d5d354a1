//! The arguments of `#[sse_view(...)]`: an optional path, then `key = value` pairs.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream, Parser};
use syn::{Expr, Ident, LitBool, LitStr, Token, Type};

use crate::errors::Errors;

mod kw {
    syn::custom_keyword!(channel);
    syn::custom_keyword!(channels);
    syn::custom_keyword!(presence);
    syn::custom_keyword!(state);
    syn::custom_keyword!(keep_alive);
    syn::custom_keyword!(retry);
    syn::custom_keyword!(event);
    syn::custom_keyword!(params);
}

/// The keys `#[sse_view]` accepts, for "did you mean" hints.
const KEYS: [&str; 9] = [
    "channel",
    "channels",
    "presence",
    "state",
    "keep_alive",
    "retry",
    "event",
    "params",
    "crate",
];

/// What a view's attribute says.
#[derive(Default)]
pub(crate) struct Args {
    /// The route path, when the attribute gives one.
    pub(crate) path: Option<LitStr>,
    /// `channel = ...` or `channels = [...]`: the view streams channels; the span is
    /// the key's.
    pub(crate) channel: Option<(Ident, Channel)>,
    /// `presence = true`: the view tells its channels' clients who joins and leaves.
    pub(crate) presence: Option<(kw::presence, LitBool)>,
    /// `state = Type`: the router state the extractors are checked against.
    pub(crate) state: Option<(kw::state, Type)>,
    /// `keep_alive = Duration`: the silence after which a keep-alive comment goes out.
    pub(crate) keep_alive: Option<(kw::keep_alive, Expr)>,
    /// `retry = Duration`: the reconnection delay a client is told before any event.
    pub(crate) retry: Option<(kw::retry, Expr)>,
    /// `event = Type`: the type of the events a channel view's channel carries.
    pub(crate) event: Option<(kw::event, Type)>,
    /// `params(name: Type, ...)`: the types of a channel template's parameters.
    pub(crate) params: Option<(kw::params, Vec<Param>)>,
    /// `crate = path`: where sse-runtime is, for crates that re-export it.
    pub(crate) krate: Option<(Token![crate], syn::Path)>,
}

/// `name: Type` in `params(...)`.
pub(crate) struct Param {
    pub(crate) name: Ident,
    pub(crate) ty: Type,
}

impl Parse for Param {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name = input.parse()?;
        input.parse::<Token![:]>()?;
        Ok(Param {
            name,
            ty: input.parse()?,
        })
    }
}

/// Where a channel view's channel comes from.
pub(crate) enum Channel {
    /// A name, or a template over path parameters such as `"room:{room}"`.
    Template(LitStr),
    /// An async function that resolves the channel from extractors.
    Resolver(syn::Path),
    /// `channels = ["news", "user:{user}"]`: names or templates, streamed as a feed.
    List(Vec<LitStr>),
}

impl Args {
    /// Reads the arguments, recording each mistake and carrying on where it can.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Args {
        let mut args = Args::default();
        let parser = |input: ParseStream<'_>| args.parse_all(input, errors);
        if let Err(error) = parser.parse2(tokens) {
            errors.push(error);
        }
        args
    }

    fn parse_all(&mut self, input: ParseStream<'_>, errors: &mut Errors) -> syn::Result<()> {
        if input.peek(LitStr) {
            self.path = Some(input.parse()?);
            if input.is_empty() {
                return Ok(());
            }
            input.parse::<Token![,]>()?;
        }
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::channel) {
                let (key, channel) = key_value::<kw::channel, Channel>(input)?;
                let key = Ident::new("channel", key.span);
                set_once(&mut self.channel, key, channel, "channel", errors);
            } else if lookahead.peek(kw::channels) {
                let key = input.parse::<kw::channels>()?;
                input.parse::<Token![=]>()?;
                let content;
                syn::bracketed!(content in input);
                let list = content.parse_terminated(<LitStr as Parse>::parse, Token![,])?;
                let list = Channel::List(list.into_iter().collect());
                let key = Ident::new("channels", key.span);
                set_once(&mut self.channel, key, list, "channels", errors);
            } else if lookahead.peek(kw::presence) {
                let (key, on) = key_value::<kw::presence, LitBool>(input)?;
                set_once(&mut self.presence, key, on, "presence", errors);
            } else if lookahead.peek(kw::state) {
                let (key, state) = key_value::<kw::state, Type>(input)?;
                set_once(&mut self.state, key, state, "state", errors);
            } else if lookahead.peek(kw::keep_alive) {
                let (key, interval) = key_value::<kw::keep_alive, Expr>(input)?;
                set_once(&mut self.keep_alive, key, interval, "keep_alive", errors);
            } else if lookahead.peek(kw::retry) {
                let (key, retry) = key_value::<kw::retry, Expr>(input)?;
                set_once(&mut self.retry, key, retry, "retry", errors);
            } else if lookahead.peek(kw::event) {
                let (key, event) = key_value::<kw::event, Type>(input)?;
                set_once(&mut self.event, key, event, "event", errors);
            } else if lookahead.peek(kw::params) {
                let key = input.parse::<kw::params>()?;
                let content;
                syn::parenthesized!(content in input);
                let params = content.parse_terminated(Param::parse, Token![,])?;
                set_once(
                    &mut self.params,
                    key,
                    params.into_iter().collect(),
                    "params",
                    errors,
                );
            } else if lookahead.peek(Token![crate]) {
                let (key, krate) = key_value::<Token![crate], syn::Path>(input)?;
                set_once(&mut self.krate, key, krate, "crate", errors);
            } else if input.peek(LitStr) {
                let path: LitStr = input.parse()?;
                errors.at(
                    &path,
                    "the path of `#[sse_view]` comes first: write `#[sse_view(\"/path\", key = value)]`",
                );
            } else if input.peek(Ident) {
                let key: Ident = input.parse()?;
                errors.at(&key, unknown_key(&key.to_string()));
                input.parse::<Token![=]>()?;
                skip_value(input)?;
            } else {
                return Err(lookahead.error());
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(())
    }
}

impl Parse for Channel {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            Ok(Channel::Template(input.parse()?))
        } else {
            Ok(Channel::Resolver(input.parse()?))
        }
    }
}

/// `key = value`, keeping the key's token for errors.
fn key_value<K: Parse, V: Parse>(input: ParseStream<'_>) -> syn::Result<(K, V)> {
    let key = input.parse()?;
    input.parse::<Token![=]>()?;
    Ok((key, input.parse()?))
}

fn set_once<K: syn::spanned::Spanned, V>(
    slot: &mut Option<(K, V)>,
    key: K,
    value: V,
    name: &str,
    errors: &mut Errors,
) {
    if slot.is_some() {
        errors.push(syn::Error::new(
            key.span(),
            format!("`{name}` is given twice in `#[sse_view]`: keep one"),
        ));
    } else {
        *slot = Some((key, value));
    }
}

/// Passes over the value of an unknown key, up to the next comma.
fn skip_value(input: ParseStream<'_>) -> syn::Result<()> {
    while !input.is_empty() && !input.peek(Token![,]) {
        input.parse::<proc_macro2::TokenTree>()?;
    }
    Ok(())
}

fn unknown_key(key: &str) -> String {
    if matches!(key, "path" | "route" | "url" | "uri") {
        return format!(
            "`{key}` is not an argument of `#[sse_view]`: give the path first, as a string: `#[sse_view(\"/path\")]`"
        );
    }
    let valid = "the arguments are a path (`\"/path\"`), `channel = ...`, `channels = [...]`, `presence = true`, `state = Type`, `keep_alive = Duration`, `retry = Duration`, `event = Type`, `params(name: Type, ..)` and `crate = path`";
    match KEYS.iter().find(|known| edit_distance(key, known) <= 2) {
        Some(known) => {
            format!("unknown argument `{key}` of `#[sse_view]`: did you mean `{known}`? ({valid})")
        }
        None => format!("unknown argument `{key}` of `#[sse_view]`: {valid}"),
    }
}

/// The Levenshtein distance between two short words.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses_get_a_suggestion() {
        assert_eq!(edit_distance("chanel", "channel"), 1);
        assert_eq!(edit_distance("stat", "state"), 1);
        assert!(unknown_key("chanel").contains("did you mean `channel`?"));
        assert!(!unknown_key("colour").contains("did you mean"));
        assert!(unknown_key("path").contains("first"));
    }
}
