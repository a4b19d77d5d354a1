//! The item under `#[sse_view]`, read once into a typed view that borrows from it: a
//! generator function with its arguments sorted, or a channel declaration. The checks
//! (`valid.rs`) and the code (`expand.rs`) both read this model; neither re-derives it.

use proc_macro2::TokenStream;
use syn::{FnArg, Ident, ItemFn, ItemStruct, PatType, Receiver, Type, Visibility};

/// The item a view is made from.
pub(crate) enum View {
    /// `async fn name(extractors..., sse: &mut Sse) { body }`, or
    /// `fn name(extractors...) -> impl Stream<Item = Event> { stream! { ... } }`: a
    /// generator view.
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

/// A generator function, its arguments sorted by what they are.
pub(crate) struct Generator<'a> {
    pub(crate) function: &'a ItemFn,
    /// The arguments that are axum extractors, in order.
    pub(crate) extractors: Vec<&'a PatType>,
    /// `sse: &mut Sse`, each one given (one is right).
    pub(crate) buffers: Vec<&'a PatType>,
    /// `Sse` or `&Sse`: the buffer, taken in a way that cannot flush.
    pub(crate) misused_buffers: Vec<&'a PatType>,
    /// `self`, which a free route cannot have.
    pub(crate) receivers: Vec<&'a Receiver>,
    /// The `T` of the first argument typed `State<T>`.
    pub(crate) state_argument: Option<&'a Type>,
    /// The return type, when it is `impl Stream<...>`: the view yields its events.
    pub(crate) stream: Option<&'a Type>,
}

impl<'a> Generator<'a> {
    pub(crate) fn new(function: &'a ItemFn) -> Generator<'a> {
        let mut generator = Generator {
            function,
            extractors: Vec::new(),
            buffers: Vec::new(),
            misused_buffers: Vec::new(),
            receivers: Vec::new(),
            state_argument: None,
            stream: match &function.sig.output {
                syn::ReturnType::Type(_, ty) if is_impl_stream(ty) => Some(ty),
                _ => None,
            },
        };
        for input in &function.sig.inputs {
            match input {
                FnArg::Receiver(receiver) => generator.receivers.push(receiver),
                FnArg::Typed(arg) => match &*arg.ty {
                    Type::Reference(reference) if names_buffer(&reference.elem) => {
                        match reference.mutability {
                            Some(_) => generator.buffers.push(arg),
                            None => generator.misused_buffers.push(arg),
                        }
                    }
                    ty if names_buffer(ty) => generator.misused_buffers.push(arg),
                    ty => {
                        if generator.state_argument.is_none() {
                            generator.state_argument = state_type(ty);
                        }
                        generator.extractors.push(arg);
                    }
                },
            }
        }
        generator
    }
}

impl Generator<'_> {
    /// Whether the function returns a stream of its events, rather than flushing them.
    pub(crate) fn is_stream(&self) -> bool {
        self.stream.is_some()
    }
}

/// Whether `ty` is `impl Stream<...>` (with any other bounds), whatever path names it.
fn is_impl_stream(ty: &Type) -> bool {
    let Type::ImplTrait(ty) = ty else {
        return false;
    };
    ty.bounds.iter().any(|bound| {
        matches!(bound, syn::TypeParamBound::Trait(bound)
            if bound.path.segments.last().is_some_and(|last| last.ident == "Stream"))
    })
}

/// Whether `ty` is `Sse`, whatever path leads to it.
fn names_buffer(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.qself.is_none()
        && path.path.segments.last().is_some_and(|last| last.ident == "Sse" && last.arguments.is_none()))
}

/// The `T` of an argument typed `State<T>`, the router state the view needs.
fn state_type(ty: &Type) -> Option<&Type> {
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
