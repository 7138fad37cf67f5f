//! Shared bearer secrets (the admin token, the sync token). A secret is kept
//! only as its SHA-256 digest; a presented one is hashed too and the digests
//! are compared in constant time, so neither the content nor the length of
//! the secret leaks through timing. It is never logged.

use std::path::Path;

use anyhow::Context;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A configured secret, as its digest.
#[derive(Clone)]
pub struct Secret {
    digest: [u8; 32],
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

fn digest(s: &[u8]) -> [u8; 32] {
    Sha256::digest(s).into()
}

impl Secret {
    /// A secret from its text; surrounding whitespace (a file's trailing
    /// newline) is not part of it. `None` for an empty text.
    pub fn new(text: &str) -> Option<Self> {
        let text = text.trim();
        (!text.is_empty()).then(|| Self {
            digest: digest(text.as_bytes()),
        })
    }

    /// Whether `presented` is the secret (constant time).
    pub fn matches(&self, presented: &str) -> bool {
        self.digest.ct_eq(&digest(presented.as_bytes())).into()
    }
}

/// The text of a secret from `file` if given, else from the environment
/// variable `env`; `None` when neither is set. The file must not be empty.
pub fn read_text(file: Option<&Path>, env: &str) -> anyhow::Result<Option<String>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the secret file {}", path.display()))?;
        let text = text.trim();
        anyhow::ensure!(
            !text.is_empty(),
            "the secret file {} is empty",
            path.display()
        );
        return Ok(Some(text.to_owned()));
    }
    Ok(std::env::var(env)
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_the_secret_and_hides_it() {
        let s = Secret::new(" s3cret\n").unwrap();
        assert!(s.matches("s3cret"));
        assert!(!s.matches("s3cre"));
        assert!(!s.matches(""));
        assert!(Secret::new("  ").is_none());
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
