//! The process's connection to RabbitMQ: opened on first use and again after it is lost,
//! one attempt at a time (whoever needs it meanwhile waits for that attempt), with a
//! channel for publishing in confirm mode, and the stream declared.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tokio::sync::Mutex;

use super::{amqp, MARKER_HEADER};
use crate::error::Error;
use crate::hub::builder::{Amqp, Settings, DEFAULT_AMQP_HISTORY_BYTES};

/// The longest name RabbitMQ gives a queue.
const MAX_NAME: usize = 255;

/// The heartbeat asked of RabbitMQ, in seconds, where the URL names none (`?heartbeat=`).
/// lapin gives a connection up once it has heard nothing for twice this long, so a
/// connection gone silent under the live reader (a broker that hangs, a dead NAT entry)
/// is noticed in 20 s rather than after twice RabbitMQ's 60 s.
const HEARTBEAT_SECS: u16 = 10;

pub(super) struct Link {
    uri: AMQPUri,
    stream: String,
    /// The stream's arguments: every process declares it alike.
    arguments: FieldTable,
    timeout: Duration,
    open: Mutex<Option<Open>>,
}

/// The markers published by this process, counted.
static MARKERS: AtomicU64 = AtomicU64::new(0);

/// A number drawn once a process, so that no two processes' markers are alike.
static PROCESS: LazyLock<u64> = LazyLock::new(|| RandomState::new().build_hasher().finish());

/// An open connection and its publishing channel.
#[derive(Clone)]
pub(super) struct Open {
    pub(super) connection: Arc<Connection>,
    pub(super) publish: Channel,
}

impl Link {
    pub(super) fn new(amqp: &Amqp, settings: &Settings) -> Result<Arc<Link>, Error> {
        if amqp.stream.is_empty() || amqp.stream.len() > MAX_NAME {
            return Err(Error::Config(format!(
                "the AMQP stream name `{}` is not a queue name: 1 to {MAX_NAME} bytes",
                amqp.stream
            )));
        }
        let mut uri = match amqp.url.parse::<AMQPUri>() {
            Ok(uri) => uri,
            Err(error) => {
                return Err(Error::Config(format!(
                    "the AMQP URL `{}` cannot be used ({error}): write amqp://user:password@host:port/vhost",
                    amqp.url
                )))
            }
        };
        uri.query.heartbeat.get_or_insert(HEARTBEAT_SECS);
        let bytes = settings.history_bytes.unwrap_or(DEFAULT_AMQP_HISTORY_BYTES);
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("stream".into()),
        );
        arguments.insert(
            "x-max-length-bytes".into(),
            AMQPValue::LongLongInt(bytes as i64),
        );
        // Retention drops whole segments: several a history, so that it keeps most of it.
        let segment = (bytes / 4).clamp(1 << 20, 500 << 20);
        arguments.insert(
            "x-stream-max-segment-size-bytes".into(),
            AMQPValue::LongLongInt(segment as i64),
        );
        let age = format!("{}s", settings.history_ttl.as_secs().max(1));
        arguments.insert("x-max-age".into(), AMQPValue::LongString(age.into()));
        Ok(Arc::new(Link {
            uri,
            stream: amqp.stream.clone(),
            arguments,
            timeout: settings.redis_timeout,
            open: Mutex::new(None),
        }))
    }

    /// The stream's name.
    pub(super) fn stream(&self) -> &str {
        &self.stream
    }

    /// The open connection, opening one if there is none or it was lost.
    pub(super) async fn open(&self) -> Result<Open, Error> {
        let mut slot = self.open.lock().await;
        if let Some(open) = &*slot {
            if open.connection.status().connected() && open.publish.status().connected() {
                return Ok(open.clone());
            }
        }
        *slot = None;
        let opening = async {
            let connection =
                Connection::connect_uri(self.uri.clone(), ConnectionProperties::default())
                    .await
                    .map_err(amqp)?;
            let publish = connection.create_channel().await.map_err(amqp)?;
            publish
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(amqp)?;
            let declared = publish
                .queue_declare(
                    self.stream.as_str().into(),
                    QueueDeclareOptions {
                        durable: true,
                        ..QueueDeclareOptions::default()
                    },
                    self.arguments.clone(),
                )
                .await;
            if let Err(error) = declared {
                return Err(Error::Amqp(format!(
                    "the stream `{}` cannot be declared as this hub's settings say ({error}): every process must use the same history settings",
                    self.stream
                )));
            }
            Ok(Open {
                connection: Arc::new(connection),
                publish,
            })
        };
        let open = match tokio::time::timeout(self.timeout, opening).await {
            Ok(opened) => opened?,
            Err(_) => {
                return Err(Error::Amqp(format!(
                    "RabbitMQ did not answer within {:?}",
                    self.timeout
                )))
            }
        };
        *slot = Some(open.clone());
        Ok(open)
    }

    /// Forgets `open` if it is the open connection: the next use opens another.
    pub(super) fn forget(&self, open: &Open) {
        if let Ok(mut slot) = self.open.try_lock() {
            if slot
                .as_ref()
                .is_some_and(|current| Arc::ptr_eq(&current.connection, &open.connection))
            {
                *slot = None;
            }
        }
    }

    /// Publishes a marker on `channel`, a message no reader hands out, and returns its
    /// token: a reader of the stream that meets it has read everything sent before it.
    pub(super) async fn mark(&self, channel: &Channel) -> Result<String, Error> {
        let token = format!(
            "{:016x}-{}",
            *PROCESS,
            MARKERS.fetch_add(1, Ordering::Relaxed)
        );
        let mut headers = FieldTable::default();
        headers.insert(
            MARKER_HEADER.into(),
            AMQPValue::LongString(token.as_str().into()),
        );
        channel
            .basic_publish(
                "".into(),
                self.stream.as_str().into(),
                BasicPublishOptions::default(),
                b"",
                BasicProperties::default().with_headers(headers),
            )
            .await
            .map_err(amqp)?;
        Ok(token)
    }
}
