//! The downloadable file of a finished export. CSV and NDJSON: the parts read back in order,
//! each checked against the sha256 it closed with, hashed as one file (the download serves
//! them one after the other). Parquet: every part's row groups copied, still encoded, into
//! one Parquet file, hashed as it is written, then uploaded.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::{KeyValue, ParquetMetaDataReader};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Store;
use super::sink::Written;
use crate::db::exports::PartRow;

/// Why the file could not be made.
#[derive(Debug)]
pub enum AssembleError {
    /// A closed part no longer matches its recorded size or sha256: retrying cannot help.
    Corrupt(String),
    /// The store or the local disk failed: worth retrying.
    Io(anyhow::Error),
}

macro_rules! io_errors {
    ($($t:ty),*) => {$(
        impl From<$t> for AssembleError {
            fn from(e: $t) -> Self {
                AssembleError::Io(e.into())
            }
        }
    )*};
}
io_errors!(
    anyhow::Error,
    object_store::Error,
    std::io::Error,
    tokio::task::JoinError
);

fn check(part: &PartRow, bytes: u64, sha256: &str) -> Result<(), AssembleError> {
    if bytes != part.bytes as u64 || sha256 != part.sha256 {
        return Err(AssembleError::Corrupt(format!(
            "part {} ({}) has {bytes} bytes with sha256 {sha256}, closed with {} bytes and {}",
            part.n, part.object_key, part.bytes, part.sha256
        )));
    }
    Ok(())
}

/// CSV and NDJSON: the parts concatenated, streamed (never a whole part in memory).
pub async fn concatenated(store: &Store, parts: &[PartRow]) -> Result<Written, AssembleError> {
    let (whole, total) = hash_parts(store, parts).await?;
    Ok(Written {
        bytes: total,
        sha256: hex::encode(whole.finalize()),
    })
}

/// The hash and size of `parts` concatenated, each part read back and checked against the
/// sha256 it closed with: what a resumed export's first parts contribute to its file.
pub async fn hash_parts(store: &Store, parts: &[PartRow]) -> Result<(Sha256, u64), AssembleError> {
    hash_parts_onto(store, parts, (Sha256::new(), 0)).await
}

/// [`hash_parts`] going on from the hash and size of the parts before them (`so_far`): the
/// parts a second COPY wrote, which could not hash the file as they went.
pub async fn hash_parts_onto(
    store: &Store,
    parts: &[PartRow],
    so_far: (Sha256, u64),
) -> Result<(Sha256, u64), AssembleError> {
    let (mut whole, mut total) = so_far;
    for part in parts {
        let got = store.inner.get(&store.path(&part.object_key)).await?;
        let mut stream = got.into_stream();
        let mut one = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = stream.try_next().await? {
            one.update(&chunk);
            whole.update(&chunk);
            bytes += chunk.len() as u64;
        }
        check(part, bytes, &hex::encode(one.finalize()))?;
        total += bytes;
    }
    Ok((whole, total))
}

/// A local file that hashes what is written to it.
struct HashingFile {
    file: std::fs::File,
    hasher: Sha256,
    bytes: u64,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

type Concat = SerializedFileWriter<HashingFile>;

/// Appends the row groups of one Parquet part (`data`) to `writer`, created from the first
/// part's schema (with its Arrow schema, so readers get the same types back).
fn append(writer: Option<Concat>, tmp: &std::path::Path, data: Bytes) -> anyhow::Result<Concat> {
    let metadata = ParquetMetaDataReader::new().parse_and_finish(&data)?;
    let mut writer = match writer {
        Some(w) => w,
        None => {
            let file = HashingFile {
                file: std::fs::File::create(tmp)?,
                hasher: Sha256::new(),
                bytes: 0,
            };
            let schema = metadata.file_metadata().schema_descr().root_schema_ptr();
            let props = Arc::new(WriterProperties::builder().build());
            let mut w = SerializedFileWriter::new(file, schema, props)?;
            for kv in metadata
                .file_metadata()
                .key_value_metadata()
                .into_iter()
                .flatten()
            {
                w.append_key_value_metadata(KeyValue::new(kv.key.clone(), kv.value.clone()));
            }
            w
        }
    };
    for rg in metadata.row_groups() {
        let mut out = writer.next_row_group()?;
        for column in rg.columns() {
            let result = ColumnCloseResult {
                bytes_written: column.compressed_size() as _,
                rows_written: rg.num_rows() as _,
                metadata: column.clone(),
                bloom_filter: None,
                column_index: None,
                offset_index: None,
            };
            out.append_column(&data, result)?;
        }
        out.close()?;
    }
    Ok(writer)
}

/// Parquet: one file of every part's row groups, uploaded to `key`.
pub async fn parquet(
    store: &Store,
    parts: &[PartRow],
    key: &str,
) -> Result<Written, AssembleError> {
    let tmp =
        std::env::temp_dir().join(format!("orderdesk-export-{}.parquet", uuid::Uuid::new_v4()));
    let result = parquet_via(store, parts, key, &tmp).await;
    let _ = tokio::fs::remove_file(&tmp).await;
    result
}

async fn parquet_via(
    store: &Store,
    parts: &[PartRow],
    key: &str,
    tmp: &std::path::Path,
) -> Result<Written, AssembleError> {
    let mut writer: Option<Concat> = None;
    for part in parts {
        // one part at a time in memory: bounded by the part size
        let data = store
            .inner
            .get(&store.path(&part.object_key))
            .await?
            .bytes()
            .await?;
        check(part, data.len() as u64, &hex::encode(Sha256::digest(&data)))?;
        let tmp = tmp.to_path_buf();
        let w = writer.take();
        writer = Some(tokio::task::spawn_blocking(move || append(w, &tmp, data)).await??);
    }
    let Some(writer) = writer else {
        return Err(AssembleError::Corrupt("an export without parts".into()));
    };
    let file = tokio::task::spawn_blocking(move || -> anyhow::Result<HashingFile> {
        let mut f = writer.into_inner()?;
        f.flush()?;
        Ok(f)
    })
    .await??;
    let written = Written {
        bytes: file.bytes,
        sha256: hex::encode(file.hasher.finalize()),
    };
    let mut src = tokio::fs::File::open(tmp).await?;
    let mut out = super::sink::upload(store, key);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = src.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).await?;
    }
    out.shutdown().await?;
    Ok(written)
}
