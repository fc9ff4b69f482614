//! The `hmac` masking strategy: a keyed SHA-256 of the value, so equal values mask to equal
//! pseudonyms without the value being recoverable by anyone who lacks the key.
//!
//! ```sql
//! SELECT erasure.set_hmac_key('a long random secret');   -- a superuser, once
//! SELECT erasure.set_policy('shop.customers', 'email', 'hmac');
//! ```
//!
//! The key lives in `erasure.hmac_key`, a table no role but the extension's owner (a
//! superuser) may read, whatever the session has loaded: a setting would be a readable
//! placeholder in every session that has not loaded the library. Erasure statements receive it
//! as a parameter of the IMMUTABLE `erasure.hmac_sha256(value, key)`, which Citus can push
//! down to the shards.

use hmac::{Hmac, Mac};
use pgrx::prelude::*;

use crate::error::*;
use crate::security;

/// Shorter keys are refused: an HMAC is only as strong as the secret behind it.
const MIN_KEY_LENGTH: usize = 16;

/// The hex HMAC-SHA-256 of `value` under `key`.
pub fn hmac_sha256(value: &str, key: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Stores the key (superusers only) and tells every session to rebuild its plans with it.
pub fn set_key(key: &str) {
    if unsafe { !pg_sys::superuser() } {
        ErasureError::new(ERRCODE_INSUFFICIENT_PRIVILEGE, "only a superuser may set the hmac key").raise();
    }
    if key.chars().count() < MIN_KEY_LENGTH {
        ErasureError::new(
            ERRCODE_INVALID_PARAMETER_VALUE,
            format!("the hmac key must be at least {MIN_KEY_LENGTH} characters long"),
        )
        .hint("Use a long random secret, e.g. SELECT erasure.set_hmac_key(encode(gen_random_bytes(32), 'hex')) with pgcrypto.")
        .raise();
    }
    Spi::connect_mut(|client| {
        security::as_extension_owner(security::extension_owner(client), || {
            spi(client.update(
                "INSERT INTO erasure.hmac_key (key) VALUES ($1)
                 ON CONFLICT (singleton) DO UPDATE SET key = excluded.key, set_at = pg_catalog.now()",
                None,
                &[key.into()],
            ))
        });
    });
    crate::plan::cache::invalidate_all_sessions();
}

/// The key, read as the extension's owner; 55000 when none is set.
pub fn key() -> String {
    let key: Option<String> = Spi::connect(|client| {
        security::as_extension_owner(security::extension_owner(client), || {
            spi(client.select("SELECT key FROM erasure.hmac_key", None, &[]).and_then(|rows| {
                if rows.is_empty() {
                    Ok(None)
                } else {
                    rows.first().get_one::<String>()
                }
            }))
        })
    });
    key.unwrap_or_else(|| {
        ErasureError::new(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "the hmac key is not set")
            .detail("The hmac masking strategy needs a secret key.")
            .hint("A superuser sets it once: SELECT erasure.set_hmac_key('<a long random secret>');")
            .raise()
    })
}

/// 128 random bits from the operating system's secure source, as hex: the salt of `{uuid}`
/// placeholders, drawn anew for each erasure statement.
pub fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    if !unsafe { pg_sys::pg_strong_random(bytes.as_mut_ptr().cast(), bytes.len()) } {
        ErasureError::new(ERRCODE_INTERNAL_ERROR, "could not generate random bytes").raise();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn hmac_is_keyed_sha256() {
        // The published HMAC-SHA-256 test vector for key "key" and this message.
        let mac =
            Spi::get_one::<String>("SELECT erasure.hmac_sha256('The quick brown fox jumps over the lazy dog', 'key')");
        assert_eq!(mac, Ok(Some("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8".to_string())));
    }

    #[pg_test(error = "the hmac key must be at least 16 characters long")]
    fn short_keys_are_refused() {
        Spi::run("SELECT erasure.set_hmac_key('short')").unwrap();
    }

    #[pg_test]
    fn the_key_is_stored_where_only_superusers_read_it() {
        Spi::run("SELECT erasure.set_hmac_key('0123456789abcdef0123')").unwrap();
        let public = Spi::get_one::<bool>("SELECT has_table_privilege('public', 'erasure.hmac_key', 'SELECT')");
        assert_eq!(public, Ok(Some(false)));
        assert_eq!(super::key(), "0123456789abcdef0123");
    }
}
