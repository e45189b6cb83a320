//! **Benchmark-only code.** tokio's framed echo server, to measure rpoe's
//! upper layers (`component_server`, `wheels_server`) against the layer
//! tokio users reach for (issue 12): a current-thread runtime, a task per
//! connection, `Framed<TcpStream, LinesCodec>` read with `StreamExt::next`
//! and written with `SinkExt::feed`, flushed whenever no complete line is
//! left in the read buffer (so a burst of lines goes out in one write, and
//! a lone line goes out at once, as `tokio_echo` does).
//!
//! `LinesCodec` decodes UTF-8 `String`s and strips a `\r` before the
//! `\n`; the load generator's lines are ASCII without `\r`, so the echo is
//! byte-exact for them. Its `decode_eof` would hand over an unterminated
//! last line, which the echo protocol drops: [`EchoLines`] drops it.

use std::io;
use std::net::SocketAddr;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::{Decoder, Encoder, Framed, LinesCodec, LinesCodecError};

use super::{serve_tokio, MAX_LINE};

/// Listen on `addr` and echo until killed.
pub fn serve(addr: SocketAddr) -> io::Result<()> {
    serve_tokio(addr, "tokio-framed", client)
}

/// `LinesCodec` (at `rpoe-echo`'s line limit), except that an
/// unterminated last line at EOF is dropped, as the echo protocol says.
struct EchoLines(LinesCodec);

impl Decoder for EchoLines {
    type Item = String;
    type Error = LinesCodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<String>, LinesCodecError> {
        self.0.decode(buf)
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<String>, LinesCodecError> {
        let line = self.0.decode(buf)?;
        if line.is_none() {
            buf.clear();
        }
        Ok(line)
    }
}

impl Encoder<String> for EchoLines {
    type Error = LinesCodecError;

    fn encode(&mut self, line: String, buf: &mut BytesMut) -> Result<(), LinesCodecError> {
        self.0.encode(line, buf)
    }
}

/// Echo one client's complete lines until EOF.
async fn client(stream: TcpStream) -> Result<(), LinesCodecError> {
    stream.set_nodelay(true)?;
    let mut framed = Framed::new(stream, EchoLines(LinesCodec::new_with_max_length(MAX_LINE)));
    while let Some(line) = framed.next().await {
        framed.feed(line?).await?;
        if memchr::memchr(b'\n', framed.read_buffer()).is_none() {
            framed.flush().await?;
        }
    }
    framed.flush().await
}
