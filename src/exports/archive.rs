//! A subject's archive (GDPR subject access): a zip of JSON files, one array per kind of
//! record, and `manifest.json` first, which lists every file with its record count, bytes
//! and sha256. Built in memory: one customer's data is small (each kind is capped by
//! `db::subject_exports::MAX_RECORDS`). Entries carry the zip format's earliest timestamp,
//! so the same data always makes the same entries.

use std::io::{Cursor, Write};

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zip::CompressionMethod;
use zip::write::SimpleFileOptions;

use crate::domain::subject_export::{FORMAT, MANIFEST};

/// One file of the archive.
pub struct ArchiveFile {
    pub name: &'static str,
    pub records: u64,
    /// The JSON text.
    pub json: Vec<u8>,
}

impl ArchiveFile {
    /// `records` as a pretty-printed JSON array.
    pub fn of<T: Serialize>(name: &'static str, records: &[T]) -> anyhow::Result<ArchiveFile> {
        Ok(ArchiveFile {
            name,
            records: records.len() as u64,
            json: serde_json::to_vec_pretty(records)?,
        })
    }
}

/// The zip of `files` after a manifest: `head`'s members, then `format` and `files`
/// (`[{name, records, bytes, sha256}]`).
pub fn zip(head: Value, files: &[ArchiveFile]) -> anyhow::Result<Vec<u8>> {
    let listed: Vec<Value> = files
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "records": f.records,
                "bytes": f.json.len(),
                "sha256": hex::encode(Sha256::digest(&f.json)),
            })
        })
        .collect();
    let mut manifest = match head {
        Value::Object(m) => m,
        _ => anyhow::bail!("the manifest's head is not an object"),
    };
    manifest.insert("format".into(), FORMAT.into());
    manifest.insert("files".into(), listed.into());
    let manifest = serde_json::to_vec_pretty(&manifest)?;
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    out.start_file(MANIFEST, options)?;
    out.write_all(&manifest)?;
    for f in files {
        out.start_file(f.name, options)?;
        out.write_all(&f.json)?;
    }
    Ok(out.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_manifest_comes_first_and_lists_each_file_with_its_checksum() {
        let files = [
            ArchiveFile::of("orders.json", &[json!({"id": "ord_1"})]).unwrap(),
            ArchiveFile::of::<Value>("audit.json", &[]).unwrap(),
        ];
        let bytes = zip(json!({"customer_id": "cus_1"}), &files).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(&bytes)).unwrap();
        assert_eq!(archive.len(), 3);
        let mut text = String::new();
        archive
            .by_index(0)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        let manifest: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(manifest["format"], FORMAT);
        assert_eq!(manifest["customer_id"], "cus_1");
        assert_eq!(manifest["files"][0]["name"], "orders.json");
        assert_eq!(manifest["files"][0]["records"], 1);
        let mut orders = Vec::new();
        archive
            .by_name("orders.json")
            .unwrap()
            .read_to_end(&mut orders)
            .unwrap();
        assert_eq!(
            manifest["files"][0]["sha256"],
            hex::encode(Sha256::digest(&orders))
        );
        assert_eq!(zip(json!({"customer_id": "cus_1"}), &files).unwrap(), bytes);
    }
}
