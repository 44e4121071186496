//! [`Settings`]: every setting of Cirrus, read once at start from `CIRRUS_*` variables (each Lambda
//! function's environment, which the template fills from its parameters) or from the local
//! stack's flags of the same names (`--max-friends` is `CIRRUS_MAX_FRIENDS`), and validated in one
//! place with errors that name the variable. docs/settings.md lists them all.
//!
//! Over 600 lines on purpose: the tables (counts, rate buckets, names) and their tests read best
//! beside the one loader they feed; the tests are half of it.

use cirrus_auth::{IssuerConfigError, TrustedIssuer};
use cirrus_core::accounts::DEFAULT_ADMIN;
use cirrus_core::devices::DevicePolicy;
use cirrus_core::filter::{FilterMode, WordFilter};
use cirrus_core::ids::UserId;
use cirrus_core::limits::Limits;
use cirrus_core::rates::{Rate, RateLimits};
use cirrus_core::secret::Secret;
use cirrus_core::service::Ports;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A setting that is present but unusable. Never carries a secret's value.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A switch that is not `true`/`false` (or `1`/`0`, `on`/`off`, `yes`/`no`).
    #[error("{0} must be true or false")]
    NotASwitch(&'static str),
    /// A count outside its range.
    #[error("{name} must be a whole number from {min} to {max}")]
    NotACount {
        /// The variable.
        name: &'static str,
        /// The smallest value allowed.
        min: u64,
        /// The largest value allowed.
        max: u64,
    },
    /// `CIRRUS_ADMIN_USER` is not a valid user id.
    #[error("CIRRUS_ADMIN_USER is not a valid user id")]
    BadAdmin,
    /// `CIRRUS_DEVICE_POLICY` is not a policy.
    #[error("CIRRUS_DEVICE_POLICY: {0}")]
    BadDevicePolicy(String),
    /// `CIRRUS_SENSITIVE_MODE` or the word list is unusable.
    #[error("the sensitive-word filter: {0}")]
    BadFilter(String),
    /// `CIRRUS_SENSITIVE_WORDS_FILE` cannot be read.
    #[error("CIRRUS_SENSITIVE_WORDS_FILE: cannot read {path}")]
    WordsFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `CIRRUS_OIDC_ISSUERS` is not a valid issuer list.
    #[error("CIRRUS_OIDC_ISSUERS is not a valid issuer list")]
    BadIssuers(#[source] IssuerConfigError),
    /// `CIRRUS_APP_ID` is not a number.
    #[error("CIRRUS_APP_ID must be a number")]
    BadAppId,
    /// A duration that is not one (`5s`, `1500ms`, `2m`).
    #[error("{0} must be a duration such as 5s or 1500ms")]
    NotADuration(&'static str),
    /// A rate limit that is neither `RATE:BURST` nor `off`.
    #[error("{name}: {reason}")]
    BadRate {
        /// The variable.
        name: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
    /// A setting that needs another one (a webhook URL without its signing secret).
    #[error("{0} needs {1}")]
    Needs(&'static str, &'static str),
    /// A provider endpoint that is neither a known name nor an `http(s)` URL.
    #[error("{0} must be an http(s) URL (or production / sandbox for APNs)")]
    NotAnEndpoint(&'static str),
    /// A key file (`CIRRUS_APNS_KEY_FILE`, `CIRRUS_FCM_SERVICE_ACCOUNT_FILE`) cannot be read.
    #[error("{name}: cannot read {path}")]
    KeyFile {
        /// The variable.
        name: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Every setting, typed and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Limits, the device policy and the account policy.
    pub limits: Limits,
    /// The sensitive-word filter applied to every message, on every path (none: no filtering).
    pub word_filter: Option<Arc<WordFilter>>,
    /// Trusted OpenID Connect issuers for `/v1/auth/oidc` (none: that login is off).
    pub oidc_issuers: Vec<TrustedIssuer>,
    /// The app id tokens carry (Tencent's SDKAppID), if set.
    pub app_id: Option<u64>,
    /// The app's UserSig secret key, if set.
    pub secret_key: Option<Secret>,
    /// Offline push to the app's webhook, if configured.
    pub push_webhook: Option<WebhookSettings>,
    /// Offline push through APNs, if configured.
    pub push_apns: Option<crate::push_settings::ApnsSettings>,
    /// Offline push through FCM, if configured.
    pub push_fcm: Option<crate::push_settings::FcmSettings>,
}

/// Where offline pushes go when the webhook provider is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The URL each push is POSTed to.
    pub url: String,
    /// The HMAC-SHA256 key that signs each call.
    pub secret: Secret,
    /// How long one call may take.
    pub timeout: Duration,
}

/// A count setting: its variable, its range, and where it goes in [`Limits`].
struct Count {
    name: &'static str,
    min: u64,
    max: u64,
    apply: fn(&mut Limits, u64),
}

const U32: u64 = u32::MAX as u64;
const DAY_MS: u64 = 24 * 3600 * 1000;

/// The count settings. Zero is refused everywhere a zero would disable the thing it counts.
const COUNTS: &[Count] = &[
    Count {
        name: "CIRRUS_MAX_FRIENDS",
        min: 1,
        max: U32,
        apply: |l, v| l.max_friends = v as u32,
    },
    Count {
        name: "CIRRUS_MAX_BLOCKS",
        min: 1,
        max: U32,
        apply: |l, v| l.max_blocks = v as u32,
    },
    Count {
        name: "CIRRUS_MAX_BODY_BYTES",
        min: 1,
        max: U32,
        apply: |l, v| l.max_body_bytes = v as usize,
    },
    Count {
        name: "CIRRUS_MAX_FILE_BYTES",
        min: 1,
        max: U32,
        apply: |l, v| l.max_file_bytes = v,
    },
    Count {
        name: "CIRRUS_MAX_IMAGE_BYTES",
        min: 1,
        max: U32,
        apply: |l, v| l.max_image_bytes = v,
    },
    Count {
        name: "CIRRUS_MAX_SOUND_BYTES",
        min: 1,
        max: U32,
        apply: |l, v| l.max_sound_bytes = v,
    },
    Count {
        name: "CIRRUS_MAX_VIDEO_BYTES",
        min: 1,
        max: U32,
        apply: |l, v| l.max_video_bytes = v,
    },
    Count {
        name: "CIRRUS_ROAMING_DAYS",
        min: 1,
        max: 36_500,
        apply: |l, v| l.roaming_ttl_ms = (v * DAY_MS) as i64,
    },
    Count {
        name: "CIRRUS_MAX_CONVERSATION_MESSAGES",
        min: 1,
        max: U32,
        apply: |l, v| l.max_stream_messages = v,
    },
    Count {
        name: "CIRRUS_RECALL_WINDOW_SECS",
        min: 1,
        max: U32,
        apply: |l, v| l.recall_window_ms = (v * 1000) as i64,
    },
    Count {
        name: "CIRRUS_EDIT_WINDOW_SECS",
        min: 1,
        max: U32,
        apply: |l, v| l.edit_window_ms = (v * 1000) as i64,
    },
    Count {
        name: "CIRRUS_MAX_GROUP_MEMBERS",
        min: 1,
        max: U32,
        apply: |l, v| l.max_group_members = v as u32,
    },
    Count {
        name: "CIRRUS_MAX_GROUPS_PER_USER",
        min: 1,
        max: U32,
        apply: |l, v| l.max_groups_per_user = v as u32,
    },
    Count {
        name: "CIRRUS_GROUP_FANOUT_PAGE",
        min: 1,
        max: 10_000,
        apply: |l, v| l.group_fanout_page = v as u32,
    },
    Count {
        name: "CIRRUS_LIVE_TIP_AUDIENCE",
        min: 0,
        max: U32,
        apply: |l, v| l.live_tip_audience = v,
    },
];

/// A rate-limit setting: its variable and the bucket it sets (`RATE:BURST` or `off`).
struct RateSetting {
    name: &'static str,
    apply: fn(&mut RateLimits, Option<Rate>),
}

/// The rate-limit settings; `CIRRUS_RATE_LIMITS=off` turns them all off.
const RATES: &[RateSetting] = &[
    RateSetting {
        name: "CIRRUS_RATE_SEND_PER_CONNECTION",
        apply: |r, v| r.send.connection = v,
    },
    RateSetting {
        name: "CIRRUS_RATE_SEND_PER_USER",
        apply: |r, v| r.send.user = v,
    },
    RateSetting {
        name: "CIRRUS_RATE_PING_PER_CONNECTION",
        apply: |r, v| r.ping.connection = v,
    },
    RateSetting {
        name: "CIRRUS_RATE_PING_PER_USER",
        apply: |r, v| r.ping.user = v,
    },
    RateSetting {
        name: "CIRRUS_RATE_OTHER_PER_CONNECTION",
        apply: |r, v| r.other.connection = v,
    },
    RateSetting {
        name: "CIRRUS_RATE_OTHER_PER_USER",
        apply: |r, v| r.other.user = v,
    },
    RateSetting {
        name: "CIRRUS_RATE_REST_PER_ADMIN",
        apply: |r, v| r.rest = v,
    },
];

/// Every variable [`Settings::load`] reads, for the docs check and the local stack's help.
pub const NAMES: &[&str] = &[
    "CIRRUS_APP_ID",
    "CIRRUS_SECRET_KEY",
    "CIRRUS_SECRET_KEY_PARAMETER",
    "CIRRUS_ADMIN_USER",
    "CIRRUS_HOSTED_ACCOUNTS",
    "CIRRUS_GUESTS",
    "CIRRUS_GUEST_C2C",
    "CIRRUS_OIDC_ISSUERS",
    "CIRRUS_DEVICE_POLICY",
    "CIRRUS_SENDER_PROFILE",
    "CIRRUS_SENSITIVE_WORDS",
    "CIRRUS_SENSITIVE_WORDS_FILE",
    "CIRRUS_SENSITIVE_MODE",
    "CIRRUS_PUSH_WEBHOOK_URL",
    "CIRRUS_PUSH_WEBHOOK_SECRET",
    "CIRRUS_PUSH_WEBHOOK_SECRET_PARAMETER",
    "CIRRUS_PUSH_WEBHOOK_TIMEOUT",
    "CIRRUS_APNS_KEY",
    "CIRRUS_APNS_KEY_FILE",
    "CIRRUS_APNS_KEY_PARAMETER",
    "CIRRUS_APNS_KEY_ID",
    "CIRRUS_APNS_TEAM_ID",
    "CIRRUS_APNS_TOPIC",
    "CIRRUS_APNS_ENDPOINT",
    "CIRRUS_FCM_SERVICE_ACCOUNT",
    "CIRRUS_FCM_SERVICE_ACCOUNT_FILE",
    "CIRRUS_FCM_SERVICE_ACCOUNT_PARAMETER",
    "CIRRUS_FCM_ENDPOINT",
    "CIRRUS_MAX_FRIENDS",
    "CIRRUS_MAX_BLOCKS",
    "CIRRUS_MAX_BODY_BYTES",
    "CIRRUS_MAX_FILE_BYTES",
    "CIRRUS_MAX_IMAGE_BYTES",
    "CIRRUS_MAX_SOUND_BYTES",
    "CIRRUS_MAX_VIDEO_BYTES",
    "CIRRUS_ROAMING_DAYS",
    "CIRRUS_MAX_CONVERSATION_MESSAGES",
    "CIRRUS_RECALL_WINDOW_SECS",
    "CIRRUS_EDIT_WINDOW_SECS",
    "CIRRUS_MAX_GROUP_MEMBERS",
    "CIRRUS_MAX_GROUPS_PER_USER",
    "CIRRUS_GROUP_FANOUT_PAGE",
    "CIRRUS_LIVE_TIP_AUDIENCE",
    "CIRRUS_RATE_LIMITS",
    "CIRRUS_RATE_SEND_PER_CONNECTION",
    "CIRRUS_RATE_SEND_PER_USER",
    "CIRRUS_RATE_PING_PER_CONNECTION",
    "CIRRUS_RATE_PING_PER_USER",
    "CIRRUS_RATE_OTHER_PER_CONNECTION",
    "CIRRUS_RATE_OTHER_PER_USER",
    "CIRRUS_RATE_REST_PER_ADMIN",
];

/// The webhook's timeout when none is set.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

impl Settings {
    /// Reads every setting from `get` (unset and empty are the same: the default).
    pub fn load(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let get = |name: &str| get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let mut limits = Limits::default();
        for count in COUNTS {
            if let Some(raw) = get(count.name) {
                let value = raw
                    .parse::<u64>()
                    .ok()
                    .filter(|v| (count.min..=count.max).contains(v))
                    .ok_or(SettingsError::NotACount {
                        name: count.name,
                        min: count.min,
                        max: count.max,
                    })?;
                (count.apply)(&mut limits, value);
            }
        }
        let accounts = &mut limits.accounts;
        accounts.admin = UserId::parse(get("CIRRUS_ADMIN_USER").unwrap_or_else(|| DEFAULT_ADMIN.to_owned()))
            .map_err(|_| SettingsError::BadAdmin)?;
        accounts.hosted = switch("CIRRUS_HOSTED_ACCOUNTS", &get, false)?;
        accounts.guests = switch("CIRRUS_GUESTS", &get, false)?;
        accounts.guest_c2c = switch("CIRRUS_GUEST_C2C", &get, false)?;
        limits.sender_profile = switch("CIRRUS_SENDER_PROFILE", &get, true)?;
        limits.rates = rate_limits(&get)?;
        if let Some(policy) = get("CIRRUS_DEVICE_POLICY") {
            limits.devices = policy
                .parse::<DevicePolicy>()
                .map_err(SettingsError::BadDevicePolicy)?;
        }
        Ok(Self {
            limits,
            word_filter: word_filter(&get)?,
            oidc_issuers: match get("CIRRUS_OIDC_ISSUERS") {
                Some(json) => TrustedIssuer::list_from_json(&json).map_err(SettingsError::BadIssuers)?,
                None => Vec::new(),
            },
            app_id: get("CIRRUS_APP_ID")
                .map(|id| id.parse::<u64>().map_err(|_| SettingsError::BadAppId))
                .transpose()?,
            secret_key: secret("CIRRUS_SECRET_KEY", "CIRRUS_SECRET_KEY_PARAMETER", &get),
            push_webhook: push_webhook(&get)?,
            push_apns: crate::push_settings::apns(&get)?,
            push_fcm: crate::push_settings::fcm(&get)?,
        })
    }

    /// [`Settings::load`] from the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::load(|name| std::env::var(name).ok())
    }

    /// `ports` with these settings' limits and word filter, so that every path of every function
    /// applies the same policy, and the HTTP client of the app's callbacks (which fire as the
    /// stored configuration says).
    pub fn apply<S>(&self, mut ports: Ports<S>) -> Ports<S> {
        ports.limits = self.limits.clone();
        ports.filter = self.word_filter.clone();
        let app_id = self.app_id.unwrap_or(cirrus_core::usersig::DEV_APP_ID);
        ports.callback_client = Some(Arc::new(crate::callback_client::HttpCallbackClient::new(app_id)));
        ports
    }
}

fn switch(
    name: &'static str,
    get: &impl Fn(&str) -> Option<String>,
    default: bool,
) -> Result<bool, SettingsError> {
    match get(name).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "on" | "yes") => Ok(true),
        Some("0" | "false" | "off" | "no") => Ok(false),
        Some(_) => Err(SettingsError::NotASwitch(name)),
    }
}

/// The defaults of [`RateLimits`], each bucket replaced by its setting; all off with
/// `CIRRUS_RATE_LIMITS=off` (buckets set after that still apply).
fn rate_limits(get: &impl Fn(&str) -> Option<String>) -> Result<RateLimits, SettingsError> {
    let mut rates = if switch("CIRRUS_RATE_LIMITS", get, true)? {
        RateLimits::default()
    } else {
        RateLimits::OFF
    };
    for setting in RATES {
        let Some(raw) = get(setting.name) else { continue };
        let rate = match raw.as_str() {
            "off" => None,
            spec => Some(spec.parse::<Rate>().map_err(|reason| SettingsError::BadRate {
                name: setting.name,
                reason,
            })?),
        };
        (setting.apply)(&mut rates, rate);
    }
    Ok(rates)
}

/// The value in `value`, else the parameter `parameter` names, else none.
fn secret(value: &str, parameter: &str, get: &impl Fn(&str) -> Option<String>) -> Option<Secret> {
    get(value)
        .map(Secret::Value)
        .or_else(|| get(parameter).map(Secret::Parameter))
}

/// The words of `CIRRUS_SENSITIVE_WORDS` (commas or lines) and of the file
/// `CIRRUS_SENSITIVE_WORDS_FILE` together, in `CIRRUS_SENSITIVE_MODE` (`reject`, the default, or
/// `mask`).
fn word_filter(get: &impl Fn(&str) -> Option<String>) -> Result<Option<Arc<WordFilter>>, SettingsError> {
    let mut words = WordFilter::parse_list(&get("CIRRUS_SENSITIVE_WORDS").unwrap_or_default());
    if let Some(path) = get("CIRRUS_SENSITIVE_WORDS_FILE").map(PathBuf::from) {
        let text =
            std::fs::read_to_string(&path).map_err(|source| SettingsError::WordsFile { path, source })?;
        words.extend(WordFilter::parse_list(&text));
    }
    let mode = match get("CIRRUS_SENSITIVE_MODE") {
        None => FilterMode::Reject,
        Some(raw) => raw.parse().map_err(SettingsError::BadFilter)?,
    };
    Ok(WordFilter::new(words, mode)
        .map_err(SettingsError::BadFilter)?
        .map(Arc::new))
}

/// The webhook: a URL needs a secret; a timeout without a URL is harmless.
fn push_webhook(get: &impl Fn(&str) -> Option<String>) -> Result<Option<WebhookSettings>, SettingsError> {
    let timeout = match get("CIRRUS_PUSH_WEBHOOK_TIMEOUT") {
        None => DEFAULT_WEBHOOK_TIMEOUT,
        Some(raw) => humantime::parse_duration(&raw)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or(SettingsError::NotADuration("CIRRUS_PUSH_WEBHOOK_TIMEOUT"))?,
    };
    let Some(url) = get("CIRRUS_PUSH_WEBHOOK_URL") else {
        return Ok(None);
    };
    let secret = secret(
        "CIRRUS_PUSH_WEBHOOK_SECRET",
        "CIRRUS_PUSH_WEBHOOK_SECRET_PARAMETER",
        get,
    )
    .ok_or(SettingsError::Needs(
        "CIRRUS_PUSH_WEBHOOK_URL",
        "CIRRUS_PUSH_WEBHOOK_SECRET or CIRRUS_PUSH_WEBHOOK_SECRET_PARAMETER",
    ))?;
    Ok(Some(WebhookSettings { url, secret, timeout }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cirrus_core::accounts::AccountPolicy;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::load(|name| vars.get(name).cloned())
    }

    #[test]
    fn unset_means_tencents_defaults() {
        // GIVEN no variables WHEN the settings load THEN every default holds
        let settings = load(&[]).unwrap();
        assert_eq!(settings.limits, Limits::default());
        assert_eq!(settings.limits.accounts, AccountPolicy::default());
        assert_eq!(settings.limits.accounts.admin.as_str(), "administrator");
        assert!(settings.word_filter.is_none() && settings.oidc_issuers.is_empty());
        assert!(
            settings.app_id.is_none() && settings.secret_key.is_none() && settings.push_webhook.is_none()
        );
        // AND empty values are the same as unset
        assert_eq!(
            load(&[("CIRRUS_MAX_FRIENDS", " ")]).unwrap().limits,
            Limits::default()
        );
    }

    #[test]
    fn switches_and_the_admin_are_read() {
        let settings = load(&[
            ("CIRRUS_ADMIN_USER", "ops"),
            ("CIRRUS_HOSTED_ACCOUNTS", "true"),
            ("CIRRUS_GUESTS", "1"),
            ("CIRRUS_GUEST_C2C", "off"),
            ("CIRRUS_SENDER_PROFILE", "false"),
            ("CIRRUS_DEVICE_POLICY", "single"),
        ])
        .unwrap();
        let policy = &settings.limits.accounts;
        assert_eq!(policy.admin.as_str(), "ops");
        assert!(policy.hosted && policy.guests && !policy.guest_c2c);
        assert!(!settings.limits.sender_profile);
        assert_eq!(settings.limits.devices, DevicePolicy::Single);
    }

    #[test]
    fn counts_are_read_in_their_units() {
        let settings = load(&[
            ("CIRRUS_MAX_FRIENDS", "5000"),
            ("CIRRUS_ROAMING_DAYS", "30"),
            ("CIRRUS_MAX_CONVERSATION_MESSAGES", "500"),
            ("CIRRUS_RECALL_WINDOW_SECS", "600"),
            ("CIRRUS_MAX_BODY_BYTES", "4096"),
            ("CIRRUS_MAX_IMAGE_BYTES", "1024"),
            ("CIRRUS_MAX_GROUP_MEMBERS", "200"),
            ("CIRRUS_LIVE_TIP_AUDIENCE", "0"),
        ])
        .unwrap();
        let limits = &settings.limits;
        assert_eq!((limits.max_friends, limits.max_blocks), (5000, 1000));
        assert_eq!(limits.roaming_ttl_ms, 30 * 24 * 3600 * 1000);
        assert_eq!(limits.max_stream_messages, 500);
        assert_eq!(limits.recall_window_ms, 600_000);
        assert_eq!(limits.max_body_bytes, 4096);
        assert_eq!(limits.max_image_bytes, 1024);
        assert_eq!(limits.max_group_members, 200);
        assert_eq!(limits.live_tip_audience, 0);
    }

    #[test]
    fn zero_negative_and_huge_counts_are_refused_by_name() {
        for (name, raw) in [
            ("CIRRUS_MAX_BLOCKS", "0"),
            ("CIRRUS_ROAMING_DAYS", "-1"),
            ("CIRRUS_RECALL_WINDOW_SECS", "0"),
            ("CIRRUS_MAX_FRIENDS", "99999999999"),
            ("CIRRUS_GROUP_FANOUT_PAGE", "ten"),
        ] {
            let refused = load(&[(name, raw)]);
            assert!(
                matches!(refused, Err(SettingsError::NotACount { name: n, .. }) if n == name),
                "{name}={raw}: {refused:?}"
            );
        }
    }

    #[test]
    fn rate_limits_are_buckets_or_off() {
        // GIVEN one bucket set, one turned off WHEN loaded THEN those two change, the rest stay
        let settings = load(&[
            ("CIRRUS_RATE_SEND_PER_CONNECTION", "5:10"),
            ("CIRRUS_RATE_PING_PER_USER", "off"),
        ])
        .unwrap();
        let rates = settings.limits.rates;
        assert_eq!(rates.send.connection, Some(Rate::new(5, 10)));
        assert_eq!(rates.ping.user, None);
        assert_eq!(rates.other, RateLimits::default().other);
        // AND the master switch turns every default off, keeping buckets set explicitly
        let off = load(&[
            ("CIRRUS_RATE_LIMITS", "off"),
            ("CIRRUS_RATE_REST_PER_ADMIN", "1:1"),
        ])
        .unwrap();
        assert_eq!(
            off.limits.rates,
            RateLimits {
                rest: Some(Rate::new(1, 1)),
                ..RateLimits::OFF
            }
        );
        // AND a malformed bucket is refused by name
        for (name, raw) in [
            ("CIRRUS_RATE_SEND_PER_USER", "fast"),
            ("CIRRUS_RATE_OTHER_PER_CONNECTION", "0:10"),
        ] {
            let refused = load(&[(name, raw)]);
            assert!(
                matches!(refused, Err(SettingsError::BadRate { name: n, .. }) if n == name),
                "{name}={raw}: {refused:?}"
            );
        }
    }

    #[test]
    fn the_word_filter_takes_an_inline_list_and_a_file_together() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("words.txt");
        std::fs::write(&file, "third\nfourth\n").unwrap();
        let settings = load(&[
            ("CIRRUS_SENSITIVE_WORDS", "bad,worse"),
            ("CIRRUS_SENSITIVE_WORDS_FILE", file.to_str().unwrap()),
            ("CIRRUS_SENSITIVE_MODE", "mask"),
        ])
        .unwrap();
        assert!(format!("{:?}", settings.word_filter).contains("words: 4"));
        let missing = load(&[("CIRRUS_SENSITIVE_WORDS_FILE", "/nonexistent/words.txt")]);
        assert!(
            matches!(missing, Err(SettingsError::WordsFile { .. })),
            "{missing:?}"
        );
        let bad_mode = load(&[
            ("CIRRUS_SENSITIVE_WORDS", "bad"),
            ("CIRRUS_SENSITIVE_MODE", "shout"),
        ]);
        assert!(matches!(bad_mode, Err(SettingsError::BadFilter(_))));
    }

    #[test]
    fn secrets_come_as_values_or_parameters_and_never_show() {
        let settings = load(&[
            ("CIRRUS_APP_ID", "1400000001"),
            ("CIRRUS_SECRET_KEY_PARAMETER", "/cirrus/key"),
            ("CIRRUS_PUSH_WEBHOOK_URL", "https://push.example/hook"),
            ("CIRRUS_PUSH_WEBHOOK_SECRET", "s3cr3t-value"),
            ("CIRRUS_PUSH_WEBHOOK_TIMEOUT", "1500ms"),
        ])
        .unwrap();
        assert_eq!(settings.app_id, Some(1_400_000_001));
        assert_eq!(
            settings.secret_key,
            Some(Secret::Parameter("/cirrus/key".to_owned()))
        );
        let webhook = settings.push_webhook.clone().unwrap();
        assert_eq!(webhook.secret, Secret::Value("s3cr3t-value".to_owned()));
        assert_eq!(webhook.timeout, Duration::from_millis(1500));
        assert!(!format!("{settings:?}").contains("s3cr3t-value"));
        // A value wins over a parameter.
        let both = load(&[("CIRRUS_SECRET_KEY", "k"), ("CIRRUS_SECRET_KEY_PARAMETER", "/p")]).unwrap();
        assert_eq!(both.secret_key, Some(Secret::Value("k".to_owned())));
    }

    #[test]
    fn unusable_values_are_errors() {
        assert!(matches!(
            load(&[("CIRRUS_GUESTS", "maybe")]),
            Err(SettingsError::NotASwitch("CIRRUS_GUESTS"))
        ));
        assert!(matches!(
            load(&[("CIRRUS_ADMIN_USER", "not valid")]),
            Err(SettingsError::BadAdmin)
        ));
        assert!(matches!(
            load(&[("CIRRUS_DEVICE_POLICY", "many")]),
            Err(SettingsError::BadDevicePolicy(_))
        ));
        assert!(matches!(
            load(&[("CIRRUS_APP_ID", "x")]),
            Err(SettingsError::BadAppId)
        ));
        assert!(matches!(
            load(&[("CIRRUS_PUSH_WEBHOOK_URL", "https://push.example")]),
            Err(SettingsError::Needs("CIRRUS_PUSH_WEBHOOK_URL", _))
        ));
        assert!(matches!(
            load(&[("CIRRUS_PUSH_WEBHOOK_TIMEOUT", "0s")]),
            Err(SettingsError::NotADuration(_))
        ));
    }

    #[test]
    fn every_name_read_is_listed_and_every_count_is_named() {
        // GIVEN the source of this module and of the push providers' settings WHEN every
        // CIRRUS_ name in them is collected THEN each is in NAMES (so docs/settings.md, checked
        // against NAMES, misses none)
        for source in [include_str!("settings.rs"), include_str!("push_settings.rs")] {
            let code = source.split("#[cfg(test)]").next().unwrap_or(source);
            for word in code.split(|c: char| !(c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())) {
                if word.starts_with("CIRRUS_") && word.len() > "CIRRUS_".len() {
                    assert!(NAMES.contains(&word), "{word} is read but not in NAMES");
                }
            }
        }
        for count in COUNTS {
            assert!(NAMES.contains(&count.name), "{}", count.name);
        }
        for rate in RATES {
            assert!(NAMES.contains(&rate.name), "{}", rate.name);
        }
    }

    #[test]
    fn the_settings_table_in_the_docs_lists_every_name() {
        let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/settings.md"))
            .expect("docs/settings.md");
        for name in NAMES {
            assert!(
                docs.contains(&format!("`{name}`")),
                "docs/settings.md does not list {name}"
            );
        }
    }
}
