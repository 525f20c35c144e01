use super::*;

const GOOD: &str = r#"
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
[upstream]
url = "http://127.0.0.1:18080"
[distributor]
partner_id = "dist-1"
access_key = "AK"
secret_key = { value = "sk" }
[[resellers]]
partner_id = "res-1"
[credentials]
master_key = { value = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" }
[audit]
signing_key = { value = "MFECAQEwBQYDK2VwBCIEIDmdT4ji0OB2Kwxco+mLltCzxzi2onc04xySgnKE/IU4gSEAbDr8vyJYutrvwbHFMeyyE9cQXrVrocCsWb5EZ4wCrK4=" }
"#;

#[test]
fn a_minimal_config_gets_defaults() {
    let c = Config::parse(GOOD, Path::new("/etc/tg"));
    let c = c.map_err(|e| e.to_string());
    assert!(c.is_ok(), "{c:?}");
    let Ok(c) = c else { return };
    assert_eq!(c.upstream.authority(), "127.0.0.1:18080");
    assert!(!c.upstream.tls);
    assert_eq!(c.clock_skew, Duration::from_secs(900));
    assert_eq!(
        c.storage,
        Storage::Sqlite {
            url: "sqlite:///etc/tg/tiergate.db".into()
        }
    );
    assert_eq!(format!("{:?}", c.distributor.secret_key), "Secret(***)");
    assert_eq!(c.resellers, vec!["res-1".to_owned()]);
}

#[test]
fn every_error_is_reported_with_its_path() {
    let bad = "clock_skew = \"15 minutes\"\n".to_owned()
        + &GOOD
            .replace("127.0.0.1:18080", "ftp://x")
            .replace("\"127.0.0.1:0\"\nadmin", "\"nowhere\"\nadmin")
            .replace("partner_id = \"res-1\"", "partner_id = \"dist-1\"")
            .replace("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "c2hvcnQ=");
    let err = Config::parse(&bad, Path::new(".")).map(|_| ());
    let Err(ConfigErrors(errs)) = err else {
        unreachable!("accepted a bad config")
    };
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "listen",
            "upstream.url",
            "resellers[0].partner_id",
            "credentials.master_key",
            "clock_skew"
        ]
    );
}

#[test]
fn unknown_fields_and_missing_env_are_refused() {
    let unknown = GOOD.replace("[upstream]", "[upstream]\nretries = 3");
    let e = Config::parse(&unknown, Path::new("."))
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(
        e.as_ref()
            .is_err_and(|m| m.contains("unknown field `retries`")),
        "{e:?}"
    );
    let env = GOOD.replace(
        r#"{ value = "sk" }"#,
        r#"{ env = "TIERGATE_TEST_SURELY_UNSET" }"#,
    );
    let e = Config::parse(&env, Path::new("."))
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert_eq!(
        e,
        Err(
            "distributor.secret_key: environment variable `TIERGATE_TEST_SURELY_UNSET` is not set"
                .into()
        )
    );
}

#[test]
fn durations_parse_with_units_only() {
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
    assert!(parse_duration("10").is_err());
    assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
    assert!(parse_duration("1w").is_err());
}

#[test]
fn policy_rules_are_validated_with_paths() {
    let text = GOOD.to_owned()
        + r#"
[policy.tiers.cloud_reseller]
allow = ["@reseller", "list_indirect_partners"]
[policy.tiers.janitor]
allow = ["*"]
[policy.roles.issuer]
allow = ["create_partner_coupon"]
[graph]
sync_interval = "0s"
"#;
    let Err(ConfigErrors(errs)) = Config::parse(&text, Path::new(".")).map(|_| ()) else {
        unreachable!("accepted bad rules")
    };
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "policy.tiers.janitor",
            "policy.tiers.cloud_reseller.allow",
            "policy.roles.issuer.allow[0]",
            "graph.sync_interval"
        ]
    );
}

#[test]
fn roles_narrow_within_the_reseller_ceiling() -> Result<(), ConfigErrors> {
    let text = GOOD.to_owned()
        + "[policy.roles.issuer]\nallow = [\"create_partner_coupons\", \"list_*\"]\n";
    let c = Config::parse(&text, Path::new("."))?;
    let issuer = c.rules.role("issuer").unwrap_or_default();
    let ops: Vec<_> = issuer.operations().collect();
    assert!(ops.contains(&"create_partner_coupons"));
    assert!(ops.contains(&"list_sub_customers"));
    assert!(
        !ops.contains(&"list_indirect_partners"),
        "clipped to the reseller ceiling"
    );
    Ok(())
}

#[test]
fn tls_policy_and_certificates_are_checked_with_paths() {
    let text = GOOD.to_owned()
        + r#"
[tls]
versions = ["1.3", "1.0"]
suites = ["ECDHE-RSA-AES128-GCM-SHA256"]
[[tls.certificates]]
chain = "nowhere.pem"
key = "nowhere.key"
"#;
    let Err(ConfigErrors(errs)) = Config::parse(&text, Path::new("/tmp")).map(|_| ()) else {
        unreachable!("accepted a bad tls section")
    };
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        vec!["tls.versions[1]", "tls.suites[0]", "tls.certificates[0]"]
    );
    assert!(errs[2].message.contains("/tmp/nowhere.pem"));
}

#[test]
fn the_default_tls_policy_is_the_vendors_on_a_plain_listener() -> Result<(), ConfigErrors> {
    let c = Config::parse(GOOD, Path::new("."))?;
    assert_eq!(c.tls.policy.profile, "vendor-default");
    assert_eq!(c.tls.policy.effective.len(), 9);
    assert!(c.tls.certificates.is_empty());
    Ok(())
}

#[test]
fn rate_limits_default_to_the_vendor_budget_and_report_bad_values_with_their_paths() {
    let c = Config::parse(GOOD, Path::new("/etc/tg")).map_err(|e| e.to_string());
    assert!(c.is_ok(), "{c:?}");
    let Ok(c) = c else { return };
    assert!(c.ratelimit.redis.is_none(), "in process by default");
    assert_eq!(
        c.ratelimit.upstream.quota.rate.get(),
        10,
        "the vendor's 10/s per API"
    );
    assert_eq!(c.ratelimit.upstream.quota.period, Duration::from_secs(1));

    let text = format!(
        "{GOOD}\n[ratelimit]\nredis = \"http://x\"\nmode = \"fast\"\nmax_error = 2.0\n\
         [ratelimit.tiers.cloud_reseller]\nmoney = {{ rate = \"5/s\", burst = 0 }}\nall = {{ rate = \"ten\" }}\n\
         [ratelimit.tiers.emperor]\nall = {{ rate = \"1/s\" }}\n\
         [ratelimit.upstream]\nroutes = {{ no_such_call = {{ rate = \"1/s\" }} }}\n"
    );
    let e = Config::parse(&text, Path::new("/etc/tg")).map(drop);
    assert!(e.is_err(), "accepted bad limits");
    let Err(e) = e else { return };
    let paths: Vec<&str> = e.0.iter().map(|x| x.path.as_str()).collect();
    for p in [
        "ratelimit.redis",
        "ratelimit.mode",
        "ratelimit.max_error",
        "ratelimit.tiers.cloud_reseller.money.burst",
        "ratelimit.tiers.cloud_reseller.all.rate",
        "ratelimit.tiers.emperor",
        "ratelimit.upstream.routes.no_such_call",
    ] {
        assert!(paths.contains(&p), "{p} missing from {paths:?}");
    }
}

#[test]
fn rates_read_per_second_minute_hour_or_any_duration() {
    use crate::ratelimit::parse_rate;
    assert_eq!(
        parse_rate("10/s").map(|(n, p)| (n.get(), p)),
        Ok((10, Duration::from_secs(1)))
    );
    assert_eq!(
        parse_rate("600/m").map(|(n, p)| (n.get(), p)),
        Ok((600, Duration::from_secs(60)))
    );
    assert_eq!(
        parse_rate("5/100ms").map(|(n, p)| (n.get(), p)),
        Ok((5, Duration::from_millis(100)))
    );
    assert!(parse_rate("0/s").is_err());
    assert!(parse_rate("10").is_err());
    assert!(parse_rate("10/0s").is_err());
}

#[test]
fn tokens_are_off_unless_configured() {
    let c = Config::parse(GOOD, Path::new("/etc/tg")).map_err(|e| e.to_string());
    assert!(c.is_ok_and(|c| c.tokens.is_none()));
    let key = "MFECAQEwBQYDK2VwBCIEIDmdT4ji0OB2Kwxco+mLltCzxzi2onc04xySgnKE/IU4gSEAbDr8vyJYutrvwbHFMeyyE9cQXrVrocCsWb5EZ4wCrK4=";
    let text = format!(
        "{GOOD}\n[tokens]\nsigning_key = {{ value = \"{key}\" }}\nprevious_keys = [{{ value = \"{key}\" }}]\n"
    );
    let c = Config::parse(&text, Path::new("/etc/tg")).map_err(|e| e.to_string());
    assert!(c.is_ok(), "{c:?}");
    let Ok(c) = c else { return };
    assert!(c.tokens.is_some(), "tokens configured");
    let Some(t) = c.tokens else { return };
    assert_eq!(t.ttl, Duration::from_secs(900));
    assert_eq!(
        (t.issuer.as_str(), t.audience.as_str()),
        ("tiergate", "tiergate-admin")
    );
    assert_eq!(t.previous_keys.len(), 1);
    assert_eq!(format!("{:?}", t.signing_key), "Secret(***)");
}

#[test]
fn token_settings_errors_name_their_paths() {
    let text = format!(
        "{GOOD}\n[tokens]\nsigning_key = {{ value = \"not base64!\" }}\n\
         previous_keys = [{{ env = \"TG_NOPE\" }}]\nttl = \"2d\"\naudience = \" \"\n"
    );
    let e = Config::parse(&text, Path::new("/etc/tg")).map(|_| ());
    assert!(e.is_err(), "must be refused");
    let Err(e) = e else { return };
    let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
    for p in [
        "tokens.signing_key",
        "tokens.previous_keys[0]",
        "tokens.ttl",
        "tokens.audience",
    ] {
        assert!(paths.contains(&p), "{p} missing in {paths:?}");
    }
}

#[test]
fn sso_settings_errors_name_their_paths() {
    let text = format!(
        "{GOOD}\n[sso]\nlisten = \"nowhere\"\nidp_key = {{ value = \"k\" }}\nidp_cert = \"missing.pem\"\n\
         vendor_metadata = \"missing.xml\"\nx_account_type = \"\"\nsession_ttl = \"0s\"\n\
         public_url = \"ftp://x\"\n[[sso.resellers]]\nreseller = \"res-9\"\nmetadata = \"missing-idp.xml\"\n"
    );
    let e = Config::parse(&text, Path::new("/nonexistent")).map(|_| ());
    assert!(e.is_err(), "must be refused");
    let Err(e) = e else { return };
    let paths: Vec<&str> = e.0.iter().map(|e| e.path.as_str()).collect();
    for p in [
        "sso.listen",
        "sso.idp_cert",
        "sso.vendor_metadata",
        "sso.x_account_type",
        "sso.session_ttl",
        "sso.public_url",
        "sso.resellers[0].reseller",
        "sso.resellers[0].metadata",
    ] {
        assert!(paths.contains(&p), "{p} missing in {paths:?}");
    }
}

#[test]
fn sso_reads_its_files_and_defaults_to_the_rate_limit_redis() {
    let dir = std::env::temp_dir().join(format!("tg-sso-config-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    for f in ["cert.pem", "vendor.xml", "res-1.xml"] {
        let _ = std::fs::write(dir.join(f), format!("<{f}/>"));
    }
    let text = format!(
        "{GOOD}\n[ratelimit]\nredis = \"redis://127.0.0.1:6379\"\n[sso]\nlisten = \"127.0.0.1:0\"\n\
         idp_key = {{ value = \"k\" }}\nidp_cert = \"cert.pem\"\nvendor_metadata = \"vendor.xml\"\n\
         x_account_type = \"tg\"\n[[sso.resellers]]\nreseller = \"res-1\"\nmetadata = \"res-1.xml\"\n"
    );
    let c = Config::parse(&text, &dir).map_err(|e| e.to_string());
    let _ = std::fs::remove_dir_all(&dir);
    assert!(c.is_ok(), "{c:?}");
    let sso = c.ok().and_then(|c| c.sso);
    assert!(sso.is_some(), "[sso] configured");
    let Some(s) = sso else { return };
    assert_eq!(s.redis.as_deref(), Some("redis://127.0.0.1:6379"));
    assert_eq!(s.resellers[0].metadata, "<res-1.xml/>");
    assert_eq!(s.session_ttl, Duration::from_secs(900));
    assert_eq!(format!("{:?}", s.idp_key), "Secret(***)");
}

#[test]
fn metadata_by_url_must_be_https_and_pinned() {
    let base = format!(
        "{GOOD}\n[sso]\nlisten = \"127.0.0.1:0\"\nidp_key = {{ value = \"k\" }}\nidp_cert = \"c\"\n\
         vendor_metadata = \"v\"\nx_account_type = \"tg\"\n[[sso.resellers]]\nreseller = \"res-1\"\n"
    );
    let paths = |extra: &str| -> Vec<String> {
        match Config::parse(&format!("{base}{extra}"), Path::new("/nonexistent")) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.into_iter().map(|e| e.path).collect(),
        }
    };
    let p = paths("metadata_url = \"http://idp.example/md\"\n");
    assert!(
        p.contains(&"sso.resellers[0].metadata_url".to_owned()),
        "{p:?}"
    );
    assert!(
        p.contains(&"sso.resellers[0].cert_sha256".to_owned()),
        "{p:?}"
    );
    let p = paths("metadata_url = \"https://idp.example/md\"\ncert_sha256 = [\"zz\"]\n");
    assert!(
        p.contains(&"sso.resellers[0].cert_sha256[0]".to_owned()),
        "{p:?}"
    );
    let p = paths("metadata = \"m\"\nmetadata_url = \"https://idp.example/md\"\n");
    assert!(p.contains(&"sso.resellers[0].metadata".to_owned()), "{p:?}");
    let fine = format!(
        "metadata_url = \"https://idp.example/md\"\ncert_sha256 = [\"{}\"]\n",
        "AB:".repeat(31) + "AB"
    );
    let p = paths(&fine);
    assert!(!p.iter().any(|p| p.starts_with("sso.resellers")), "{p:?}");
}

#[test]
fn database_and_redis_urls_come_from_secret_sources_and_never_show_their_password() {
    let dir = std::env::temp_dir().join(format!("tg-url-{}", std::process::id()));
    let made = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("redis-url"), "rediss://:r3dis@cache:6380/0\n"));
    assert!(made.is_ok(), "{made:?}");
    let text = GOOD.to_owned()
        + "[storage]\nurl = { env = \"TG_TEST_DB_URL\" }\n\
           migrate_url = { env = \"TG_TEST_OWNER_URL\" }\n\
           [ratelimit]\nredis = { file = \"redis-url\" }\n";
    let raw: file::File = match toml::from_str(&text) {
        Ok(r) => r,
        Err(e) => unreachable!("{e}"),
    };
    let env = |name: &str| match name {
        "TG_TEST_DB_URL" => Some("postgres://app:pg5ecret@db:5432/tg".to_owned()),
        "TG_TEST_OWNER_URL" => Some("postgres://owner:0wner@db:5432/tg".to_owned()),
        _ => None,
    };
    let c = convert::convert(raw, &dir, &env).map_err(|e| e.to_string());
    let Ok(c) = c else { unreachable!("{c:?}") };
    assert_eq!(
        c.storage,
        Storage::Postgres {
            url: "postgres://app:pg5ecret@db:5432/tg".into(),
            owner: Some("postgres://owner:0wner@db:5432/tg".into()),
        }
    );
    assert_eq!(
        c.ratelimit.redis.as_deref(),
        Some("rediss://:r3dis@cache:6380/0")
    );
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("pg5ecret") && !shown.contains("r3dis") && !shown.contains("0wner"),
        "{shown}"
    );
    // An unset variable is an error at its setting.
    let raw: file::File = match toml::from_str(&text) {
        Ok(r) => r,
        Err(e) => unreachable!("{e}"),
    };
    let err = convert::convert(raw, &dir, &|_| None).map(|_| ());
    let Err(ConfigErrors(errs)) = err else {
        unreachable!("accepted an unset URL")
    };
    assert!(errs.iter().any(|e| e.path == "storage.url"), "{errs:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plaintext_listeners_only_on_loopback_unless_the_file_says_so() {
    let open = GOOD.replace(
        "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"",
        "listen = \"0.0.0.0:8443\"\nadmin_listen = \"0.0.0.0:9090\"",
    );
    let err = Config::parse(&open, Path::new(".")).map(|_| ());
    let Err(ConfigErrors(errs)) = err else {
        unreachable!("plaintext on 0.0.0.0 accepted")
    };
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, vec!["listen", "admin_listen"]);
    let allowed = format!("listen_plaintext = true\nadmin_plaintext = true\n{open}");
    let c = Config::parse(&allowed, Path::new(".")).map_err(|e| e.to_string());
    assert!(c.as_ref().is_ok_and(|c| c.admin_plaintext), "{c:?}");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/tls");
    let with_tls =
        format!("{open}[tls]\n[[tls.certificates]]\nchain = \"rsa.pem\"\nkey = \"rsa.key\"\n");
    let c = Config::parse(&with_tls, &fixtures).map_err(|e| e.to_string());
    assert!(c.as_ref().is_ok_and(|c| !c.admin_plaintext), "{c:?}");
}

#[test]
fn a_schema_owner_is_postgres_on_the_same_database() {
    let paths = |storage: &str| -> Vec<String> {
        let text = GOOD.to_owned() + storage;
        let raw: file::File = match toml::from_str(&text) {
            Ok(r) => r,
            Err(e) => unreachable!("{e}"),
        };
        match convert::convert(raw, std::path::Path::new("/tmp"), &|_: &str| None) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(|x| x.path.clone()).collect(),
        }
    };
    let on =
        |url: &str, owner: &str| format!("[storage]\nurl = \"{url}\"\nmigrate_url = \"{owner}\"\n");
    assert_eq!(
        paths(&on("sqlite://t.db", "postgres://o@db/tg")),
        ["storage.migrate_url"]
    );
    assert_eq!(
        paths(&on("postgres://a@db/tg", "postgres://o@db/other")),
        ["storage.migrate_url"]
    );
    assert!(
        paths(&on(
            "postgres://a@db/tg",
            "postgres://o@db/tg?sslmode=require"
        ))
        .is_empty()
    );
}
