//! The macros of [sse-runtime](https://docs.rs/sse-runtime): `#[sse_view]` and
//! `sse_routes!`. Depend on sse-runtime and use them from there; its documentation
//! describes them.
//!
//! `#[sse_view]` runs as a pipeline, one file a step: `attr.rs` reads the arguments,
//! `ast.rs` the item, `valid.rs` checks what they mean together, and `expand.rs` writes
//! the code. Every mistake found on the way is collected (`errors.rs`) and reported in
//! one build, beside the user's item, so the rest of the crate still compiles.
//! `sse_routes!` lives in `routes.rs`; both check paths with `path.rs`. `stream!` (an
//! async block whose `yield`s make a stream) lives in `stream.rs`; the function-like
//! macros learn where sse-runtime is from `krate.rs`. `#[derive(SseEvent)]` is
//! `event.rs`.

mod ast;
mod attr;
mod errors;
mod event;
mod expand;
mod krate;
mod path;
mod routes;
mod stream;
mod template;
mod valid;

use proc_macro::TokenStream;

/// Turns an `async fn` into a streaming route, or a unit struct into a channel's route.
#[proc_macro_attribute]
pub fn sse_view(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::sse_view(args.into(), item.into()).into()
}

/// Builds an `axum::Router` from a list of views.
#[proc_macro]
pub fn sse_routes(input: TokenStream) -> TokenStream {
    routes::expand(input.into()).into()
}

/// Turns an async block with `yield`s into a stream.
#[proc_macro]
pub fn stream(input: TokenStream) -> TokenStream {
    stream::expand(input.into()).into()
}

/// Makes a struct or enum a type of events: `#[derive(SseEvent)]`.
#[proc_macro_derive(SseEvent, attributes(sse))]
pub fn derive_sse_event(input: TokenStream) -> TokenStream {
    event::derive(input.into()).into()
}
