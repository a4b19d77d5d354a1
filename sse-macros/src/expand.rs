//! The code `#[sse_view]` writes: the axum handler, and a hidden companion that tells
//! `sse_routes!` where to mount it.
//!
//! Generated code names everything through `::sse_runtime::__private`, so it compiles in
//! any crate that depends on sse-runtime, whatever that crate imports.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Ident, ItemFn, ItemStruct, ReturnType};

use crate::ast::{self, Arg, View};
use crate::attr::{Args, Channel};
use crate::errors::Errors;
use crate::valid;

/// `#[sse_view(args)] item`: parse, check, then write the code, or the errors beside the
/// user's item as it was written.
pub(crate) fn sse_view(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = Args::parse(args, &mut errors);
    let view = match View::parse(item.clone()) {
        Ok(view) => view,
        Err(error) => {
            errors.push(error);
            let errors = errors.into_compile_errors();
            return quote!(#item #errors);
        }
    };
    valid::check(&args, &view, &mut errors);
    if !errors.is_empty() {
        // A method sits in an `impl`, where the companion cannot go.
        let in_impl = matches!(&view, View::Generator(f) if f.sig.receiver().is_some());
        let companion = (!in_impl).then(|| companion(&args, &view, false));
        let errors = errors.into_compile_errors();
        return quote!(#item #companion #errors);
    }
    let code = match &view {
        View::Generator(function) => generator(&args, function),
        View::Channel(declaration) => channel(declaration),
    };
    let companion = companion(&args, &view, true);
    quote!(#code #companion)
}

/// The name of the hidden item that carries a view's path to `sse_routes!`.
pub(crate) fn companion_ident(view: &Ident) -> Ident {
    format_ident!("__sse_view_{}", view)
}

/// A hidden unit struct beside the view that tells `sse_routes!` how to mount it: the
/// path the attribute gives, the path parameters its channel needs, whether the view
/// compiled (so a broken view does not also report a missing path), and the handler.
fn companion(args: &Args, view: &View, valid: bool) -> TokenStream {
    let ident = companion_ident(view.ident());
    let vis = view.vis();
    let path = match &args.path {
        Some(path) => quote!(::sse_runtime::__private::Option::Some(#path)),
        None => quote!(::sse_runtime::__private::Option::None),
    };
    let params = match &args.channel {
        Some((_, Channel::Template(template))) if valid => {
            valid::template_params(&template.value()).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let route = match view {
        View::Generator(_) => quote! {
            /// The handler: the function itself.
            pub fn route<H>(view: H) -> H {
                view
            }
        },
        View::Channel(declaration) => {
            let view = &declaration.ident;
            quote! {
                /// The handler of the channel view.
                pub fn route(_: #view) -> ::sse_runtime::__private::ChannelRoute<Self> {
                    ::sse_runtime::__private::ChannelRoute::new()
                }
            }
        }
    };
    let source = match view {
        View::Channel(declaration) => channel_source(args, declaration, &ident, valid),
        View::Generator(_) => TokenStream::new(),
    };
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #ident;

        impl ::sse_runtime::__private::Clone for #ident {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl ::sse_runtime::__private::Copy for #ident {}

        #[allow(unreachable_pub, dead_code)]
        impl #ident {
            /// The path the view's attribute gives.
            pub const PATH: ::sse_runtime::__private::Option<&'static str> = #path;
            /// The path parameters the view's channel template uses.
            pub const CHANNEL_PARAMS: &'static [&'static str] = &[#(#params),*];
            /// Whether the view compiled without errors.
            pub const VALID: bool = #valid;
            #route
        }

        #source
    }
}

/// How a channel view finds its channel, as an implementation of `ChannelSource` on its
/// companion.
fn channel_source(
    args: &Args,
    declaration: &ItemStruct,
    companion: &Ident,
    valid: bool,
) -> TokenStream {
    let name = declaration.ident.to_string();
    let private = quote!(::sse_runtime::__private);
    let state = Ident::new("__S", Span::mixed_site());
    let (generics, state_ty) = match &args.state {
        Some((_, ty)) => (quote!(), ty.to_token_stream()),
        None => (
            quote!(<#state: #private::Send + #private::Sync + 'static>),
            state.to_token_stream(),
        ),
    };
    let channel = match &args.channel {
        Some((_, Channel::Template(template)))
            if valid
                && valid::template_params(&template.value())
                    .is_ok_and(|params| params.is_empty()) =>
        {
            quote!({ let _ = (parts, state); #private::fixed_channel(#template) })
        }
        Some((_, Channel::Template(template))) if valid => {
            quote!(#private::template_channel(parts, state, #template))
        }
        Some((_, Channel::Resolver(resolver))) if valid => {
            quote_spanned!(resolver.span()=> #private::resolved_channel::<_, _, #state_ty>(#resolver, parts, state))
        }
        _ => quote!({ let _ = (parts, state); #private::fixed_channel("") }),
    };
    let options = options(args);
    quote! {
        impl #generics #private::ChannelSource<#state_ty> for #companion {
            const VIEW: &'static str = #name;

            fn options() -> #private::Options {
                #options
            }

            fn channel(
                parts: &mut #private::Parts,
                state: &#state_ty,
            ) -> impl #private::FutureTrait<
                Output = #private::Result<#private::String, #private::Response>,
            > + #private::Send {
                #channel
            }
        }
    }
}

/// An `async fn` handler that extracts its arguments, then streams what the body flushes.
fn generator(args: &Args, function: &ItemFn) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
        ..
    } = function;
    let ident = &sig.ident;
    let mut extractors = Vec::new();
    let mut buffer = None;
    for arg in ast::args(function) {
        match arg {
            Arg::Extractor(arg) => extractors.push(arg),
            Arg::Buffer(arg) => buffer = Some(arg),
            Arg::MisusedBuffer(_) | Arg::Receiver(_) => {}
        }
    }
    let outcome = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => ty.to_token_stream(),
    };
    let storage = Ident::new("__sse", Span::mixed_site());
    let (param, bind) = match buffer {
        Some(arg) => {
            let (pat, ty) = (&arg.pat, &arg.ty);
            (quote!(mut #storage), quote!(let #pat: #ty = &mut #storage;))
        }
        None => (quote!(_), quote!()),
    };
    let name = ident.to_string();
    let run = quote_spanned! {outcome.span()=>
        ::sse_runtime::__private::generator::<#outcome, _>
    };
    let checks = extractor_checks(args, function, &extractors);
    let options = options(args);
    quote! {
        #(#attrs)*
        #vis async fn #ident(#(#extractors),*) -> ::sse_runtime::__private::Response {
            #run(#name, #options, move |#param| async move {
                #bind
                #block
            })
        }
        #checks
    }
}

/// The response options the attribute sets, each type-checked at the user's expression.
fn options(args: &Args) -> TokenStream {
    let keep_alive = args
        .keep_alive
        .iter()
        .map(|(_, interval)| quote_spanned!(interval.span()=> .keep_alive(#interval)));
    let retry = args
        .retry
        .iter()
        .map(|(_, retry)| quote_spanned!(retry.span()=> .retry(#retry)));
    quote!(::sse_runtime::__private::Options::new() #(#keep_alive)* #(#retry)*)
}

/// One small call per argument that fails, on that argument, when its type is not an
/// extractor: without it the compiler blames the route for "not a `Handler`".
fn extractor_checks(args: &Args, function: &ItemFn, extractors: &[&syn::PatType]) -> TokenStream {
    let state = match valid::state_type(args, function) {
        Some(state) => state.to_token_stream(),
        None => quote!(()),
    };
    if extractors.is_empty() {
        return TokenStream::new();
    }
    let checks = extractors.iter().enumerate().map(|(index, arg)| {
        let ty = &arg.ty;
        if index + 1 == extractors.len() {
            quote_spanned!(ty.span()=> ::sse_runtime::__private::last_extractor::<#ty, #state, _>();)
        } else {
            quote_spanned!(ty.span()=> ::sse_runtime::__private::extractor::<#ty, #state>();)
        }
    });
    quote! {
        const _: () = {
            #[allow(dead_code)]
            fn extractors_are_extractors() {
                #(#checks)*
            }
        };
    }
}

/// A channel view's declaration stays as written; its handler is on the companion.
fn channel(declaration: &ItemStruct) -> TokenStream {
    declaration.to_token_stream()
}
