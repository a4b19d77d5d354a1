//! The item under `#[sse_view]`, read into a typed view: a generator function or a
//! channel declaration.

use proc_macro2::TokenStream;
use syn::{FnArg, Ident, ItemFn, ItemStruct, PatType, Receiver, Type, Visibility};

/// The item a view is made from.
pub(crate) enum View {
    /// `async fn name(extractors..., sse: &mut Sse) { body }`: a generator view.
    Generator(ItemFn),
    /// `struct Name;` with `channel = ...` in the attribute: a channel view.
    Channel(ItemStruct),
}

impl View {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<View> {
        match syn::parse2::<syn::Item>(tokens)? {
            syn::Item::Fn(function) => Ok(View::Generator(function)),
            syn::Item::Struct(declaration) => Ok(View::Channel(declaration)),
            other => Err(syn::Error::new_spanned(
                other,
                "`#[sse_view]` goes on an `async fn` (a generator view) or on a unit struct with `channel = ...` (a channel view)",
            )),
        }
    }

    pub(crate) fn ident(&self) -> &Ident {
        match self {
            View::Generator(function) => &function.sig.ident,
            View::Channel(declaration) => &declaration.ident,
        }
    }

    pub(crate) fn vis(&self) -> &Visibility {
        match self {
            View::Generator(function) => &function.vis,
            View::Channel(declaration) => &declaration.vis,
        }
    }
}

/// One argument of a generator view.
pub(crate) enum Arg<'a> {
    /// `sse: &mut Sse`: the buffer the body fills and flushes.
    Buffer(&'a PatType),
    /// `Sse` or `&Sse`: the buffer, taken in a way that cannot flush.
    MisusedBuffer(&'a PatType),
    /// `self`, which a free route cannot have.
    Receiver(&'a Receiver),
    /// Anything else: an axum extractor.
    Extractor(&'a PatType),
}

/// The arguments of a generator view, each classified.
pub(crate) fn args(function: &ItemFn) -> Vec<Arg<'_>> {
    function
        .sig
        .inputs
        .iter()
        .map(|input| match input {
            FnArg::Receiver(receiver) => Arg::Receiver(receiver),
            FnArg::Typed(arg) => match &*arg.ty {
                Type::Reference(reference) if names_buffer(&reference.elem) => {
                    if reference.mutability.is_some() {
                        Arg::Buffer(arg)
                    } else {
                        Arg::MisusedBuffer(arg)
                    }
                }
                ty if names_buffer(ty) => Arg::MisusedBuffer(arg),
                _ => Arg::Extractor(arg),
            },
        })
        .collect()
}

/// Whether `ty` is `Sse`, whatever path leads to it.
fn names_buffer(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.qself.is_none()
        && path.path.segments.last().is_some_and(|last| last.ident == "Sse" && last.arguments.is_none()))
}

/// The `T` of an argument typed `State<T>`, the router state the view needs.
pub(crate) fn state_type(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "State" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(generics) = &last.arguments else {
        return None;
    };
    match generics.args.first()? {
        syn::GenericArgument::Type(state) => Some(state),
        _ => None,
    }
}
