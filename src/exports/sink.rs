//! Where a part's bytes go: optionally through gzip, counted and hashed (sha256) on their way
//! to one object, uploaded in pieces (multipart above a few MiB), never held whole.

use std::io::Write;

use flate2::Compression as Level;
use flate2::write::GzEncoder;
use object_store::buffered::BufWriter;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::Store;

/// A part being written.
pub struct PartSink {
    gzip: Option<GzEncoder<Vec<u8>>>,
    hasher: Sha256,
    bytes: u64,
    out: BufWriter,
}

/// What a closed part or file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
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
            bytes: 0,
            out: BufWriter::new(store.inner.clone(), store.path(key)),
        }
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
        self.bytes += data.len() as u64;
        self.out.write_all(data).await
    }

    /// Ends the gzip member and completes the upload.
    pub async fn finish(mut self) -> std::io::Result<Written> {
        if let Some(gz) = self.gzip.take() {
            let rest = gz.finish()?;
            self.emit(&rest).await?;
        }
        self.out.shutdown().await?;
        Ok(Written {
            bytes: self.bytes,
            sha256: hex::encode(self.hasher.finalize()),
        })
    }

    /// Gives up the part (a failure): a multipart upload is aborted.
    pub async fn abort(mut self) {
        let _ = self.out.abort().await;
    }
}
