//! Reading a child's output one line at a time with a bound on the line, so memory stays
//! bounded whatever the plugin writes.
//!
//! On stdout an over-long line is an error (one message is one line: a longer one cannot be
//! skipped without losing the message it carried, so the process is ended with a reason). On
//! stderr it is cut: a log line is only ever shown, never parsed.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// What to do with the bytes of a line past the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// Stop with [`LineError::TooLong`].
    Fail,
    /// Keep the first `limit` bytes, drop the rest of the line.
    Truncate,
}

/// Why a line could not be read.
#[derive(Debug)]
pub(crate) enum LineError {
    /// The line grew past the limit (with [`Overflow::Fail`]).
    TooLong,
    /// The read failed.
    Io(io::Error),
}

/// Reads the next line into `line` (cleared first, without its `\n` or `\r\n`). Returns
/// `false` at the end of the stream; a last line without a newline is still returned. Never
/// holds more than `limit` bytes of one line.
pub(crate) async fn next_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
    limit: usize,
    overflow: Overflow,
) -> Result<bool, LineError> {
    line.clear();
    let mut seen_any = false;
    loop {
        let available = reader.fill_buf().await.map_err(LineError::Io)?;
        if available.is_empty() {
            return Ok(seen_any);
        }
        seen_any = true;
        let (chunk, consumed, done) = match memchr::memchr(b'\n', available) {
            Some(end) => (&available[..end], end + 1, true),
            None => (available, available.len(), false),
        };
        let room = limit.saturating_sub(line.len());
        if chunk.len() > room {
            match overflow {
                Overflow::Fail => return Err(LineError::TooLong),
                Overflow::Truncate => line.extend_from_slice(&chunk[..room]),
            }
        } else {
            line.extend_from_slice(chunk);
        }
        reader.consume(consumed);
        if done {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::BufReader;

    use super::*;

    async fn all_lines(input: &[u8], capacity: usize, limit: usize, overflow: Overflow) -> Result<Vec<String>, ()> {
        let mut reader = BufReader::with_capacity(capacity, input);
        let mut line = Vec::new();
        let mut lines = Vec::new();
        loop {
            match next_line(&mut reader, &mut line, limit, overflow).await {
                Ok(true) => lines.push(String::from_utf8_lossy(&line).into_owned()),
                Ok(false) => return Ok(lines),
                Err(_) => return Err(()),
            }
        }
    }

    #[tokio::test]
    async fn lines_split_whatever_the_buffer_size() {
        for capacity in [1, 2, 3, 7, 64] {
            let lines = all_lines(b"ab\r\ncde\n\nlast", capacity, 10, Overflow::Fail).await.unwrap();
            assert_eq!(lines, ["ab", "cde", "", "last"], "capacity {capacity}");
        }
    }

    #[tokio::test]
    async fn a_long_line_fails_or_is_cut() {
        for capacity in [1, 4, 64] {
            assert!(all_lines(b"ok\n12345678901\nok\n", capacity, 10, Overflow::Fail).await.is_err());
            assert!(all_lines(b"1234567890\n", capacity, 10, Overflow::Fail).await.is_ok(), "exactly the limit");
            let cut = all_lines(b"ok\n12345678901234\nnext\n", capacity, 10, Overflow::Truncate).await.unwrap();
            assert_eq!(cut, ["ok", "1234567890", "next"], "capacity {capacity}");
        }
    }
}
