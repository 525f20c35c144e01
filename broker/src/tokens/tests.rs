use super::*;
use serde_json::json;

fn issuer() -> Result<Issuer, TokenError> {
    Issuer::new(
        "https://tiergate.example",
        "tiergate-api",
        Duration::from_secs(300),
        &generate_key()?,
    )
}

#[test]
fn a_token_verifies_and_says_who() -> Result<(), TokenError> {
    let i = issuer()?;
    let t = i.issue("AK1", "auditor", "dist-1", Some("unmasked"))?;
    let c = i.verify(&t)?;
    assert_eq!(
        (c.sub.as_str(), c.tier.as_str(), c.role.as_deref()),
        ("AK1", "auditor", Some("unmasked"))
    );
    assert_eq!(c.exp - c.iat, 300);
    Ok(())
}

#[test]
fn rotation_keeps_old_tokens_valid_and_signs_with_the_new_key() -> Result<(), TokenError> {
    let mut i = issuer()?;
    let old = i.issue("AK1", "auditor", "dist-1", None)?;
    i.rotate(&generate_key()?)?;
    let new = i.issue("AK1", "auditor", "dist-1", None)?;
    assert!(
        i.verify(&old).is_ok(),
        "no downtime: the retired key still verifies"
    );
    assert!(i.verify(&new).is_ok());
    let kid = |t: &str| decode_header(t).ok().and_then(|h| h.kid);
    assert_ne!(kid(&old), kid(&new));
    assert_eq!(i.jwks().keys.len(), 2);
    Ok(())
}

#[test]
fn the_algorithm_comes_from_the_key_not_the_token() -> Result<(), TokenError> {
    let i = issuer()?;
    let t = i.issue("AK1", "auditor", "dist-1", None)?;
    let parts: Vec<&str> = t.split('.').collect();
    let kid = decode_header(&t)
        .ok()
        .and_then(|h| h.kid)
        .unwrap_or_default();
    // alg none, with the right kid and no signature.
    let none = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": kid}).to_string());
    assert!(i.verify(&format!("{none}.{}.", parts[1])).is_err());
    // HS256 keyed with the public key (the classic confusion).
    let x = i
        .jwks()
        .keys
        .first()
        .map(|k| k.x.clone())
        .unwrap_or_default();
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some(kid);
    let claims: Claims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap_or_default())
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
    let forged = encode(&h, &claims, &EncodingKey::from_secret(x.as_bytes()))
        .map_err(|e| TokenError::Key(e.to_string()))?;
    assert!(i.verify(&forged).is_err());
    // A tampered payload, and a key this issuer never had.
    let tampered = format!("{}.{}x.{}", parts[0], parts[1], parts[2]);
    assert!(i.verify(&tampered).is_err());
    let other = issuer()?.issue("AK1", "auditor", "dist-1", None)?;
    assert_eq!(i.verify(&other), Err(TokenError::UnknownKey));
    Ok(())
}

#[test]
fn a_configured_issuer_publishes_its_previous_keys_and_signs_with_the_new_one()
-> Result<(), TokenError> {
    let (old_key, new_key) = (generate_key()?, generate_key()?);
    let old = Issuer::new(
        "tiergate",
        "tiergate-admin",
        Duration::from_secs(60),
        &old_key,
    )?;
    let before = old.issue("AK1", "auditor", "dist-1", None)?;
    let i = Issuer::rotated(
        "tiergate",
        "tiergate-admin",
        Duration::from_secs(60),
        &new_key,
        &[&old_key],
    )?;
    assert!(i.verify(&before).is_ok(), "a token of the previous key");
    let (after, claims) = i.issue_with_claims("AK1", "auditor", "dist-1", None)?;
    assert_eq!(i.verify(&after)?, claims);
    let kid = |t: &str| decode_header(t).ok().and_then(|h| h.kid);
    assert_ne!(kid(&before), kid(&after));
    assert_eq!(i.jwks().keys.len(), 2);
    Ok(())
}
