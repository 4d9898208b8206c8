//! Where a part's bytes go: optionally through gzip, counted and hashed (sha256) on their way
//! to one object, uploaded in pieces (multipart above a few MiB), never held whole.

use std::io::Write;

use flate2::Compression as Level;
use flate2::write::GzEncoder;
use object_store::buffered::BufWriter;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::Store;

/// Upload requests of one object under way at once: with the store's chunk
/// ([`Store::upload_chunk`]) a part being written holds at most 3 chunks whatever its size
/// (object_store's default, 10 MiB × 8 in flight, held up to 90 MiB).
const UPLOADS_IN_FLIGHT: usize = 2;

/// A bounded writer of the object `key` (see [`UPLOADS_IN_FLIGHT`]).
pub fn upload(store: &Store, key: &str) -> BufWriter {
    BufWriter::with_capacity(store.inner.clone(), store.path(key), store.upload_chunk)
        .with_max_concurrency(UPLOADS_IN_FLIGHT)
}

/// A part being written.
pub struct PartSink {
    gzip: Option<GzEncoder<Vec<u8>>>,
    hasher: Sha256,
    /// The whole file's hash so far, when the parts concatenate into the file (CSV, NDJSON).
    whole: Option<Sha256>,
    bytes: u64,
    /// `None` once finished or aborted; a part dropped before either (its export failed on
    /// the other COPY, or was abandoned at shutdown) aborts its upload on the way out, so
    /// that no incomplete multipart upload is left in the bucket.
    out: Option<BufWriter>,
}

impl Drop for PartSink {
    fn drop(&mut self) {
        let (Some(mut out), Ok(runtime)) = (self.out.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        runtime.spawn(async move {
            let _ = out.abort().await;
        });
    }
}

/// What a closed part or file holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Written {
    pub bytes: u64,
    /// Lower-case hex.
    pub sha256: String,
}

impl PartSink {
    pub fn new(store: &Store, key: &str, gzip: bool) -> PartSink {
        PartSink {
            gzip: gzip.then(|| GzEncoder::new(Vec::new(), Level::fast())),
            hasher: Sha256::new(),
            whole: None,
            bytes: 0,
            out: Some(upload(store, key)),
        }
    }

    /// Hashes the part's bytes into `whole` too (the file's hash up to this part): the
    /// parts need not be read again to hash the file they make.
    pub fn continuing(mut self, whole: Option<Sha256>) -> PartSink {
        self.whole = whole;
        self
    }

    /// Writes `data` (uncompressed).
    pub async fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        match &mut self.gzip {
            Some(gz) => {
                gz.write_all(data)?;
                let compressed = std::mem::take(gz.get_mut());
                self.emit(&compressed).await
            }
            None => self.emit(data).await,
        }
    }

    async fn emit(&mut self, data: &[u8]) -> std::io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.hasher.update(data);
        if let Some(whole) = &mut self.whole {
            whole.update(data);
        }
        self.bytes += data.len() as u64;
        self.writer()?.write_all(data).await
    }

    fn writer(&mut self) -> std::io::Result<&mut BufWriter> {
        self.out
            .as_mut()
            .ok_or_else(|| std::io::Error::other("the part was finished or aborted"))
    }

    /// Ends the gzip member and completes the upload; hands back the whole file's hash
    /// (see [`PartSink::continuing`]).
    pub async fn finish(mut self) -> std::io::Result<(Written, Option<Sha256>)> {
        if let Some(gz) = self.gzip.take() {
            let rest = gz.finish()?;
            self.emit(&rest).await?;
        }
        self.writer()?.shutdown().await?;
        self.out = None;
        let written = Written {
            bytes: self.bytes,
            sha256: hex::encode(std::mem::take(&mut self.hasher).finalize()),
        };
        Ok((written, self.whole.take()))
    }

    /// Gives up the part (a failure): a multipart upload is aborted.
    pub async fn abort(mut self) {
        if let Some(mut out) = self.out.take() {
            let _ = out.abort().await;
        }
    }
}
