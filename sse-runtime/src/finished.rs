//! Finite streams. A browser's `EventSource` reconnects whenever a stream ends, a few
//! seconds later, and a generator view would then stream from the start again. A view
//! whose stream is complete says so with [`Sse::finish`](crate::Sse::finish): its last
//! event carries the id [`FINISHED_ID`], the browser sends it back when it reconnects,
//! and the request is answered `204 No Content`, which the HTML standard says stops an
//! `EventSource` for good (`readyState` becomes `CLOSED`).
//!
//! `sse_routes!` mounts every generator view behind [`refuse_finished`]; a view mounted
//! by hand gets the same with
//! `get(view).layer(axum::middleware::from_fn(sse_runtime::refuse_finished))`.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::last_event_id::LastEventId;

/// The id of the last event of a finished stream (see [`Sse::finish`](crate::Sse::finish)).
pub const FINISHED_ID: &str = "sse-finished";

/// Middleware that answers `204 No Content` to a client reconnecting to a finished
/// stream, and passes every other request on.
pub async fn refuse_finished(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if matches!(LastEventId::read(&parts), Ok(LastEventId(Some(id))) if id == FINISHED_ID) {
        return StatusCode::NO_CONTENT.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}
