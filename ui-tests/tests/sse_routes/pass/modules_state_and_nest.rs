//! Views from other modules, mounted paths, state and nesting.
#![deny(warnings)]

mod views {
    use axum::extract::State;
    use sse_runtime::prelude::*;

    #[sse_view("/state")]
    pub async fn with_state(State(name): State<String>, sse: &mut Sse) {
        sse.add_message("name", &name);
    }

    #[sse_view]
    pub(crate) async fn mounted(sse: &mut Sse) {
        sse.add_message("where", "mounted");
    }

    /// The same path in the attribute and in the list is allowed.
    #[sse_view("/same")]
    pub async fn same(sse: &mut Sse) {
        sse.add_message("where", "same");
    }
}

use sse_runtime::sse_routes;

fn main() {
    let streams = sse_routes![views::with_state, "/mounted" => views::mounted, "/same" => views::same];
    let _app: axum::Router = axum::Router::new()
        .nest("/streams", streams)
        .with_state(String::from("ann"));
    let _empty: axum::Router = sse_routes![];
}
