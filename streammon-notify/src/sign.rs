//! Webhook signatures: HMAC-SHA256 over `"<t>.<body>"`, Stripe's scheme.
//!
//! A signed request carries
//!
//! ```text
//! Streammon-Signature: t=1733300000,v1=5f2b…(64 hex digits)
//! ```
//!
//! where `t` is the Unix time of the attempt in seconds and `v1` the
//! lowercase hex HMAC-SHA256, keyed by the webhook's secret, of the bytes
//! `t`, `.` and the raw body. A receiver recomputes it over the body as
//! received, compares in constant time, and refuses a `t` too far from
//! its clock (replays). In Python:
//!
//! ```text
//! t, v1 = (p.split("=", 1)[1] for p in header.split(","))
//! mac = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
//! ok = hmac.compare_digest(mac, v1) and abs(time.time() - int(t)) < 300
//! ```

use ring::hmac;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Streammon-Signature";

fn key(secret: &[u8]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The value of [`SIGNATURE_HEADER`] for `body` sent at `t_s` (Unix
/// seconds).
///
/// ```
/// use streammon_notify::{sign, verify_signature};
/// let header = sign(b"a-secret-of-16-bytes", 1_700_000_000, br#"{"id":"x"}"#);
/// assert!(header.starts_with("t=1700000000,v1="));
/// assert!(verify_signature(b"a-secret-of-16-bytes", &header, br#"{"id":"x"}"#, 1_700_000_010, 300));
/// ```
pub fn sign(secret: &[u8], t_s: i64, body: &[u8]) -> String {
    let mut ctx = hmac::Context::with_key(&key(secret));
    ctx.update(t_s.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("t={t_s},v1={}", hex(ctx.sign().as_ref()))
}

/// Whether `header` (a [`SIGNATURE_HEADER`] value) signs `body` with
/// `secret`, at a time within `tolerance_s` seconds of `now_s`. The MAC is
/// compared in constant time.
pub fn verify_signature(secret: &[u8], header: &str, body: &[u8], now_s: i64, tolerance_s: i64) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = unhex(v),
            _ => {}
        }
    }
    let (Some(t), Some(mac)) = (t, v1) else { return false };
    if now_s.abs_diff(t) > tolerance_s.unsigned_abs() {
        return false;
    }
    let mut signed = Vec::with_capacity(body.len() + 12);
    signed.extend_from_slice(t.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(body);
    hmac::verify(&key(secret), &signed, &mac).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec-0123456789abcdef";

    #[test]
    fn a_signature_verifies_and_nothing_else_does() {
        let body = br#"{"id":"alrt-000001.fired.1","type":"alert.fired"}"#;
        let h = sign(SECRET, 1_000, body);
        assert!(verify_signature(SECRET, &h, body, 1_000, 300));
        assert!(verify_signature(SECRET, &h, body, 1_299, 300));
        assert!(!verify_signature(SECRET, &h, body, 1_301, 300), "too old: a replay");
        assert!(!verify_signature(b"another-secret-0123", &h, body, 1_000, 300), "wrong secret");
        assert!(!verify_signature(SECRET, &h, br#"{"id":"alrt-000002.fired.1","type":"alert.fired"}"#, 1_000, 300));
        assert!(!verify_signature(SECRET, &h.replace("t=1000", "t=1001"), body, 1_000, 300), "the time is signed");
        for junk in ["", "t=1000", "v1=00", "t=x,v1=zz", "t=1000,v1=abc"] {
            assert!(!verify_signature(SECRET, junk, body, 1_000, 300), "{junk}");
        }
    }

    #[test]
    fn the_mac_is_hmac_sha256_of_time_dot_body() {
        // RFC 4231, test case 2: the primitive is HMAC-SHA256 ...
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        let tag = hmac::sign(&key, b"what do ya want for nothing?");
        assert_eq!(hex(tag.as_ref()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // ... and the signature is it over `t`, `.` and the body.
        let h = sign(b"Jefe", 42, b"x");
        let whole = hmac::sign(&key, b"42.x");
        assert_eq!(h, format!("t=42,v1={}", hex(whole.as_ref())));
    }
}
