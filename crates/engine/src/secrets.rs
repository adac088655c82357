//! Where the destination's token is kept: the OS's credential store, never a file. One
//! entry per endpoint, so a token given for one platform is never sent to another. Behind a
//! trait so hosts' tests keep tokens in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::error::{Error, Result};

/// A store of tokens by endpoint URL.
pub trait Secrets: Send + Sync {
    /// The token kept for `endpoint`, if any.
    fn token(&self, endpoint: &str) -> Result<Option<String>>;
    /// Keeps `token` for `endpoint`; None forgets it.
    fn set_token(&self, endpoint: &str, token: Option<&str>) -> Result<()>;
    /// Where tokens are kept, as the settings screen names it.
    fn describe(&self) -> String;
}

/// The OS's credential store: Secret Service on Linux (GNOME Keyring, KWallet), the
/// Keychain on macOS, the Credential Manager on Windows.
pub struct Keyring;

/// The service name entries are filed under (`secret-tool lookup service wedsync-uploader
/// username <endpoint>` shows one on Linux).
pub const KEYRING_SERVICE: &str = "wedsync-uploader";

impl Keyring {
    fn entry(endpoint: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(KEYRING_SERVICE, endpoint).map_err(unavailable)
    }
}

fn unavailable(e: keyring::Error) -> Error {
    Error::Secrets(format!(
        "the system keyring could not be used ({e}); on Linux a Secret Service (GNOME Keyring or \
         KWallet) must be running and unlocked"
    ))
}

impl Secrets for Keyring {
    fn token(&self, endpoint: &str) -> Result<Option<String>> {
        match Keyring::entry(endpoint)?.get_password() {
            Ok(token) => Ok(Some(token)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    fn set_token(&self, endpoint: &str, token: Option<&str>) -> Result<()> {
        let entry = Keyring::entry(endpoint)?;
        match token {
            Some(token) => entry.set_password(token).map_err(unavailable),
            None => match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(unavailable(e)),
            },
        }
    }

    fn describe(&self) -> String {
        let store = if cfg!(target_os = "macos") {
            "the macOS Keychain"
        } else if cfg!(windows) {
            "the Windows Credential Manager"
        } else {
            "the Secret Service keyring"
        };
        format!("{store} (service \"{KEYRING_SERVICE}\")")
    }
}

/// Tokens in this process's memory only: for tests, and hosts that must not touch the OS.
#[derive(Default)]
pub struct InMemory(Mutex<HashMap<String, String>>);

impl Secrets for InMemory {
    fn token(&self, endpoint: &str) -> Result<Option<String>> {
        Ok(self.0.lock().map_err(|_| Error::Poisoned)?.get(endpoint).cloned())
    }

    fn set_token(&self, endpoint: &str, token: Option<&str>) -> Result<()> {
        let mut tokens = self.0.lock().map_err(|_| Error::Poisoned)?;
        match token {
            Some(token) => tokens.insert(endpoint.to_string(), token.to_string()),
            None => tokens.remove(endpoint),
        };
        Ok(())
    }

    fn describe(&self) -> String {
        "memory (not kept after the app closes)".into()
    }
}

/// The token to send to `endpoint`: the one in config.toml if it has one (older setups, and
/// servers without a keyring), else the stored one. A store that cannot be reached is no
/// token, said in `trouble`.
pub fn token_for(
    configured: Option<&str>,
    secrets: &dyn Secrets,
    endpoint: &str,
) -> (Option<String>, Option<String>) {
    if let Some(token) = configured {
        return (Some(token.to_string()), None);
    }
    match secrets.token(endpoint) {
        Ok(token) => (token, None),
        Err(e) => (None, Some(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_kept_per_endpoint_and_config_wins() {
        let store = InMemory::default();
        store.set_token("https://a/files", Some("ta")).expect("set");
        assert_eq!(store.token("https://a/files").expect("get").as_deref(), Some("ta"));
        assert_eq!(store.token("https://b/files").expect("get"), None, "never another endpoint's");
        assert_eq!(token_for(Some("plain"), &store, "https://a/files").0.as_deref(), Some("plain"));
        assert_eq!(token_for(None, &store, "https://a/files").0.as_deref(), Some("ta"));
        store.set_token("https://a/files", None).expect("forget");
        assert_eq!(token_for(None, &store, "https://a/files"), (None, None));
    }
}
