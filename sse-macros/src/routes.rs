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
    let routes = mounts.iter().map(|mount| {
        if let Some(path) = &mount.path {
            if let Err(message) = path::params(&path.value()) {
                errors.at(path, format!("bad path in `sse_routes!`: {message}"));
            }
        }
        let view = &mount.view;
        let mut companion = view.clone();
        if let Some(last) = companion.segments.last_mut() {
            last.ident = companion_ident(&last.ident);
        }
        let given = match &mount.path {
            Some(path) => quote!(::sse_runtime::__private::Option::Some(#path)),
            None => quote!(::sse_runtime::__private::Option::None),
        };
        let path = quote_spanned! {view.span()=>
            const {
                ::sse_runtime::__private::mount_path(
                    #companion::PATH,
                    #given,
                    #companion::VALID,
                    #companion::CHANNEL_PARAMS,
                )
            }
        };
        quote! {
            let router = router.route(
                #path,
                ::sse_runtime::__private::axum::routing::get(#companion::route(#view)),
            );
        }
    });
    let routes: Vec<TokenStream> = routes.collect();
    let errors = errors.into_compile_errors();
    quote! {{
        #errors
        let router = ::sse_runtime::__private::axum::Router::new();
        #(#routes)*
        router
    }}
}
