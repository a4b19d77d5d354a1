//! The log lines the code under test writes with `tracing`, captured for assertions,
//! and the fields its spans record once begun (`RECORD channel="room:a"`).
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();

struct Capture;

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        // A span's field recorded after it began, as its own line: `RECORD name=value`.
        let mut line = Line("RECORD".to_owned());
        values.record(&mut line);
        lines().lock().unwrap().push(line.0);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line(event.metadata().level().to_string());
        event.record(&mut line);
        lines().lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn lines() -> &'static Mutex<Vec<String>> {
    LINES.get_or_init(|| {
        // The first test of a binary to ask installs the capture for the process.
        let _ = tracing::subscriber::set_global_default(Capture);
        Mutex::new(Vec::new())
    })
}

/// Starts capturing, if no test of this binary did yet.
pub fn capture() {
    lines();
}

/// The lines captured so far that contain `needle`.
pub fn containing(needle: &str) -> Vec<String> {
    let lines = lines().lock().unwrap();
    lines
        .iter()
        .filter(|line| line.contains(needle))
        .cloned()
        .collect()
}
