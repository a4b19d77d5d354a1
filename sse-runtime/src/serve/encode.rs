//! What goes on the wire for a response body: the frames that were ready together, each
//! its own chunk when the body is chunked, gathered into one write.

use std::io;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::socket::{write_all, Socket};

/// The most bytes of body gathered into one write.
pub(super) const WRITE_MAX: usize = 64 * 1024;

/// What the next write carries: the head, until it has gone out, then the body frames
/// that were ready together (each its own chunk, when chunked), then the end of a
/// chunked body once it has come.
pub(super) struct Out {
    pub(super) head: Option<Bytes>,
    pub(super) chunked: bool,
    /// A lone frame, written from its own bytes: the usual event of a stream.
    pub(super) one: Option<Bytes>,
    /// Several frames, copied together.
    pub(super) many: BytesMut,
    pub(super) end: bool,
    /// How long the client may take none of a write.
    pub(super) write_timeout: Duration,
}

impl Out {
    pub(super) fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        match self.one.take() {
            None if self.many.is_empty() => self.one = Some(data),
            first => {
                for data in first.iter().chain([&data]) {
                    if self.chunked {
                        let mut size = [0; CHUNK_SIZE_LEN];
                        self.many.put_slice(chunk_size(data.len(), &mut size));
                    }
                    self.many.put_slice(data);
                    if self.chunked {
                        self.many.put_slice(b"\r\n");
                    }
                }
            }
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.many.len() >= WRITE_MAX
    }

    /// Writes what there is, and empties it.
    pub(super) async fn send(&mut self, socket: &mut impl Socket) -> io::Result<()> {
        let head = self.head.take().unwrap_or_default();
        let timeout = self.write_timeout;
        let end: &[u8] = match (self.end, self.chunked) {
            (true, true) => b"0\r\n\r\n",
            _ => b"",
        };
        match self.one.take() {
            Some(one) if self.chunked => {
                let mut size = [0; CHUNK_SIZE_LEN];
                let size = chunk_size(one.len(), &mut size);
                let frame = size.chain(one).chain(&b"\r\n"[..]);
                write_all(socket, head.chain(frame).chain(end), timeout).await
            }
            Some(one) => write_all(socket, head.chain(one).chain(end), timeout).await,
            // Taken whole, so that an idle stream keeps no buffer.
            None => {
                let many = std::mem::take(&mut self.many);
                write_all(socket, head.chain(many).chain(end), timeout).await
            }
        }
    }
}

const CHUNK_SIZE_LEN: usize = 2 * size_of::<usize>() + 2;

/// The line that opens a chunk of `len` bytes: its size in hexadecimal, then CRLF.
fn chunk_size(len: usize, line: &mut [u8; CHUNK_SIZE_LEN]) -> &[u8] {
    let mut at = CHUNK_SIZE_LEN - 2;
    line[at..].copy_from_slice(b"\r\n");
    let mut rest = len;
    loop {
        at -= 1;
        line[at] = b"0123456789abcdef"[rest & 0xf];
        rest >>= 4;
        if rest == 0 {
            return &line[at..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_are_hexadecimal() {
        let mut line = [0; CHUNK_SIZE_LEN];
        for (len, expected) in [(0, "0"), (9, "9"), (26, "1a"), (4096, "1000")] {
            assert_eq!(
                chunk_size(len, &mut line),
                format!("{expected}\r\n").as_bytes()
            );
        }
        let max = chunk_size(usize::MAX, &mut line).to_vec();
        assert_eq!(max, format!("{:x}\r\n", usize::MAX).as_bytes());
    }
}
