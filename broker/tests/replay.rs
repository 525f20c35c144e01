//! Single-use values on the machine's Redis (`TIERGATE_TEST_REDIS`, default
//! redis://127.0.0.1:6379), shared between two stores as between two gateways, and in process.

use chrono::Utc;
use std::time::Duration;
use tiergate_broker::saml::replay::OneTime;

fn redis_url() -> String {
    std::env::var("TIERGATE_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

async fn exercise(a: &OneTime, b: &OneTime) -> Result<(), String> {
    let id = format!("_a{}", uuid_like());
    let until = Utc::now() + chrono::Duration::seconds(60);
    assert!(a.claim("assertion", &id, until).await?, "first use");
    assert!(
        !b.claim("assertion", &id, until).await?,
        "a replay, on any gateway"
    );
    assert!(!a.claim("assertion", &id, until).await?);

    let req = format!("req{}", uuid_like());
    a.put(
        "request",
        &req,
        "{\"reseller\":\"res-1\"}",
        Duration::from_secs(60),
    )
    .await?;
    assert_eq!(
        b.take("request", &req).await?.as_deref(),
        Some("{\"reseller\":\"res-1\"}")
    );
    assert_eq!(a.take("request", &req).await?, None, "answered once");
    Ok(())
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

#[tokio::test]
async fn assertion_ids_and_requests_are_single_use_across_gateways() -> Result<(), String> {
    let url = redis_url();
    let a = OneTime::redis(&url, "tg-test:")
        .await
        .map_err(|e| format!("Redis is required for this test: {e}"))?;
    let b = OneTime::redis(&url, "tg-test:").await?;
    exercise(&a, &b).await
}

#[tokio::test]
async fn in_process_the_same_rules_hold() -> Result<(), String> {
    let m = OneTime::memory();
    exercise(&m, &m).await
}

#[tokio::test]
async fn in_process_values_expire_one_by_one_and_the_store_is_bounded() -> Result<(), String> {
    use std::time::Duration;
    use tiergate_broker::saml::replay::MEMORY_CAPACITY;
    let m = OneTime::memory();
    for i in 0..MEMORY_CAPACITY {
        m.put("request", &i.to_string(), "v", Duration::from_secs(600))
            .await?;
    }
    // Full: a new value is refused (an unexpired one is never evicted to make room)...
    let full = m
        .put("request", "one-more", "v", Duration::from_secs(600))
        .await;
    assert!(full.is_err(), "{full:?}");
    // ... and a taken one makes room, once.
    assert_eq!(m.take("request", "7").await?, Some("v".to_owned()));
    assert_eq!(m.take("request", "7").await?, None);
    m.put("request", "one-more", "v", Duration::from_secs(600))
        .await?;
    Ok(())
}
