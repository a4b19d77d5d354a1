//! The harness of the integration tests: real servers on loopback ports, a real HTTP
//! client, a real `redis-server`, and the log lines the code under test writes.

pub mod backend;
pub mod example;
pub mod heap;
mod http;
pub mod logs;
pub mod netns;
pub mod rabbitmq;
pub mod redis_cluster;
pub mod redis_server;
pub mod relay;
pub mod tls;
pub mod views;

pub use http::{events_in, next_event, serve, take_events, take_events_within, Client, PATIENCE};
