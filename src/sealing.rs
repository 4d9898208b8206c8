//! Authenticated encryption of small values at rest (ChaCha20-Poly1305, a random nonce per
//! value, `nonce || ciphertext`), each bound by its associated data to the row it belongs to,
//! so a sealed value copied to another row does not open. Audit records seal personal data
//! under a key per data subject; webhook secrets are sealed under a key derived from
//! `ORDERDESK_DATA_KEY`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const NONCE_LEN: usize = 12;
pub const KEY_LEN: usize = 32;

/// A new random key.
pub fn new_key() -> Vec<u8> {
    let mut key = vec![0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    key
}

/// The key of one use of a long secret: HMAC-SHA256(secret, `label`), so that no two uses
/// (two kinds of links, sealed secrets) share a key.
pub fn derive_key(secret: &[u8], label: &[u8]) -> [u8; KEY_LEN] {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(label);
    m.finalize().into_bytes().into()
}

/// `nonce || ciphertext` of `msg`, bound to `aad`.
pub fn seal(key: &[u8], aad: &[u8], msg: &[u8]) -> anyhow::Result<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new_from_slice(key)
        .map_err(|_| anyhow::anyhow!("a sealing key of {} bytes", key.len()))?;
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(&Nonce::from(nonce), Payload { msg, aad })
        .map_err(|_| anyhow::anyhow!("sealing failed"))?;
    Ok([nonce.as_slice(), &sealed].concat())
}

/// The value back, or `None` when `sealed` does not open with `key` and `aad`.
pub fn open(key: &[u8], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let cipher = ChaCha20Poly1305::new_from_slice(key).ok()?;
    let (nonce, msg) = sealed.split_at_checked(NONCE_LEN)?;
    let nonce = Nonce::from(<[u8; NONCE_LEN]>::try_from(nonce).ok()?);
    cipher.decrypt(&nonce, Payload { msg, aad }).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_associated_data() {
        let key = new_key();
        let sealed = seal(&key, b"row 1", b"the secret").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        assert_eq!(
            open(&key, b"row 1", &sealed).as_deref(),
            Some(&b"the secret"[..])
        );
        assert_eq!(open(&new_key(), b"row 1", &sealed), None, "another key");
        assert_eq!(open(&key, b"row 2", &sealed), None, "another row");
        assert_eq!(open(&key, b"row 1", &sealed[..5]), None, "truncated");
    }

    #[test]
    fn derived_keys_differ_by_label() {
        assert_ne!(derive_key(b"s", b"a"), derive_key(b"s", b"b"));
        assert_eq!(derive_key(b"s", b"a"), derive_key(b"s", b"a"));
    }
}
