//! Shared driver for the filter fuzz targets: split the fuzzer's bytes
//! into chunks at points the fuzzer chooses, feed them to a filter, and
//! check after every call that nothing panicked and that the filter holds
//! and returns no more than its limits allow.

use rpoe::filter::Filter;

/// Limits the targets configure, small so that the fuzzer reaches them.
pub const MAX_LENGTH: usize = 256;
/// See [`MAX_LENGTH`].
pub const MAX_BUFFER: usize = 1024;

/// The fuzzer's input as `(control, chunks)`: byte 0 is left to the target
/// to pick options; the next up to 8 bytes are chunk lengths, used in
/// turn over and over; the rest is the stream, cut into those lengths.
/// Length 0 gives an empty chunk; if every length is 0 the whole stream
/// is one chunk after them.
pub fn split(data: &[u8]) -> (u8, Vec<&[u8]>) {
    let Some((&control, rest)) = data.split_first() else {
        return (0, Vec::new());
    };
    let n = rest.len().min(8);
    let (lengths, mut stream) = rest.split_at(n);
    let mut chunks = Vec::new();
    if lengths.iter().all(|&l| l == 0) {
        chunks.extend(lengths.iter().map(|_| &stream[..0]));
        chunks.push(stream);
        return (control, chunks);
    }
    for &len in lengths.iter().cycle() {
        if stream.is_empty() {
            break;
        }
        let (chunk, tail) = stream.split_at(usize::from(len).min(stream.len()));
        chunks.push(chunk);
        stream = tail;
    }
    (control, chunks)
}

/// Feed `chunks` to `filter`. After every call, error or not, the filter
/// must hold at most `max_pending` bytes; every record is passed to
/// `check`. Errors end the stream, as a wheel would.
pub fn drive<F: Filter>(
    filter: &mut F,
    chunks: &[&[u8]],
    max_pending: usize,
    mut check: impl FnMut(&mut F, &F::Record),
) {
    let mut out = Vec::new();
    for chunk in chunks {
        let result = filter.get(chunk, &mut out);
        assert!(
            filter.pending().len() <= max_pending,
            "{} bytes pending, limit {max_pending}",
            filter.pending().len()
        );
        for record in out.drain(..) {
            check(filter, &record);
        }
        if result.is_err() {
            return;
        }
    }
    let _ = filter.take_pending();
    assert!(filter.pending().is_empty());
}

pub mod read_write;
