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
use crate::attr::Args;
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
        View::Channel(declaration) => channel(&args, declaration),
    };
    let companion = companion(&args, &view, true);
    quote!(#code #companion)
}

/// The name of the hidden item that carries a view's path to `sse_routes!`.
pub(crate) fn companion_ident(view: &Ident) -> Ident {
    format_ident!("__sse_view_{}", view)
}

/// A hidden unit struct beside the view whose constants `sse_routes!` reads: the path
/// the attribute gives, and whether the view compiled (so a broken view does not also
/// report a missing path).
fn companion(args: &Args, view: &View, valid: bool) -> TokenStream {
    let ident = companion_ident(view.ident());
    let vis = view.vis();
    let path = match &args.path {
        Some(path) => quote!(::sse_runtime::__private::Option::Some(#path)),
        None => quote!(::sse_runtime::__private::Option::None),
    };
    quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #ident;

        #[allow(unreachable_pub, dead_code)]
        impl #ident {
            /// The path the view's attribute gives.
            pub const PATH: ::sse_runtime::__private::Option<&'static str> = #path;
            /// Whether the view compiled without errors.
            pub const VALID: bool = #valid;
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

fn channel(_args: &Args, declaration: &ItemStruct) -> TokenStream {
    syn::Error::new_spanned(declaration, "channel views are not built yet").into_compile_error()
}
