//! The figures the crate reports, through the [`metrics`] facade: every name in one
//! place.
//!
//! The names, their labels and what each counts are documented in the crate docs
//! (`lib.rs`, "Metrics"), for users; this file is where each is reported.

use metrics::{counter, gauge};

use crate::Error;

/// A stream opened (`true`) or closed.
pub(crate) fn stream(view: &'static str, opened: bool) {
    let open = gauge!("sse_streams_open", "view" => view);
    match opened {
        true => open.increment(1.0),
        false => open.decrement(1.0),
    }
}

/// A stream refused: the limit was reached (`full`) or the process is shutting down.
pub(crate) fn refused(full: bool) {
    let reason = if full { "limit" } else { "shutdown" };
    counter!("sse_streams_refused_total", "reason" => reason).increment(1);
}

/// `count` events handed to one client's response.
pub(crate) fn delivered(count: u64) {
    if count > 0 {
        counter!("sse_events_delivered_total").increment(count);
    }
}

/// A client cut off for falling behind.
pub(crate) fn cut_off() {
    counter!("sse_clients_cut_off_total").increment(1);
}

/// A resume, from history or with a reset.
pub(crate) fn resumed(from_history: bool) {
    let outcome = if from_history { "history" } else { "reset" };
    counter!("sse_resumes_total", "outcome" => outcome).increment(1);
}

/// The Redis subscriber connected (`true`) or lost.
pub(crate) fn broker(connected: bool) {
    gauge!("sse_broker_connected").set(if connected { 1.0 } else { 0.0 });
    if !connected {
        counter!("sse_broker_reconnects_total").increment(1);
    }
}

/// A send that failed with `error`.
pub(crate) fn send_failed(error: &Error) {
    let kind = match error {
        Error::Redis(_) => "redis",
        Error::OutcomeUnknown(_) | Error::AmqpOutcomeUnknown(_) => "outcome_unknown",
        Error::Amqp(_) => "amqp",
        Error::TooLarge { .. } => "too_large",
        Error::BadChannel(_) => "bad_channel",
        Error::LineBreak(_) => "line_break",
        Error::Json(_) => "json",
        Error::Config(_) => "config",
        _ => "other",
    };
    counter!("sse_send_errors_total", "kind" => kind).increment(1);
}
