//! Where sse-runtime is, for the function-like macros: sse-runtime's `macro_rules!`
//! wrappers call them with `crate = $crate;` first, so the generated code reaches the
//! runtime wherever that crate is re-exported.

use proc_macro2::{TokenStream, TokenTree};
use quote::quote;
use syn::parse::ParseStream;
use syn::Token;

/// Reads `crate = path;` if the input starts with it; `::sse_runtime` otherwise.
pub(crate) fn parse(input: ParseStream<'_>) -> syn::Result<TokenStream> {
    if !(input.peek(Token![crate]) && input.peek2(Token![=])) {
        return Ok(quote!(::sse_runtime));
    }
    input.parse::<Token![crate]>()?;
    input.parse::<Token![=]>()?;
    // `$crate` is an identifier no syn type parses: take the tokens up to `;`.
    input.step(|cursor| {
        let mut rest = *cursor;
        let mut path = TokenStream::new();
        while let Some((token, next)) = rest.token_tree() {
            if matches!(&token, TokenTree::Punct(punct) if punct.as_char() == ';') {
                return Ok((path, next));
            }
            path.extend([token]);
            rest = next;
        }
        Err(cursor.error("expected `;` after `crate = path`"))
    })
}
