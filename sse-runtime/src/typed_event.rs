//! Events with a type: `#[derive(SseEvent)]` makes a Rust type the events a view sends
//! or a channel carries, and the compiler keeps the sender and the receiver in step.

use std::borrow::Cow;

use crate::{Error, Event};

/// A type whose values are events: its name comes from the type, its data is JSON.
///
/// Derive it (`#[derive(SseEvent)]`) on a struct or an enum:
///
/// ```
/// use sse_runtime::SseEvent;
///
/// #[derive(SseEvent)]
/// enum ChatEvent {
///     Joined { name: String },               // event: joined, data: {"name":"ann"}
///     Said { name: String, text: String },   // event: said
///     #[sse(event = "left-room")]
///     Left(String),                          // event: left-room, data: "ann"
/// }
///
/// let joined = ChatEvent::Joined { name: "ann".into() };
/// let event = joined.to_event().unwrap();
/// assert_eq!(event.name(), Some("joined"));
/// assert_eq!(event.data_str(), Some(r#"{"name":"ann"}"#));
/// ```
///
/// - The event name is the variant's name (a struct's: the type's) in `snake_case`, or
///   what `#[sse(event = "...")]` says; it is checked when the crate compiles (not empty,
///   no line break).
/// - The data is JSON through serde: named fields make an object, one unnamed field its
///   own value, several an array, none `{}` (an event without data would not reach an
///   `EventSource`). Each field's type implements `serde::Serialize`.
/// - `#[sse(id)]` on a field makes it the event's id (through `Display`), not part of
///   the data. A hub replaces ids with its own on channels.
/// - `#[sse(crate = path)]` says where sse-runtime is, for crates that re-export it.
///
/// [`Event`] itself implements it, so an untyped channel is a typed one of `Event`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event type: derive `SseEvent` on it, or send an `Event`",
    label = "not an event type"
)]
pub trait SseEvent {
    /// Every event name a value of the type may have.
    const NAMES: &'static [&'static str];

    /// The event this value is.
    fn to_event(&self) -> Result<Cow<'_, Event>, Error>;
}

impl SseEvent for Event {
    const NAMES: &'static [&'static str] = &[];

    fn to_event(&self) -> Result<Cow<'_, Event>, Error> {
        Ok(Cow::Borrowed(self))
    }
}
