//! **Benchmark-only code.** The idiomatic tokio echo server, to measure
//! `rpoe-echo` against: a current-thread runtime, a task per connection,
//! `read_until` into a `BufWriter` that is flushed whenever no complete
//! line is left in the read buffer (so a burst of lines goes out in one
//! write, and a lone line goes out at once).

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;

use super::serve_tokio;

/// Listen on `addr` and echo until killed.
pub fn serve(addr: SocketAddr) -> io::Result<()> {
    serve_tokio(addr, "tokio-echo", client)
}

/// Echo one client's complete lines until EOF; an unterminated last line
/// is dropped.
async fn client(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let (reader, writer) = stream.split();
    let mut reader = BufReader::new(reader);
    let mut writer = BufWriter::new(writer);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 || line.last() != Some(&b'\n') {
            break;
        }
        writer.write_all(&line).await?;
        if memchr::memchr(b'\n', reader.buffer()).is_none() {
            writer.flush().await?;
        }
    }
    writer.flush().await
}
