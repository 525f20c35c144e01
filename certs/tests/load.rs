//! Certificate loading against the fixtures of tests/fixtures/tls (made by its generate.sh).

use std::path::PathBuf;
use tiergate_certs::{CertError, CertSpec, KeyType, load};

fn fixture(chain: &str, key: &str) -> CertSpec {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tls");
    CertSpec {
        chain: dir.join(chain),
        key: dir.join(key),
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[test]
fn good_certificates_load_with_their_key_types_and_names() -> Result<(), CertError> {
    let e = load(&fixture("ecdsa.pem", "ecdsa.key"), now())?;
    assert_eq!(e.key_type, KeyType::EcdsaP256);
    assert!(e.names.contains(&"gateway.test".to_owned()));
    assert_eq!(e.certified.cert.len(), 2, "leaf and CA");
    assert_eq!(
        load(&fixture("rsa.pem", "rsa.key"), now())?.key_type,
        KeyType::Rsa(2048)
    );
    assert_eq!(
        load(&fixture("p384.pem", "p384.key"), now())?.key_type,
        KeyType::EcdsaP384
    );
    Ok(())
}

#[test]
fn bad_certificates_are_refused_with_what_is_wrong() {
    let err = |c, k| {
        load(&fixture(c, k), now())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    assert!(err("expired.pem", "expired.key").contains("expired on 2021-01-01"));
    assert!(err("wrong-order.pem", "ecdsa.key").contains("chain out of order"));
    assert!(err("ecdsa.pem", "mismatched.key").contains("does not match the leaf"));
    assert!(err("rsa1024.pem", "rsa1024.key").contains("RSA key of 1024 bits is too small"));
    assert!(err("missing.pem", "ecdsa.key").contains("missing.pem"));
    assert!(err("ecdsa.key", "ecdsa.key").contains("no CERTIFICATE"));
}
