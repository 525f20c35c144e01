use super::*;

fn spec(suites: &[&str], outside: &[&str], versions: &[&str]) -> TlsSpec {
    TlsSpec {
        profile: VENDOR_DEFAULT.into(),
        versions: versions.iter().map(|s| (*s).to_owned()).collect(),
        suites: suites.iter().map(|s| (*s).to_owned()).collect(),
        dangerously_allow_outside_profile: outside.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// Tripwire: the exact effective set of the default configuration. A dependency upgrade that
/// changes what is served must fail here and be looked at.
#[test]
fn tripwire_the_default_effective_set() -> Result<(), String> {
    let p = TlsPolicy::compile(&TlsSpec::default()).map_err(|e| format!("{e:?}"))?;
    assert_eq!(
        p.effective_names(Version::Tls13),
        vec![
            "TLS_AES_256_GCM_SHA384",
            "TLS_AES_128_GCM_SHA256",
            "TLS_CHACHA20_POLY1305_SHA256"
        ]
    );
    assert_eq!(
        p.effective_names(Version::Tls12),
        vec![
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ]
    );
    assert_eq!(p.versions, vec![Version::Tls12, Version::Tls13]);
    let unsupported: Vec<&str> = p.unsupported.iter().map(|u| u.suite.name).collect();
    assert_eq!(unsupported.len(), 16, "{unsupported:?}");
    assert!(unsupported.contains(&"TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"));
    assert!(unsupported.contains(&"TLS_AES_128_CCM_SHA256"));
    assert!(unsupported.contains(&"TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256"));
    Ok(())
}

#[test]
fn a_config_narrows_and_may_go_tls13_only() -> Result<(), String> {
    let p = TlsPolicy::compile(&spec(
        &[
            "TLS_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        ],
        &[],
        &["1.3"],
    ))
    .map_err(|e| format!("{e:?}"))?;
    assert_eq!(
        p.effective_names(Version::Tls13),
        vec!["TLS_AES_128_GCM_SHA256"]
    );
    assert!(p.effective_names(Version::Tls12).is_empty());
    Ok(())
}

#[test]
fn outside_unknown_and_openssl_names_are_errors_naming_them() {
    let e = TlsPolicy::compile(&spec(
        &[
            "TLS_RSA_WITH_AES_128_CBC_SHA",
            "ECDHE-RSA-AES128-GCM-SHA256",
            "TLS_NOPE",
        ],
        &[],
        &["1.2", "1.1"],
    ))
    .err()
    .unwrap_or_default();
    let got: Vec<(&str, bool)> = e
        .iter()
        .map(|e| (e.path.as_str(), !e.message.is_empty()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("versions[1]", true),
            ("suites[0]", true),
            ("suites[1]", true),
            ("suites[2]", true)
        ]
    );
    assert!(
        e[1].message
            .contains("outside the `vendor-default` allowlist")
    );
    assert!(
        e[2].message
            .contains("IANA name `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`")
    );
    assert!(e[3].message.contains("unknown cipher suite `TLS_NOPE`"));
}

#[test]
fn the_override_is_explicit_and_cannot_add_what_rustls_lacks() -> Result<(), String> {
    let p = TlsPolicy::compile(&spec(
        &[],
        &["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"],
        &["1.2", "1.3"],
    ))
    .map_err(|e| format!("{e:?}"))?;
    assert_eq!(p.outside_profile.len(), 1);
    assert!(
        p.unsupported
            .iter()
            .any(|u| u.suite.name == "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")
    );
    let e = TlsPolicy::compile(&spec(&[], &["TLS_AES_128_GCM_SHA256"], &["1.3"]))
        .err()
        .unwrap_or_default();
    assert_eq!(e[0].path, "dangerously_allow_outside_profile[0]");
    Ok(())
}

#[test]
fn nothing_servable_left_is_an_error() {
    let e = TlsPolicy::compile(&spec(
        &["TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"],
        &[],
        &["1.2"],
    ))
    .err()
    .unwrap_or_default();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].path, "suites");
}
