//! Notifications: the vendor's key, the re-signing, and the timestamp window.

use super::*;
use chrono::Duration;

type R = Result<(), Box<dyn std::error::Error>>;

struct Keys {
    private: PKey<Private>,
    public: PKey<Public>,
}

fn keys() -> Result<Keys, Box<dyn std::error::Error>> {
    let private = PKey::from_rsa(openssl::rsa::Rsa::generate(2048)?)?;
    let public = PKey::public_key_from_der(&private.public_key_to_der()?)?;
    Ok(Keys { private, public })
}

/// Now, to the millisecond a timestamp carries (so the window's edges are exact).
fn now_ms() -> Result<DateTime<Utc>, Box<dyn std::error::Error>> {
    Ok(DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).ok_or("clock")?)
}

fn request(at: DateTime<Utc>) -> BindRequest {
    BindRequest {
        domain_name: "acme".into(),
        domain_id: "cust-r1-a".into(),
        x_user_id: "res-1:alice".into(),
        bind_action: "bind".into(),
        timestamp: at.timestamp_millis(),
    }
}

#[test]
fn bind_notifications_verify_with_the_vendor_key_and_are_re_signed_by_us() -> R {
    let (vendor, us) = (keys()?, keys()?);
    let now = now_ms()?;
    let req = request(now);
    let body = sign_bind(&req, &vendor.private, now)?;
    let n = verify_bind(&body, &vendor.public, now)?;
    assert_eq!(n.request, req);
    assert_eq!(n.usable_until, now + NOTIFICATION_SKEW);
    assert!(matches!(
        verify_bind(&body, &us.public, now),
        Err(BindError::Signature(_))
    ));
    let tampered = body.replacen("bindRequest=", "bindRequest=A", 1);
    assert!(verify_bind(&tampered, &vendor.public, now).is_err());

    // Forwarded: our key, and stamped when we forward it, not when the vendor signed it.
    let later = now + Duration::seconds(90);
    let forwarded = verify_bind(&sign_bind(&req, &us.private, later)?, &us.public, later)?;
    assert_eq!(forwarded.request.timestamp, later.timestamp_millis());
    assert_eq!(forwarded.request.x_user_id, req.x_user_id);
    assert_ne!(forwarded.digest, n.digest);
    Ok(())
}

#[test]
fn a_notification_is_refused_outside_the_window_either_side() -> R {
    let vendor = keys()?;
    let now = now_ms()?;
    let body = sign_bind(&request(now), &vendor.private, now)?;
    let edge = NOTIFICATION_SKEW;
    assert!(verify_bind(&body, &vendor.public, now + edge).is_ok());
    assert!(verify_bind(&body, &vendor.public, now - edge).is_ok());
    let late = edge + Duration::milliseconds(1);
    assert_eq!(
        verify_bind(&body, &vendor.public, now + late),
        Err(BindError::Stale)
    );
    assert_eq!(
        verify_bind(&body, &vendor.public, now - late),
        Err(BindError::Stale)
    );
    Ok(())
}

#[test]
fn the_same_content_has_the_same_single_use_key() -> R {
    let vendor = keys()?;
    let now = now_ms()?;
    let body = sign_bind(&request(now), &vendor.private, now)?;
    let (a, b) = (
        verify_bind(&body, &vendor.public, now)?,
        verify_bind(&body, &vendor.public, now + Duration::seconds(1))?,
    );
    assert_eq!(a.digest, b.digest);
    // Another notification a millisecond later is another one.
    let next = now + Duration::milliseconds(1);
    let other = sign_bind(&request(now), &vendor.private, next)?;
    assert_ne!(verify_bind(&other, &vendor.public, now)?.digest, a.digest);
    Ok(())
}

#[test]
fn a_notification_without_a_timestamp_is_refused() -> R {
    let vendor = keys()?;
    let json = r#"{"domainName":"acme","domainId":"c","xUserId":"res-1:a","bindAction":"bind"}"#;
    let value = base64::engine::general_purpose::STANDARD.encode(json);
    let body = redirect::sign_value("bindRequest", &value, None, &vendor.private)?;
    assert_eq!(
        verify_bind(&body, &vendor.public, Utc::now()),
        Err(BindError::Shape)
    );
    Ok(())
}
