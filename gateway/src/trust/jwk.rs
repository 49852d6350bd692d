//! JWK helpers: the public JWK of a P-256 key and RFC 7638 thumbprints (our key ids).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{ES256, TrustError};

/// Length of one P-256 coordinate in bytes.
const P256_COORD_LEN: usize = 32;

/// The public part of a P-256 key as JWK coordinates (base64url, no padding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EcP256PublicJwk {
    pub(crate) x: String,
    pub(crate) y: String,
}

impl EcP256PublicJwk {
    /// From an uncompressed SEC1 point `0x04 || x || y`, as aws-lc-rs returns public keys.
    pub(crate) fn from_uncompressed_point(point: &[u8]) -> Result<Self, TrustError> {
        match point {
            [0x04, rest @ ..] if rest.len() == 2 * P256_COORD_LEN => {
                let (x, y) = rest.split_at(P256_COORD_LEN);
                Ok(Self {
                    x: URL_SAFE_NO_PAD.encode(x),
                    y: URL_SAFE_NO_PAD.encode(y),
                })
            }
            _ => Err(TrustError::Crypto(format!(
                "not an uncompressed p-256 point ({} bytes)",
                point.len()
            ))),
        }
    }

    /// RFC 7638 thumbprint, our `kid`.
    pub(crate) fn thumbprint(&self) -> String {
        ec_p256_thumbprint(&self.x, &self.y)
    }

    /// The JWKS entry: `kty`, `crv`, `x`, `y`, `kid`, `alg`, `use`.
    pub(crate) fn to_jwk(&self, kid: &str) -> Value {
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": self.x,
            "y": self.y,
            "kid": kid,
            "alg": ES256,
            "use": "sig",
        })
    }
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url) of a P-256 public key given by its base64url
/// coordinates: the hash of `{"crv":"P-256","kty":"EC","x":…,"y":…}` with no whitespace.
pub fn ec_p256_thumbprint(x: &str, y: &str) -> String {
    // Members in lexicographic order, as RFC 7638 §3.2 requires; base64url needs no JSON escaping.
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// RFC 7638 JWK thumbprint (SHA-256, base64url) of any public JWK of type `EC`, `RSA`, `OKP` or
/// `oct`: only the required members of its `kty` count, in lexicographic order.
pub fn jwk_thumbprint(jwk: &Map<String, Value>) -> Result<String, TrustError> {
    let kty = jwk
        .get("kty")
        .and_then(Value::as_str)
        .ok_or_else(|| TrustError::InvalidJwk("missing kty".into()))?;
    // Already in lexicographic order.
    let required: &[&str] = match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        "oct" => &["k", "kty"],
        other => return Err(TrustError::InvalidJwk(format!("unsupported kty {other:?}"))),
    };
    let mut canonical = Map::new();
    for &name in required {
        let value = jwk
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| TrustError::InvalidJwk(format!("{kty} key without string {name:?}")))?;
        canonical.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    // `Map` keeps insertion order (preserve_order) and the names went in sorted; serde_json
    // writes no whitespace and escapes strings the way RFC 7638 expects (RFC 7159 minimal).
    let bytes =
        serde_json::to_vec(&canonical).map_err(|e| TrustError::InvalidJwk(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(&bytes)))
}

/// `jwks` (`{"keys":[…]}`) without the keys whose `kid` `drop` names; entries without a string
/// `kid` stay. How a running gateway stops publishing a key revoked after its JWKS was built.
pub fn jwks_without(jwks: &Value, drop: impl Fn(&str) -> bool) -> Value {
    let mut jwks = jwks.clone();
    if let Some(Value::Array(keys)) = jwks.get_mut("keys") {
        keys.retain(|key| !key.get("kid").and_then(Value::as_str).is_some_and(&drop));
    }
    jwks
}

/// Whether `s` looks like one of our key ids: a base64url SHA-256 thumbprint (43 characters).
/// Used before a kid ever becomes part of a file name.
pub(crate) fn is_thumbprint_shaped(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the RSA example key and its thumbprint.
    #[test]
    fn thumbprint_matches_rfc7638_example() {
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let tp = jwk_thumbprint(jwk.as_object().unwrap()).unwrap();
        assert_eq!(tp, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    /// The P-256 key of RFC 7515 Appendix A.3. Expected value computed independently with
    /// `printf '{"crv":"P-256","kty":"EC","x":"…","y":"…"}' | openssl dgst -sha256 -binary | basenc --base64url`.
    #[test]
    fn ec_thumbprint_known_vector_and_generic_path_agree() {
        let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
        let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
        let expected = "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U";
        assert_eq!(ec_p256_thumbprint(x, y), expected);
        // Member order in the input and optional members must not matter.
        let jwk =
            json!({"y": y, "use": "sig", "x": x, "kid": "whatever", "kty": "EC", "crv": "P-256"});
        assert_eq!(jwk_thumbprint(jwk.as_object().unwrap()).unwrap(), expected);
    }

    #[test]
    fn thumbprint_refuses_incomplete_or_unknown_keys() {
        let no_y = json!({"kty": "EC", "crv": "P-256", "x": "abc"});
        assert!(jwk_thumbprint(no_y.as_object().unwrap()).is_err());
        let unknown = json!({"kty": "XYZ"});
        assert!(jwk_thumbprint(unknown.as_object().unwrap()).is_err());
    }

    #[test]
    fn jwks_without_drops_only_the_named_keys() {
        let jwks = json!({"keys": [{"kid": "a", "kty": "EC"}, {"kid": "b"}, {"kty": "RSA"}]});
        let without = jwks_without(&jwks, |kid| kid == "a");
        assert_eq!(without, json!({"keys": [{"kid": "b"}, {"kty": "RSA"}]}));
        assert_eq!(jwks_without(&jwks, |_| false), jwks);
    }

    #[test]
    fn kid_shape_check_refuses_path_like_values() {
        assert!(is_thumbprint_shaped(
            "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U"
        ));
        assert!(!is_thumbprint_shaped("../../etc/passwd"));
        assert!(!is_thumbprint_shaped(
            "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19EC/-U"
        ));
    }
}
