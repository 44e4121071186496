//! [`Secret`]: a secret setting, given as its value or as the name of a parameter that holds it.

use std::fmt;

/// A secret as configured: the value itself (local runs, tests) or the name of a parameter in the
/// deployment's secret store (an SSM SecureString on AWS), read once at start.
///
/// `Debug` never shows a value, so a secret can sit in logged configuration.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// The secret itself.
    Value(String),
    /// The name of the parameter that holds it.
    Parameter(String),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Value(_) => f.write_str("Secret::Value(<redacted>)"),
            Self::Parameter(name) => f.debug_tuple("Secret::Parameter").field(name).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_never_shows_a_value() {
        // GIVEN a secret value WHEN it is formatted for a log THEN the value is not in it
        let shown = format!("{:?}", Secret::Value("hunter2".to_owned()));
        assert!(!shown.contains("hunter2"), "{shown}");
        // AND a parameter's name (not secret) is
        assert!(format!("{:?}", Secret::Parameter("/app/key".to_owned())).contains("/app/key"));
    }
}
