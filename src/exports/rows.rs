//! The rows of an NDJSON or Parquet export as PostgreSQL's binary COPY sends them
//! (`db::exports::select::copy_binary`): the order id, then each column as text, int8 or
//! timestamptz. Decoded in place, as the messages arrive, whatever their framing: no
//! value is copied into a `String` of its own on its way to the encoder.

use chrono::{DateTime, Utc};

use crate::db::PG_EPOCH_MICROS;

/// The 11-byte signature, flags and header extension length that open a binary COPY.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
const HEADER_LEN: usize = SIGNATURE.len() + 4 + 4;

/// A value of one column of a row, as its type is in the export.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    Null,
    Text(&'a str),
    Int(i64),
    /// Microseconds since the Unix epoch, UTC.
    Time(i64),
}

impl Value<'_> {
    /// A time as RFC 3339 UTC with microseconds, as CSV writes it.
    pub fn time_text(micros: i64) -> String {
        DateTime::<Utc>::from_timestamp_micros(micros)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            .unwrap_or_default()
    }
}

/// How a column's bytes are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Text,
    Int8,
    Timestamptz,
}

/// Why the bytes are not the rows asked for.
#[derive(Debug, thiserror::Error)]
#[error("binary COPY: {0}")]
pub struct Malformed(&'static str);

/// Columns a row may have after its id (an export has at most one of each column).
const MAX_COLUMNS: usize = 32;

/// Bytes of a binary COPY not yet decoded, and the columns each row has after its id.
pub struct Decoder {
    wires: Vec<Wire>,
    buf: Vec<u8>,
    at: usize,
    header_seen: bool,
    ended: bool,
}

/// One decoded row: its order id and its values, in column order.
pub struct Row<'a> {
    pub id: &'a str,
    pub values: &'a [Value<'a>],
}

impl Decoder {
    /// A decoder of rows of an id and `wires` columns (at most [`MAX_COLUMNS`]).
    pub fn new(wires: Vec<Wire>) -> Result<Decoder, Malformed> {
        if wires.len() > MAX_COLUMNS {
            return Err(Malformed("too many columns"));
        }
        Ok(Decoder {
            wires,
            buf: Vec::with_capacity(64 * 1024),
            at: 0,
            header_seen: false,
            ended: false,
        })
    }

    /// Adds a message's bytes (drops those already decoded first).
    pub fn feed(&mut self, data: &[u8]) {
        if self.at > 0 {
            self.buf.drain(..self.at);
            self.at = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Whether the trailer came (every row was sent) and nothing follows it.
    pub fn ended(&self) -> bool {
        self.ended && self.at == self.buf.len()
    }

    /// Hands the next whole row of the bytes fed to `f`; `None` when more bytes are needed
    /// (or the trailer came).
    pub fn next_row<R>(&mut self, f: impl FnOnce(Row<'_>) -> R) -> Result<Option<R>, Malformed> {
        if !self.header_seen {
            let Some(head) = self.buf.get(self.at..self.at + HEADER_LEN) else {
                return Ok(None);
            };
            if !head.starts_with(SIGNATURE) {
                return Err(Malformed("no signature"));
            }
            if head[HEADER_LEN - 4..] != [0, 0, 0, 0] {
                return Err(Malformed("a header extension"));
            }
            self.at += HEADER_LEN;
            self.header_seen = true;
        }
        if self.ended {
            return Ok(None);
        }
        let bytes = &self.buf[self.at..];
        let Some(&[hi, lo]) = bytes.get(..2) else {
            return Ok(None);
        };
        let count = i16::from_be_bytes([hi, lo]);
        if count == -1 {
            self.ended = true;
            self.at += 2;
            return Ok(None);
        }
        let columns = self.wires.len() + 1;
        if count as usize != columns {
            return Err(Malformed("a row with another number of columns"));
        }
        // the fields' extents first: a row not wholly here yet waits for more bytes
        let mut fields = [(0usize, 0i32); MAX_COLUMNS + 1];
        let mut pos = 2;
        for field in fields.iter_mut().take(columns) {
            let Some(&[a, b, c, d]) = bytes.get(pos..pos + 4) else {
                return Ok(None);
            };
            let len = i32::from_be_bytes([a, b, c, d]);
            pos += 4;
            *field = (pos, len);
            pos += len.max(0) as usize;
            if pos > bytes.len() {
                return Ok(None);
            }
        }
        let text = |(start, len): (usize, i32)| {
            std::str::from_utf8(&bytes[start..start + len.max(0) as usize])
                .map_err(|_| Malformed("text that is not UTF-8"))
        };
        let id = text(fields[0])?;
        let mut values = [Value::Null; MAX_COLUMNS];
        for ((wire, &(start, len)), value) in
            self.wires.iter().zip(&fields[1..]).zip(values.iter_mut())
        {
            *value = match (wire, len) {
                (_, -1) => Value::Null,
                (Wire::Text, _) => Value::Text(text((start, len))?),
                (Wire::Int8, 8) => Value::Int(be_i64(&bytes[start..start + 8])),
                (Wire::Timestamptz, 8) => {
                    Value::Time(be_i64(&bytes[start..start + 8]) + PG_EPOCH_MICROS)
                }
                _ => return Err(Malformed("a number of another size")),
            };
        }
        let out = f(Row {
            id,
            values: &values[..self.wires.len()],
        });
        self.at += pos;
        Ok(Some(out))
    }
}

fn be_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    i64::from_be_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(out: &mut Vec<u8>, v: Option<&[u8]>) {
        match v {
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
            Some(b) => {
                out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                out.extend_from_slice(b);
            }
        }
    }

    fn copy_bytes() -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend_from_slice(&[0; 8]);
        for (id, total, placed) in [("ord_1", Some(1999i64), 0i64), ("ord_2", None, 1_000_000)] {
            out.extend_from_slice(&4i16.to_be_bytes());
            field(&mut out, Some(id.as_bytes()));
            field(&mut out, Some("délivré".as_bytes()));
            field(
                &mut out,
                total.map(|t| t.to_be_bytes()).as_ref().map(|b| &b[..]),
            );
            field(&mut out, Some(&placed.to_be_bytes()));
        }
        out.extend_from_slice(&(-1i16).to_be_bytes());
        out
    }

    fn decode_in_pieces(bytes: &[u8], piece: usize) -> Vec<String> {
        let mut d = Decoder::new(vec![Wire::Text, Wire::Int8, Wire::Timestamptz]).unwrap();
        let mut rows = Vec::new();
        for chunk in bytes.chunks(piece) {
            d.feed(chunk);
            while let Some(row) = d.next_row(|r| format!("{} {:?}", r.id, r.values)).unwrap() {
                rows.push(row);
            }
        }
        assert!(d.ended());
        rows
    }

    #[test]
    fn rows_decode_the_same_whatever_the_framing() {
        let bytes = copy_bytes();
        let whole = decode_in_pieces(&bytes, bytes.len());
        assert_eq!(
            whole,
            [
                format!("ord_1 [Text(\"délivré\"), Int(1999), Time({PG_EPOCH_MICROS})]"),
                format!(
                    "ord_2 [Text(\"délivré\"), Null, Time({})]",
                    PG_EPOCH_MICROS + 1_000_000
                ),
            ]
        );
        for piece in [1, 2, 3, 7, 19, 20] {
            assert_eq!(decode_in_pieces(&bytes, piece), whole, "pieces of {piece}");
        }
        assert_eq!(
            Value::time_text(PG_EPOCH_MICROS),
            "2000-01-01T00:00:00.000000Z"
        );
    }

    #[test]
    fn bytes_that_are_not_such_rows_are_refused() {
        let mut d = Decoder::new(vec![Wire::Text]).unwrap();
        d.feed(b"PGCOPX\n\xff\r\n\0\0\0\0\0\0\0\0\0");
        assert!(d.next_row(|_| ()).is_err());
        // a row of 4 columns where 2 are expected
        let mut d = Decoder::new(vec![Wire::Text]).unwrap();
        d.feed(&copy_bytes());
        assert!(d.next_row(|_| ()).is_err());
        assert!(Decoder::new(vec![Wire::Text; MAX_COLUMNS + 1]).is_err());
    }
}
