//! `sse_routes![...]`: an `axum::Router` from a list of views, each at its path.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{LitStr, Path, Token};

use crate::errors::Errors;
use crate::expand::companion_ident;
use crate::path;

/// One view in the list: `view`, or `"/path" => view`.
struct Mount {
    path: Option<LitStr>,
    view: Path,
}

impl Parse for Mount {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let path = if input.peek(LitStr) {
            let path = input.parse()?;
            input.parse::<Token![=>]>()?;
            Some(path)
        } else {
            None
        };
        Ok(Mount {
            path,
            view: input.parse()?,
        })
    }
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let mounts =
        match syn::parse::Parser::parse2(Punctuated::<Mount, Token![,]>::parse_terminated, input) {
            Ok(mounts) => mounts,
            Err(error) => return error.into_compile_error(),
        };
    let mut errors = Errors::default();
    let companions: Vec<Path> = mounts
        .iter()
        .map(|mount| {
            let mut companion = mount.view.clone();
            if let Some(last) = companion.segments.last_mut() {
                last.ident = companion_ident(&last.ident);
            }
            companion
        })
        .collect();
    let routes = mounts.iter().zip(&companions).map(|(mount, companion)| {
        if let Some(path) = &mount.path {
            if let Err(message) = path::params(&path.value()) {
                errors.at(path, format!("bad path in `sse_routes!`: {message}"));
            }
        }
        let view = &mount.view;
        let given = match &mount.path {
            Some(path) => quote!(::core::option::Option::Some(#path)),
            None => quote!(::core::option::Option::None),
        };
        quote_spanned! {view.span()=>
            let router = <#companion>::mount(router, const { <#companion>::path(#given) }, #view);
        }
    });
    let routes: Vec<TokenStream> = routes.collect();
    // Through a view's companion, which knows where sse-runtime is (`crate = path`).
    let router = match companions.first() {
        Some(companion) => quote_spanned!(companion.span()=> <#companion>::router()),
        None => quote!(::sse_runtime::__private::axum::Router::new()),
    };
    let errors = errors.into_compile_errors();
    quote! {{
        #errors
        let router = #router;
        #(#routes)*
        router
    }}
}
