//! `tiergate check-config` as a container or a service manager runs it: keys set from the
//! environment (`TIERGATE__...`) are applied and named, a bad one is refused with its
//! variable or its setting, and a file the gateway would write into a missing folder fails
//! the check instead of the start.

use std::path::Path;
use std::process::Command;

const CONFIG: &str = r#"
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

fn check(file: &Path, env: &[(&str, &str)]) -> Result<(bool, String), String> {
    let out = Command::new(env!("CARGO_BIN_EXE_tiergate"))
        .arg("check-config")
        .arg(file)
        .envs(env.iter().copied())
        .output()
        .map_err(|e| e.to_string())?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok((out.status.success(), text))
}

#[test]
fn the_environment_sets_keys_and_missing_folders_fail_the_check() -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("tiergate.toml");
    std::fs::write(&file, CONFIG).map_err(|e| e.to_string())?;

    let (ok, text) = check(&file, &[])?;
    assert!(ok && text.trim_end().ends_with(": ok"), "{text}");

    let set = [
        ("TIERGATE__UPSTREAM__TIMEOUT", "45s"),
        ("TIERGATE__GRAPH__BUDGET_SHARE", "0.5"),
    ];
    let (ok, text) = check(&file, &set)?;
    assert!(ok, "{text}");
    assert!(
        text.contains("from the environment: graph.budget_share, upstream.timeout"),
        "{text}"
    );

    let (ok, text) = check(&file, &[("TIERGATE__GRAPH__BUDGET_SHARE", "2")])?;
    assert!(!ok && text.contains("graph.budget_share"), "{text}");
    let (ok, text) = check(&file, &[("TIERGATE__LISTEN__PORT", "1")])?;
    assert!(!ok && text.contains("TIERGATE__LISTEN__PORT"), "{text}");

    let missing = dir.path().join("no-such-folder").join("checkpoints.jsonl");
    let missing = missing.to_string_lossy();
    let (ok, text) = check(&file, &[("TIERGATE__AUDIT__CHECKPOINT_LOG", &missing)])?;
    assert!(!ok, "{text}");
    assert!(
        text.contains("audit.checkpoint_log: the folder") && text.contains("does not exist"),
        "{text}"
    );
    let db = format!("sqlite://{}/gone/tiergate.db", dir.path().display());
    let (ok, text) = check(&file, &[("TIERGATE__STORAGE__URL", &db)])?;
    assert!(!ok && text.contains("storage.url: the folder"), "{text}");
    Ok(())
}
