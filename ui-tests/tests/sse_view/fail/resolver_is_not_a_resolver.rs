use sse_runtime::prelude::*;

fn not_async(id: u32) -> String {
    format!("user:{id}")
}

#[sse_view("/users/{id}", channel = not_async)]
pub struct User;

fn main() {
    let _app: axum::Router = sse_routes![User];
}
