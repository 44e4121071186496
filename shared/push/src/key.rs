//! [`KeyMaterial`]: a private key's PEM text, which `Debug` never shows.

use std::fmt;

/// A private key as PEM text (Apple's `.p8`, a service account's `private_key`).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyMaterial(String);

impl KeyMaterial {
    /// Wraps PEM text.
    pub fn new(pem: impl Into<String>) -> Self {
        Self(pem.into())
    }

    /// The PEM bytes, for parsing.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial(<redacted>)")
    }
}

impl<'de> serde::Deserialize<'de> for KeyMaterial {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::KeyMaterial;

    #[test]
    fn debug_never_shows_the_key() {
        let key = KeyMaterial::new("-----BEGIN PRIVATE KEY-----\nsecret\n");
        assert_eq!(format!("{key:?}"), "KeyMaterial(<redacted>)");
    }
}
