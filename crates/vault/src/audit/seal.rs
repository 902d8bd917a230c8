//! The seal: an Ed25519 key kept outside the catalog signs checkpoints of
//! the chain's head, so whoever can rewrite the database still cannot
//! forge a checkpoint. The private key is a file (hex of its PKCS#8
//! document, mode 0600); the public key is 64 hex digits, enough for anyone
//! to check a checkpoint, an export, or a bundle's manifest.

use std::io::Write;
use std::path::{Path, PathBuf};

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why a key could not be made, read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file does not hold a key of the expected form.
    #[error("{path}: not a CallVault audit {what} key")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// `private` or `public`.
        what: &'static str,
    },
    /// A key file is already there (keygen never overwrites one).
    #[error("{path} already exists; refusing to overwrite an audit key")]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The system random generator failed.
    #[error("could not generate a key")]
    Generate,
}

/// The private key that signs checkpoints and bundle manifests.
pub struct AuditSigner {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for AuditSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSigner")
            .field("public_key", &self.public_key().to_hex())
            .finish_non_exhaustive()
    }
}

impl AuditSigner {
    /// Creates a new key at `path` (mode 0600, never overwriting a file)
    /// and returns it.
    pub fn generate(path: &Path) -> Result<Self, KeyError> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Generate)?;
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyError::Exists {
                    path: path.to_owned(),
                }
            } else {
                io(e)
            }
        })?;
        let written = file
            .write_all(format!("{}\n", hex::encode(pkcs8.as_ref())).as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = std::fs::remove_file(path);
            return Err(io(e));
        }
        Self::from_pkcs8(path, pkcs8.as_ref())
    }

    /// Reads the key at `path`.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.to_owned(),
            source,
        })?;
        let bytes = hex::decode(text.trim()).map_err(|_| KeyError::Malformed {
            path: path.to_owned(),
            what: "private",
        })?;
        Self::from_pkcs8(path, &bytes)
    }

    fn from_pkcs8(path: &Path, bytes: &[u8]) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(bytes).map_err(|_| KeyError::Malformed {
            path: path.to_owned(),
            what: "private",
        })?;
        Ok(AuditSigner { pair })
    }

    /// The public half.
    pub fn public_key(&self) -> AuditPublicKey {
        let mut key = [0u8; 32];
        key.copy_from_slice(self.pair.public_key().as_ref());
        AuditPublicKey(key)
    }

    /// The signature over `message`, hex.
    pub fn sign_hex(&self, message: &[u8]) -> String {
        hex::encode(self.pair.sign(message).as_ref())
    }
}

/// A public key that checks checkpoints and manifests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditPublicKey([u8; 32]);

impl AuditPublicKey {
    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut key = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut key).ok()?;
        Some(AuditPublicKey(key))
    }

    /// Reads a public key file (64 hex digits).
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_hex(&text).ok_or_else(|| KeyError::Malformed {
            path: path.to_owned(),
            what: "public",
        })
    }

    /// 64 hex digits.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// Whether `signature_hex` is this key's signature over `message`.
    pub fn verify(&self, message: &[u8], signature_hex: &str) -> bool {
        let Ok(signature) = hex::decode(signature_hex) else {
            return false;
        };
        UnparsedPublicKey::new(&ED25519, self.0)
            .verify(message, &signature)
            .is_ok()
    }
}

/// What a checkpoint signs, in this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointPayload {
    /// Position among checkpoints, from 1.
    pub seq: i64,
    /// When (RFC 3339 UTC, ms; the database clock).
    pub at: String,
    /// How many entries the chain held (the head's `seq`).
    pub count: i64,
    /// The head entry's hash ([`super::GENESIS_HASH`] for an empty chain).
    pub head_hash: String,
    /// sha256 of the previous checkpoint's payload ([`super::GENESIS_HASH`]
    /// for the first).
    pub prev_checkpoint_hash: String,
}

/// sha256 of a checkpoint's payload text, hex: what the next one links to.
pub fn checkpoint_hash(payload: &str) -> String {
    hex::encode(Sha256::digest(payload.as_bytes()))
}
