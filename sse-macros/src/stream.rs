//! `stream! { ... }`: an async block whose `yield`s become the items of a stream.
//!
//! Each `yield value` in the block (not in a closure, an `async` block or an item inside
//! it, which have their own bodies) becomes `yielder.hand(value).await`; the runtime's
//! `Yielded` turns the block into the stream.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Block, Expr, Ident, Item, Stmt};

use crate::krate;

struct Input {
    krate: TokenStream,
    stmts: Vec<Stmt>,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        Ok(Input {
            krate: krate::parse(input)?,
            stmts: Block::parse_within(input)?,
        })
    }
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let Input { krate, mut stmts } = match syn::parse2(input) {
        Ok(input) => input,
        Err(error) => return error.into_compile_error(),
    };
    let yielder = Ident::new("__sse_yielder", Span::mixed_site());
    let mut rewrite = OwnYields(|expr: &mut Expr| hand_over(expr, &yielder, &krate));
    for stmt in &mut stmts {
        rewrite.visit_stmt_mut(stmt);
    }
    quote! {
        #krate::__private::Yielded::new(move |#yielder| async move {
            #(#stmts)*
        })
    }
}

/// Rewrites each `yield value` into a hand-over to the stream; the value first, for the
/// `yield`s it may hold itself.
fn hand_over(expr: &mut Expr, yielder: &Ident, krate: &TokenStream) {
    let Expr::Yield(yielded) = expr else { return };
    if let Some(value) = &mut yielded.expr {
        OwnYields(|inner: &mut Expr| hand_over(inner, yielder, krate)).visit_expr_mut(value);
    }
    let span = yielded.span();
    let value = match &yielded.expr {
        Some(value) => quote!(#value),
        None => quote!(()),
    };
    *expr = syn::parse_quote_spanned! {span=>
        #krate::__private::Yielder::hand(&#yielder, #value).await
    };
}

/// Visits the expressions of a body that are its own: not those of a closure, an
/// `async` block or an item inside it.
struct OwnYields<F>(F);

impl<F: FnMut(&mut Expr)> VisitMut for OwnYields<F> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Closure(_) | Expr::Async(_) => {}
            Expr::Yield(_) => (self.0)(expr),
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}
}

/// Where a body that is not a stream's says `yield`, to point at.
pub(crate) fn yields(block: &Block) -> Vec<Span> {
    let mut spans = Vec::new();
    OwnYields(|expr: &mut Expr| {
        if let Expr::Yield(yielded) = expr {
            spans.push(yielded.yield_token.span);
        }
    })
    .visit_block_mut(&mut block.clone());
    spans
}

/// Replaces each `yield value` of a body with `value`, once the `yield` is reported.
pub(crate) fn unyield(block: &mut Block) {
    OwnYields(|expr: &mut Expr| {
        if let Expr::Yield(yielded) = expr {
            *expr = match yielded.expr.take() {
                Some(value) => syn::parse_quote!({ let _ = #value; }),
                None => syn::parse_quote!(()),
            };
        }
    })
    .visit_block_mut(block);
}
