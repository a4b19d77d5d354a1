//! `sse_routes![...]`: an `axum::Router` from a list of views, each at its path.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{LitStr, Path, Token};

use crate::errors::Errors;
use crate::expand::companion_ident;
use crate::krate;
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

/// The list, after the path to sse-runtime.
struct Routes {
    krate: TokenStream,
    mounts: Punctuated<Mount, Token![,]>,
}

impl Parse for Routes {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Ok(Routes {
            krate: krate::parse(input)?,
            mounts: Punctuated::parse_terminated(input)?,
        })
    }
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let Routes { krate, mounts } = match syn::parse2(input) {
        Ok(routes) => routes,
        Err(error) => return error.into_compile_error(),
    };
    // One identifier, one hygiene context, whichever span the statements take.
    let router = Ident::new("router", Span::call_site());
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
            #krate::__private::is_view(&#view);
            let #router = <#companion>::mount(#router, const { <#companion>::path(#given) }, #view);
        }
    });
    let routes: Vec<TokenStream> = routes.collect();
    let errors = errors.into_compile_errors();
    quote! {{
        #errors
        let #router = #krate::__private::axum::Router::new();
        #(#routes)*
        #router
    }}
}
