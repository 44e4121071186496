//! The APNs and FCM provider settings (docs/settings.md, "Offline push"): which credentials,
//! from where, and which endpoint. Only names and sources here: the providers themselves are
//! `cirrus-push`, linked into the push function and the local stack alone.

use crate::settings::SettingsError;
use cirrus_core::secret::Secret;
use std::path::PathBuf;

/// Apple's production endpoint (`CIRRUS_APNS_ENDPOINT=production`, the default).
pub const APNS_PRODUCTION: &str = "https://api.push.apple.com";
/// Apple's development endpoint (`CIRRUS_APNS_ENDPOINT=sandbox`).
pub const APNS_SANDBOX: &str = "https://api.sandbox.push.apple.com";
/// Google's FCM endpoint (the default of `CIRRUS_FCM_ENDPOINT`).
pub const FCM_ENDPOINT: &str = "https://fcm.googleapis.com";

/// APNs with token-based authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApnsSettings {
    /// The `.p8` signing key's PEM text, or the SSM parameter holding it.
    pub key: Secret,
    /// The key's id.
    pub key_id: String,
    /// The developer team id.
    pub team_id: String,
    /// The topic (bundle id) for devices registered without a `bundleId`.
    pub topic: Option<String>,
    /// The endpoint's URL.
    pub endpoint: String,
}

/// FCM HTTP v1 with a service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FcmSettings {
    /// The service-account JSON, or the SSM parameter holding it.
    pub service_account: Secret,
    /// The endpoint's URL.
    pub endpoint: String,
}

/// A secret from its value, a file, or a parameter, in that order; a file is read now.
fn key_source(
    value: &'static str,
    file: &'static str,
    parameter: &'static str,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, SettingsError> {
    if let Some(value) = get(value) {
        return Ok(Some(Secret::Value(value)));
    }
    if let Some(path) = get(file).map(PathBuf::from) {
        let text = std::fs::read_to_string(&path).map_err(|source| SettingsError::KeyFile {
            name: file,
            path,
            source,
        })?;
        return Ok(Some(Secret::Value(text)));
    }
    Ok(get(parameter).map(Secret::Parameter))
}

/// APNs: on when a key is given, which then needs its key id and team id.
pub(crate) fn apns(get: &impl Fn(&str) -> Option<String>) -> Result<Option<ApnsSettings>, SettingsError> {
    let Some(key) = key_source(
        "CIRRUS_APNS_KEY",
        "CIRRUS_APNS_KEY_FILE",
        "CIRRUS_APNS_KEY_PARAMETER",
        get,
    )?
    else {
        return Ok(None);
    };
    let needs = |name: &'static str| {
        get(name)
            .filter(|value| !value.is_empty())
            .ok_or(SettingsError::Needs("an APNs key", name))
    };
    let endpoint = match get("CIRRUS_APNS_ENDPOINT").as_deref() {
        None | Some("production") => APNS_PRODUCTION.to_owned(),
        Some("sandbox") => APNS_SANDBOX.to_owned(),
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => url.to_owned(),
        Some(_) => return Err(SettingsError::NotAnEndpoint("CIRRUS_APNS_ENDPOINT")),
    };
    Ok(Some(ApnsSettings {
        key,
        key_id: needs("CIRRUS_APNS_KEY_ID")?,
        team_id: needs("CIRRUS_APNS_TEAM_ID")?,
        topic: get("CIRRUS_APNS_TOPIC").filter(|topic| !topic.is_empty()),
        endpoint,
    }))
}

/// FCM: on when a service account is given.
pub(crate) fn fcm(get: &impl Fn(&str) -> Option<String>) -> Result<Option<FcmSettings>, SettingsError> {
    let Some(service_account) = key_source(
        "CIRRUS_FCM_SERVICE_ACCOUNT",
        "CIRRUS_FCM_SERVICE_ACCOUNT_FILE",
        "CIRRUS_FCM_SERVICE_ACCOUNT_PARAMETER",
        get,
    )?
    else {
        return Ok(None);
    };
    let endpoint = match get("CIRRUS_FCM_ENDPOINT") {
        None => FCM_ENDPOINT.to_owned(),
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => url,
        Some(_) => return Err(SettingsError::NotAnEndpoint("CIRRUS_FCM_ENDPOINT")),
    };
    Ok(Some(FcmSettings {
        service_account,
        endpoint,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn getter(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| vars.get(name).cloned()
    }

    #[test]
    fn nothing_set_means_both_off() {
        assert_eq!(apns(&getter(&[])).unwrap(), None);
        assert_eq!(fcm(&getter(&[])).unwrap(), None);
    }

    #[test]
    fn an_apns_key_needs_its_ids_and_the_endpoint_names_resolve() {
        let key = ("CIRRUS_APNS_KEY_PARAMETER", "/cirrus/apns-key");
        let err = apns(&getter(&[key])).unwrap_err();
        assert_eq!(err.to_string(), "an APNs key needs CIRRUS_APNS_KEY_ID");
        let ids = [key, ("CIRRUS_APNS_KEY_ID", "K1"), ("CIRRUS_APNS_TEAM_ID", "T1")];
        let settings = apns(&getter(&ids)).unwrap().unwrap();
        assert_eq!(settings.key, Secret::Parameter("/cirrus/apns-key".to_owned()));
        assert_eq!(settings.endpoint, APNS_PRODUCTION);
        let sandbox = [&ids[..], &[("CIRRUS_APNS_ENDPOINT", "sandbox")]].concat();
        assert_eq!(apns(&getter(&sandbox)).unwrap().unwrap().endpoint, APNS_SANDBOX);
        let custom = [&ids[..], &[("CIRRUS_APNS_ENDPOINT", "http://127.0.0.1:9")]].concat();
        assert_eq!(
            apns(&getter(&custom)).unwrap().unwrap().endpoint,
            "http://127.0.0.1:9"
        );
        let bad = [&ids[..], &[("CIRRUS_APNS_ENDPOINT", "staging")]].concat();
        assert!(matches!(
            apns(&getter(&bad)),
            Err(SettingsError::NotAnEndpoint(_))
        ));
    }

    #[test]
    fn keys_come_from_values_files_or_parameters_and_never_show() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sa.json");
        std::fs::write(&path, "{\"private_key\":\"hunter2\"}").unwrap();
        let path = path.to_str().unwrap();
        let from_file = fcm(&getter(&[("CIRRUS_FCM_SERVICE_ACCOUNT_FILE", path)]))
            .unwrap()
            .unwrap();
        assert_eq!(
            from_file.service_account,
            Secret::Value("{\"private_key\":\"hunter2\"}".to_owned())
        );
        assert!(!format!("{from_file:?}").contains("hunter2"));
        assert_eq!(from_file.endpoint, FCM_ENDPOINT);
        let value_wins = fcm(&getter(&[
            ("CIRRUS_FCM_SERVICE_ACCOUNT", "{}"),
            ("CIRRUS_FCM_SERVICE_ACCOUNT_PARAMETER", "/p"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(value_wins.service_account, Secret::Value("{}".to_owned()));
        let missing = fcm(&getter(&[(
            "CIRRUS_FCM_SERVICE_ACCOUNT_FILE",
            "/nonexistent/sa.json",
        )]));
        assert!(matches!(missing, Err(SettingsError::KeyFile { .. })));
    }
}
