//! What the arguments and the item mean together: each mistake a user can make, found
//! before any code is written, on the token that shows it.

use syn::{Fields, LitStr, ReturnType, Type};

use crate::ast::{Generator, View};
use crate::attr::{Args, Channel, Param};
use crate::errors::Errors;
use crate::path;
use crate::stream;
use crate::template::{self, Part};

/// Records every mistake in `args` and `view`; returns the pieces of the channel
/// template, for a channel view whose template is well formed.
pub(crate) fn check(args: &Args, view: &View, errors: &mut Errors) -> Option<Vec<Part>> {
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
            check_generator(&Generator::new(function), args, errors);
            if let Some((key, _)) = &args.event {
                errors.at(
                    key,
                    "`event = Type` types a channel view's publisher; a generator view sends typed events with `sse.send_typed(&event)`, or yields them from its stream",
                );
            }
            if let Some((key, _)) = &args.params {
                errors.at(
                    key,
                    "`params(..)` types a channel template's parameters; a generator view takes its path parameters with `Path<T>`",
                );
            }
            if let Some((key, _)) = &args.presence {
                errors.at(
                    key,
                    "`presence = true` tells a channel view's clients who joins and leaves; a generator view has no channel",
                );
            }
            None
        }
        View::Channel(declaration) => {
            let parts = match &args.channel {
                None => {
                    errors.at(
                        &declaration.ident,
                        "a struct under `#[sse_view]` declares a channel view: say which channel, as in `#[sse_view(\"/path\", channel = \"name\")]`",
                    );
                    None
                }
                Some((_, Channel::Template(template))) => {
                    let parts = check_template(template, path_params.as_deref(), errors);
                    if let (Some(parts), Some((_, params))) = (&parts, &args.params) {
                        check_params(params, parts, errors);
                    }
                    parts
                }
                Some((key, Channel::List(list))) => {
                    if list.is_empty() {
                        errors.at(
                            key,
                            "`channels = [...]` lists at least one channel, as in `channels = [\"news\", \"user:{user}\"]`",
                        );
                    }
                    if let Some((key, _)) = &args.event {
                        errors.at(
                            key,
                            "`event = Type` types the publisher of one channel template; a list of channels has none: send to each with `Hub::send`",
                        );
                    }
                    if let Some((key, _)) = &args.params {
                        errors.at(
                            key,
                            "`params(..)` types the parameters of one channel template; in a list of channels they are read as text",
                        );
                    }
                    // Every template's pieces together: the path must have every parameter.
                    let mut all = Vec::new();
                    for template in list {
                        all.extend(check_template(template, path_params.as_deref(), errors)?);
                    }
                    Some(all)
                }
                Some((_, Channel::Resolver(resolver))) => {
                    if args.event.is_some() || args.params.is_some() {
                        errors.at(
                            resolver,
                            "`event = Type` and `params(..)` type the publisher of a channel template, such as `channel = \"room:{room}\"`; a resolver's channels have none: send to them with `Hub::send`",
                        );
                    }
                    None
                }
            };
            if !matches!(declaration.fields, Fields::Unit) {
                errors.at(
                    &declaration.fields,
                    "a channel view has no fields: declare it as a unit struct, `pub struct Name;`",
                );
            }
            if !declaration.generics.params.is_empty() {
                errors.at(&declaration.generics, "a channel view cannot be generic");
            }
            parts
        }
    }
}

fn check_generator(generator: &Generator<'_>, args: &Args, errors: &mut Errors) {
    let sig = &generator.function.sig;
    if sig.asyncness.is_none() && generator.stream.is_none() {
        errors.at(
            sig.fn_token,
            "`#[sse_view]` functions are `async fn`s, or return `impl Stream<Item = Event>`: write `async fn`",
        );
    }
    if generator.stream.is_none() {
        for span in stream::yields(&generator.function.block) {
            errors.push(syn::Error::new(
                span,
                "`yield` sends nothing from an `&mut Sse` view: buffer with `sse.add_message(..)` and send with `sse.flush().await`; or return `impl Stream<Item = Event>` and yield inside `stream! { .. }`",
            ));
        }
    }
    if let Some(stream) = generator.stream {
        for arg in &generator.buffers {
            errors.at(
                arg,
                format!(
                    "a view that returns `{}` yields its events and has no buffer: remove `sse: &mut Sse`, or remove the return type and flush the buffer",
                    text(stream)
                ),
            );
        }
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.at(
            &sig.generics,
            "`#[sse_view]` functions cannot be generic: a route needs one concrete handler",
        );
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        if matches!(**ty, Type::ImplTrait(_)) && generator.stream.is_none() {
            errors.at(
                ty,
                "an `#[sse_view]` function streams what it flushes and returns `()` or `Result<(), E>` (its error is logged), or returns `impl Stream<Item = Event>`: remove the return type, or write `Result<(), YourError>`; a handler that answers with a response of its own is mounted with `.route(path, get(handler))`",
            );
        }
    }
    for receiver in &generator.receivers {
        errors.at(
            receiver,
            "`#[sse_view]` functions cannot take `self`: write a free function",
        );
    }
    for arg in &generator.misused_buffers {
        errors.at(
            &arg.ty,
            "`#[sse_view]` lends the buffer mutably: write `sse: &mut Sse`",
        );
    }
    for arg in generator.buffers.iter().skip(1) {
        errors.at(
            arg,
            "`#[sse_view]` functions take one `&mut Sse` buffer: remove this one",
        );
    }
    for arg in &generator.extractors {
        match &*arg.ty {
            Type::ImplTrait(ty) => errors.at(
                ty,
                "`impl Trait` makes an `#[sse_view]` function generic: name the extractor's type",
            ),
            ty if is_plain_value(ty) => {
                let (pat, ty) = (text(&arg.pat), text(ty));
                errors.at(
                    arg,
                    format!(
                        "`{pat}: {ty}` is not an extractor: every argument but `sse: &mut Sse` is taken from the request, so take a path parameter as `Path({pat}): Path<{ty}>` (or the query string with `Query`)",
                    ),
                );
            }
            _ => {}
        }
    }
    if let (Some((key, given)), Some(argument)) = (&args.state, generator.state_argument) {
        let (given, argument) = (text(given), text(argument));
        if given != argument {
            errors.at(
                key,
                format!(
                    "`state = {given}` disagrees with the `State<{argument}>` argument: keep one"
                ),
            );
        }
    }
}

/// Tokens as the user would write them.
fn text(tokens: &impl quote::ToTokens) -> String {
    tokens
        .to_token_stream()
        .to_string()
        .replace(" :: ", "::")
        .replace(" < ", "<")
        .replace(" >", ">")
}

/// Whether `ty` is a number, `bool`, `char` or `String`: a value no request extracts,
/// written where a path parameter was meant.
fn is_plain_value(ty: &Type) -> bool {
    const PLAIN: [&str; 17] = [
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "f32", "f64", "bool", "char", "String",
    ];
    matches!(ty, Type::Path(path) if path.qself.is_none()
        && path.path.get_ident().is_some_and(|ident| PLAIN.iter().any(|plain| ident == plain)))
}

/// Reads a channel name or template such as `"room:{room}"`: each `{name}` must be a
/// parameter of the path, when the attribute gives the path. The characters are the
/// runtime's to check (see `expand.rs`).
fn check_template(
    template: &LitStr,
    path_params: Option<&[String]>,
    errors: &mut Errors,
) -> Option<Vec<Part>> {
    let parts = match template::parse(&template.value()) {
        Ok(parts) => parts,
        Err(message) => {
            errors.at(template, format!("bad channel in `#[sse_view]`: {message}"));
            return None;
        }
    };
    if let Some(path_params) = path_params {
        for param in template::params(&parts) {
            if !path_params.iter().any(|known| known == param) {
                errors.push(syn::Error::new(
                    template.span(),
                    format!(
                        "the channel uses `{{{param}}}`, which is not a parameter of the path: add `{{{param}}}` to the path or remove it from the channel"
                    ),
                ));
            }
        }
    }
    Some(parts)
}

/// Each typed parameter must be one of the template's, and typed once.
fn check_params(params: &[Param], parts: &[Part], errors: &mut Errors) {
    for (i, param) in params.iter().enumerate() {
        let name = param.name.to_string();
        if !template::params(parts).any(|known| known == name) {
            errors.at(
                &param.name,
                format!("`{name}` is not a parameter of the channel template: `params(..)` types the template's `{{name}}`s"),
            );
        }
        if params[..i].iter().any(|earlier| earlier.name == param.name) {
            errors.at(&param.name, format!("`{name}` is typed twice: keep one"));
        }
    }
}
