//! The object store exports are written to (`ORDERDESK_EXPORTS_STORE`): a local directory
//! (`file:///…`), or S3-compatible storage (`s3://bucket/prefix`, configured by the standard
//! `AWS_*` variables, `AWS_ENDPOINT_URL` for another vendor).

use std::sync::Arc;

use anyhow::Context;
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;

use crate::config::Exports;
use crate::domain::exports::{Compression, ExportFormat};
use crate::domain::ids::{ExportId, SubjectExportId, TenantId};

/// An opened store and the prefix every export's objects are under.
#[derive(Clone, Debug)]
pub struct Store {
    pub inner: Arc<dyn ObjectStore>,
    prefix: Option<String>,
    /// Bytes buffered per upload request of an object written in pieces: S3 refuses
    /// multipart parts under 5 MiB; a local directory takes any size, so less memory.
    pub upload_chunk: usize,
}

impl Store {
    /// Opens the configured store (a local directory is created if missing).
    pub fn open(cfg: &Exports) -> anyhow::Result<Store> {
        match cfg.store.split_once("://") {
            Some(("file", dir)) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating the exports directory {dir}"))?;
                let fs = LocalFileSystem::new_with_prefix(dir)
                    .with_context(|| format!("opening the exports directory {dir}"))?;
                Ok(Store {
                    inner: Arc::new(fs),
                    prefix: None,
                    upload_chunk: 1024 * 1024,
                })
            }
            Some(("s3", rest)) => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                let s3 = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .context("configuring the S3 exports store (ORDERDESK_EXPORTS_STORE, AWS_*)")?;
                let prefix = prefix.trim_matches('/');
                Ok(Store {
                    inner: Arc::new(s3),
                    prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
                    upload_chunk: 5 * 1024 * 1024,
                })
            }
            _ => anyhow::bail!("ORDERDESK_EXPORTS_STORE: unsupported {:?}", cfg.store),
        }
    }

    /// The object of `key` (as recorded in `export_parts`).
    pub fn path(&self, key: &str) -> Path {
        match &self.prefix {
            Some(p) => Path::from(format!("{p}/{key}")),
            None => Path::from(key),
        }
    }

    /// Deletes every object of an export (its parts, its assembled file); returns how many.
    /// (A local store keeps the emptied directory, named by the ids alone.)
    pub async fn delete_export(
        &self,
        tenant: &TenantId,
        export: ExportId,
    ) -> anyhow::Result<usize> {
        let dir = self.path(&format!("{tenant}/{export}"));
        let objects: Vec<_> = self.inner.list(Some(&dir)).try_collect().await?;
        for object in &objects {
            match self.inner.delete(&object.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(objects.len())
    }
}

/// The file extension of an export, compression included.
pub fn extension(format: ExportFormat, compression: Compression) -> String {
    match compression {
        Compression::None => format.extension().to_string(),
        Compression::Gzip => format!("{}.gz", format.extension()),
    }
}

/// The key of part `n` of an export.
pub fn part_key(tenant: &TenantId, export: ExportId, n: i32, ext: &str) -> String {
    format!("{tenant}/{export}/part-{n:05}.{ext}")
}

/// The key of a Parquet export's assembled file.
pub fn whole_key(tenant: &TenantId, export: ExportId, ext: &str) -> String {
    format!("{tenant}/{export}/orders.{ext}")
}

/// The key of a subject's archive (GDPR), apart from the orders exports' keys.
pub fn subject_key(tenant: &TenantId, export: SubjectExportId) -> String {
    format!("{tenant}/subjects/{export}/subject.zip")
}

/// The object a tenant imports from, named by its `key` under the tenant's own `imports/`
/// prefix (the key checked by `domain::bulk::ImportSource::key_problem`).
pub fn import_key(tenant: &TenantId, key: &str) -> String {
    format!("{tenant}/imports/{key}")
}
