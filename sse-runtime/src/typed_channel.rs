//! The publisher of a channel view: `Room::channel(&room)` is the channel the view at
//! `/rooms/{room}` streams, and it sends only the view's event type.

use std::fmt::{self, Display};
use std::marker::PhantomData;

use crate::channel_view::{Part, Template};
use crate::typed_event::SseEvent;
use crate::{Error, Hub};

/// A channel and the type of the events it carries, on a hub. Made by a channel view
/// with a template: `#[sse_view("/rooms/{room}", channel = "room:{room}", event =
/// ChatEvent)] pub struct Room;` writes `Room::channel(&room)` (the process's hub) and
/// `Room::channel_on(&hub, &room)`.
pub struct TypedChannel<E> {
    hub: Hub,
    name: String,
    event: PhantomData<fn(&E)>,
}

impl<E: SseEvent> TypedChannel<E> {
    /// The channel `template` makes with `values`, one per parameter of the template, in
    /// the order of their first appearance.
    #[doc(hidden)]
    pub fn new(hub: &Hub, template: Template, values: &[&dyn Display]) -> Self {
        Self {
            hub: hub.clone(),
            name: render(template, values),
            event: PhantomData,
        }
    }

    /// The channel's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sends `event` to every client of the channel, in every process that shares the
    /// hub's broker: [`Hub::send`], with the type checked.
    pub async fn send(&self, event: &E) -> Result<(), Error> {
        let event = event.to_event()?;
        self.hub.send(&self.name, &event).await
    }

    /// Sends `event` at most once for `key`: [`Hub::send_idempotent`].
    pub async fn send_idempotent(&self, event: &E, key: &str) -> Result<(), Error> {
        let event = event.to_event()?;
        self.hub.send_idempotent(&self.name, &event, key).await
    }
}

impl<E> fmt::Debug for TypedChannel<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedChannel")
            .field("name", &self.name)
            .field("event", &std::any::type_name::<E>())
            .finish()
    }
}

/// The template with each parameter replaced by its value, the parameters numbered in
/// the order they first appear (a parameter used twice takes the same value).
fn render(template: Template, values: &[&dyn Display]) -> String {
    use std::fmt::Write;
    let parts = template.parts();
    let mut seen: Vec<&str> = Vec::with_capacity(values.len());
    let mut name = String::new();
    for part in parts {
        match *part {
            Part::Text(text) => name.push_str(text),
            Part::Param(param) => {
                let index = match seen.iter().position(|known| *known == param) {
                    Some(index) => index,
                    None => {
                        seen.push(param);
                        seen.len() - 1
                    }
                };
                // The macro passes one value per parameter; a missing one leaves it empty.
                if let Some(value) = values.get(index) {
                    let _ = write!(name, "{value}");
                }
            }
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_take_their_values_in_the_order_they_first_appear() {
        const PARTS: &[Part] = &[
            Part::Text("game:"),
            Part::Param("game"),
            Part::Text(":team:"),
            Part::Param("team"),
            Part::Text(":of:"),
            Part::Param("game"),
        ];
        let name = render(Template::new(PARTS), &[&7_u32, &"red"]);
        assert_eq!(name, "game:7:team:red:of:7");
    }
}
