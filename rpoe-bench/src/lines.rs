//! The lines the load generator sends, and the check of every byte that
//! comes back.
//!
//! A line is `CCCCCC:SSSSSSSSSS:` (connection id and sequence number in
//! fixed-width hex), filler up to the line length, and `\n`, so every line
//! of a run is distinct and a misplaced, repeated or corrupted line is
//! caught. The filler depends on the sequence number, so even a line echoed
//! on the right connection at the wrong position differs.

use std::fmt;

/// Hex digits of the connection id.
const CONN_DIGITS: usize = 6;
/// Hex digits of the sequence number.
const SEQ_DIGITS: usize = 10;
/// `CCCCCC:SSSSSSSSSS:`
const HEADER_LEN: usize = CONN_DIGITS + 1 + SEQ_DIGITS + 1;
/// The shortest line: a header and its newline.
pub const MIN_LINE_LEN: usize = HEADER_LEN + 1;
/// Most connections one run can tell apart.
pub const MAX_CONNS: usize = 1 << (4 * CONN_DIGITS);
/// Filler cycles through this many letters.
const ALPHABET: usize = 26;

/// Makes and checks lines of one fixed length.
#[derive(Clone, Debug)]
pub struct LineMaker {
    len: usize,
    /// The alphabet repeated, long enough to copy any line's filler from.
    filler: Vec<u8>,
}

impl LineMaker {
    /// Lines of `len` bytes, newline included.
    pub fn new(len: usize) -> Result<LineMaker, String> {
        if len < MIN_LINE_LEN {
            return Err(format!(
                "line length {len} is too short: lines carry an id and a sequence number and need at least {MIN_LINE_LEN} bytes"
            ));
        }
        let filler = (0..len + ALPHABET)
            .map(|i| b'a' + (i % ALPHABET) as u8)
            .collect();
        Ok(LineMaker { len, filler })
    }

    /// Bytes per line, newline included.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Append line `seq` of connection `conn` to `out`.
    pub fn push(&self, out: &mut Vec<u8>, conn: u32, seq: u64) {
        let start = out.len();
        out.resize(start + self.len, 0);
        self.fill(&mut out[start..], conn, seq);
    }

    /// Write line `seq` of connection `conn` into `buf` (exactly one line long).
    fn fill(&self, buf: &mut [u8], conn: u32, seq: u64) {
        put_hex(&mut buf[..CONN_DIGITS], u64::from(conn));
        buf[CONN_DIGITS] = b':';
        put_hex(&mut buf[CONN_DIGITS + 1..HEADER_LEN - 1], seq);
        buf[HEADER_LEN - 1] = b':';
        let skew = (seq % ALPHABET as u64) as usize;
        let body = self.len - 1 - HEADER_LEN;
        buf[HEADER_LEN..self.len - 1].copy_from_slice(&self.filler[skew..skew + body]);
        buf[self.len - 1] = b'\n';
    }
}

/// Fixed-width lowercase hex of the low bits of `v` that fit `out`.
fn put_hex(out: &mut [u8], mut v: u64) {
    for b in out.iter_mut().rev() {
        *b = b"0123456789abcdef"[(v & 0xf) as usize];
        v >>= 4;
    }
}

/// What was wrong with the bytes a connection received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// A byte differs from the line expected at that position.
    Differs {
        /// Sequence number of the line being received.
        seq: u64,
        /// Offset of the first wrong byte in that line.
        offset: usize,
        /// The byte expected there.
        expected: u8,
        /// The byte received.
        got: u8,
    },
    /// Bytes arrived beyond every line sent so far.
    Extra {
        /// How many bytes too many arrived in this chunk.
        bytes: usize,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Differs {
                seq,
                offset,
                expected,
                got,
            } => write!(
                f,
                "line {seq}, byte {offset}: expected {:?}, got {:?}",
                char::from(*expected),
                char::from(*got)
            ),
            Mismatch::Extra { bytes } => {
                write!(f, "{bytes} byte(s) received beyond every line sent")
            }
        }
    }
}

/// Checks one connection's incoming bytes against the lines it sent, in
/// order, across arbitrary chunk boundaries.
#[derive(Debug)]
pub struct Verifier {
    conn: u32,
    /// Sequence number of the line being received.
    seq: u64,
    /// Bytes of that line received so far.
    offset: usize,
    /// That line, as it must come back.
    expect: Vec<u8>,
}

impl Verifier {
    /// A verifier for connection `conn`, expecting line 0 first.
    pub fn new(maker: &LineMaker, conn: u32) -> Verifier {
        let mut expect = vec![0; maker.len()];
        maker.fill(&mut expect, conn, 0);
        Verifier {
            conn,
            seq: 0,
            offset: 0,
            expect,
        }
    }

    /// Complete lines received so far.
    pub fn received(&self) -> u64 {
        self.seq
    }

    /// Whether part of a line has arrived without its end.
    pub fn mid_line(&self) -> bool {
        self.offset > 0
    }

    /// Check `data`, given that lines `0..sent` were sent. Returns the
    /// number of lines it completed.
    pub fn feed(&mut self, maker: &LineMaker, mut data: &[u8], sent: u64) -> Result<u64, Mismatch> {
        let mut completed = 0;
        while !data.is_empty() {
            if self.seq >= sent {
                return Err(Mismatch::Extra { bytes: data.len() });
            }
            let want = &self.expect[self.offset..];
            let n = want.len().min(data.len());
            if want[..n] != data[..n] {
                let i = (0..n).find(|&i| want[i] != data[i]).unwrap_or(0);
                return Err(Mismatch::Differs {
                    seq: self.seq,
                    offset: self.offset + i,
                    expected: want[i],
                    got: data[i],
                });
            }
            self.offset += n;
            data = &data[n..];
            if self.offset == self.expect.len() {
                self.seq += 1;
                self.offset = 0;
                completed += 1;
                maker.fill(&mut self.expect, self.conn, self.seq);
            }
        }
        Ok(completed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_distinct_and_well_formed() {
        let m = LineMaker::new(32).unwrap();
        let mut out = Vec::new();
        m.push(&mut out, 7, 0);
        m.push(&mut out, 7, 1);
        m.push(&mut out, 8, 0);
        assert_eq!(out.len(), 96);
        assert_eq!(&out[..32], b"000007:0000000000:abcdefghijklm\n");
        assert_eq!(&out[32..64], b"000007:0000000001:bcdefghijklmn\n");
        assert_eq!(&out[64..72], b"000008:0");
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 3);
    }

    #[test]
    fn too_short_lines_are_refused() {
        assert!(LineMaker::new(MIN_LINE_LEN - 1).is_err());
        assert!(LineMaker::new(MIN_LINE_LEN).is_ok());
    }

    #[test]
    fn verifier_accepts_any_chunking() {
        let m = LineMaker::new(40).unwrap();
        let mut out = Vec::new();
        for seq in 0..5 {
            m.push(&mut out, 3, seq);
        }
        for chunk in [1, 7, 39, 40, 41, 200] {
            let mut v = Verifier::new(&m, 3);
            let done: u64 = out.chunks(chunk).map(|c| v.feed(&m, c, 5).unwrap()).sum();
            assert_eq!(done, 5);
            assert_eq!(v.received(), 5);
            assert!(!v.mid_line());
        }
    }

    #[test]
    fn verifier_reports_the_first_wrong_byte() {
        let m = LineMaker::new(24).unwrap();
        let mut out = Vec::new();
        m.push(&mut out, 1, 0);
        m.push(&mut out, 1, 1);
        out[24 + 20] = b'X';
        let mut v = Verifier::new(&m, 1);
        let err = v.feed(&m, &out, 2).unwrap_err();
        assert_eq!(
            err,
            Mismatch::Differs {
                seq: 1,
                offset: 20,
                expected: m_byte(&m, 1, 1, 20),
                got: b'X'
            }
        );
    }

    #[test]
    fn verifier_rejects_lines_never_sent_and_swapped_lines() {
        let m = LineMaker::new(24).unwrap();
        let mut out = Vec::new();
        m.push(&mut out, 1, 0);
        let mut v = Verifier::new(&m, 1);
        assert_eq!(v.feed(&m, &out, 1).unwrap(), 1);
        assert_eq!(v.feed(&m, b"x", 1), Err(Mismatch::Extra { bytes: 1 }));

        let mut swapped = Vec::new();
        m.push(&mut swapped, 1, 1);
        m.push(&mut swapped, 1, 0);
        let mut v = Verifier::new(&m, 1);
        assert!(matches!(
            v.feed(&m, &swapped, 2),
            Err(Mismatch::Differs { seq: 0, .. })
        ));
    }

    fn m_byte(m: &LineMaker, conn: u32, seq: u64, i: usize) -> u8 {
        let mut out = Vec::new();
        m.push(&mut out, conn, seq);
        out[i]
    }
}
