//! What the arguments and the item mean together: each mistake a user can make, found
//! before any code is written, on the token that shows it.

use syn::{Fields, LitStr, Type};

use crate::ast::{self, Arg, View};
use crate::attr::{Args, Channel};
use crate::errors::Errors;
use crate::path;

/// The longest channel name, in bytes: the runtime refuses longer names from requests.
pub(crate) const MAX_CHANNEL_LEN: usize = 256;

/// Records every mistake in `args` and `view`.
pub(crate) fn check(args: &Args, view: &View, errors: &mut Errors) {
    let path_params = args
        .path
        .as_ref()
        .and_then(|path| match path::params(&path.value()) {
            Ok(params) => Some(params),
            Err(message) => {
                errors.at(path, format!("bad path in `#[sse_view]`: {message}"));
                None
            }
        });
    match view {
        View::Generator(function) => {
            if let Some((key, _)) = &args.channel {
                errors.at(
                    key,
                    "a view with `channel = ...` streams its channel and has no body of its own: declare it as `pub struct Name;`",
                );
            }
            check_generator(function, errors);
        }
        View::Channel(declaration) => {
            match &args.channel {
                None => errors.at(
                    &declaration.ident,
                    "a struct under `#[sse_view]` declares a channel view: say which channel, as in `#[sse_view(\"/path\", channel = \"name\")]`",
                ),
                Some((_, Channel::Template(template))) => {
                    check_template(template, path_params.as_deref(), errors);
                }
                Some((_, Channel::Resolver(_))) => {}
            }
            if !matches!(declaration.fields, Fields::Unit) {
                errors.at(
                    &declaration.fields,
                    "a channel view has no fields: declare it as a unit struct, `pub struct Name;`",
                );
            }
            if !declaration.generics.params.is_empty() {
                errors.at(&declaration.generics, "a channel view cannot be generic");
            }
        }
    }
}

fn check_generator(function: &syn::ItemFn, errors: &mut Errors) {
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        errors.at(
            sig.fn_token,
            "`#[sse_view]` functions must be `async fn`s: write `async fn`",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            &sig.generics,
            "`#[sse_view]` functions cannot be generic: a route needs one concrete handler",
        );
    }
    let mut buffers = 0;
    for arg in ast::args(function) {
        match arg {
            Arg::Receiver(receiver) => errors.at(
                receiver,
                "`#[sse_view]` functions cannot take `self`: write a free function",
            ),
            Arg::MisusedBuffer(arg) => errors.at(
                &arg.ty,
                "`#[sse_view]` lends the buffer mutably: write `sse: &mut Sse`",
            ),
            Arg::Buffer(arg) => {
                buffers += 1;
                if buffers > 1 {
                    errors.at(
                        arg,
                        "`#[sse_view]` functions take one `&mut Sse` buffer: remove this one",
                    );
                }
            }
            Arg::Extractor(arg) => {
                if let Type::ImplTrait(ty) = &*arg.ty {
                    errors.at(
                        ty,
                        "`impl Trait` makes an `#[sse_view]` function generic: name the extractor's type",
                    );
                }
            }
        }
    }
}

/// Checks a channel name or template such as `"room:{room}"`: each `{name}` must be a
/// parameter of the path, when the attribute gives the path.
fn check_template(template: &LitStr, path_params: Option<&[String]>, errors: &mut Errors) {
    match template_params(&template.value()) {
        Err(message) => errors.at(template, format!("bad channel in `#[sse_view]`: {message}")),
        Ok(params) => {
            let Some(path_params) = path_params else {
                return;
            };
            for param in params {
                if !path_params.contains(&param) {
                    errors.push(syn::Error::new(
                        template.span(),
                        format!(
                            "the channel uses `{{{param}}}`, which is not a parameter of the path: add `{{{param}}}` to the path or remove it from the channel"
                        ),
                    ));
                }
            }
        }
    }
}

/// The `{name}` parameters of a channel template, or what is wrong with it.
pub(crate) fn template_params(template: &str) -> Result<Vec<String>, String> {
    if template.is_empty() {
        return Err("the channel name is empty".into());
    }
    if template.len() > MAX_CHANNEL_LEN {
        return Err(format!(
            "the channel name is longer than {MAX_CHANNEL_LEN} bytes"
        ));
    }
    if let Some(c) = template.chars().find(|c| c.is_control()) {
        return Err(format!(
            "the channel name holds the control character {c:?}"
        ));
    }
    if let Some(c) = template
        .chars()
        .find(|c| matches!(c, '*' | '?' | '[' | ']'))
    {
        return Err(format!(
            "the channel name holds `{c}`, a Redis pattern character: channels are plain names"
        ));
    }
    let mut params = Vec::new();
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
        params.push(name.to_owned());
        rest = &rest[open + close + 1..];
    }
    Ok(params)
}

/// The router state that extractors are checked against: `state = T`, else the `T` of
/// a `State<T>` argument, else `()`.
pub(crate) fn state_type<'a>(args: &'a Args, function: &'a syn::ItemFn) -> Option<&'a Type> {
    args.state.as_ref().map(|(_, ty)| ty).or_else(|| {
        ast::args(function).into_iter().find_map(|arg| match arg {
            Arg::Extractor(arg) => ast::state_type(&arg.ty),
            _ => None,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::template_params;

    #[test]
    fn templates_give_their_parameters_and_refuse_patterns() {
        assert_eq!(template_params("room:{room}").unwrap(), ["room"]);
        assert_eq!(template_params("foo").unwrap(), Vec::<String>::new());
        assert!(template_params("news.*").is_err());
        assert!(template_params("").is_err());
        assert!(template_params("a\nb").is_err());
        assert!(template_params("{room").is_err());
        assert!(template_params("{1x}").is_err());
    }
}
