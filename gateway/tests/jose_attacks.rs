//! RFC 8725 attacks on `POST /api/v1/verify` and on `JwsVerifier` directly, one test each: every
//! forged or misused token is refused with a specific `VerifyError` and a 422 problem naming why.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::TestGateway;
use dpp_gateway::trust::{
    AwsLcEs256Signer, JwsVerifier, KeyStore, PassportSigner, VerifyError, VerifyOptions,
};
use josekit::jws::JwsSigner as _;
use reqwest::Method;
use serde_json::{Value, json};

const PASSPORT: &[u8] = br#"{"id":"urn:uuid:0193aa52-1000-7000-8000-000000000103","polymer":"PP"}"#;

/// A gateway and, read from its data dir, the key it signs with.
struct Victim {
    gw: TestGateway,
    signer: AwsLcEs256Signer,
    passports: PassportSigner,
    verifier: JwsVerifier,
}

impl Victim {
    async fn start() -> Victim {
        let mut data_dir = std::path::PathBuf::new();
        let gw = TestGateway::start_with(|c| data_dir = c.data_dir.clone()).await;
        let keys = KeyStore::open(&data_dir).unwrap();
        Victim {
            gw,
            signer: keys.signer().jws_signer().clone(),
            passports: keys.signer(),
            verifier: keys.verifier(),
        }
    }

    fn kid(&self) -> String {
        self.signer.kid().to_owned()
    }

    /// POSTs `token` to /verify (with `query`), returns status and body.
    async fn post(&self, token: &str, query: &str) -> (u16, Value, String) {
        let response = self
            .gw
            .reader(Method::POST, &format!("/api/v1/verify{query}"))
            .header("content-type", "application/jose")
            .body(token.to_owned())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        (status, response.json().await.unwrap(), content_type)
    }

    /// Asserts /verify refuses `token` with a 422 problem whose detail contains `reason`.
    async fn refused(&self, token: &str, query: &str, reason: &str) {
        let (status, body, content_type) = self.post(token, query).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(content_type, "application/problem+json");
        assert_eq!(
            body["type"],
            "https://dpp-gateway.dev/problems/invalid-signature"
        );
        let detail = body["detail"].as_str().unwrap();
        assert!(
            detail.contains(reason),
            "{detail:?} does not name {reason:?}"
        );
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with any header, signed validly over its own signing input by `signer`.
fn signed(header: &Value, payload: &[u8], signer: &AwsLcEs256Signer) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload));
    let signature = signer.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&signature))
}

fn hs256(header: &Value, payload: &[u8], secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Our public key as SubjectPublicKeyInfo DER (RFC 5480), from the published JWK.
fn public_key_der(jwk: &Value) -> Vec<u8> {
    let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let mut der = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
    der.push(0x04);
    der.extend(coordinate("x"));
    der.extend(coordinate("y"));
    der
}

#[tokio::test]
async fn alg_none_is_refused() {
    let v = Victim::start().await;
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "kid": v.kid()});
        let token = format!("{}.{}.", b64(header.to_string().as_bytes()), b64(PASSPORT));
        let err = v.verifier.verify(&token).unwrap_err();
        assert!(
            matches!(&err, VerifyError::AlgorithmNotAllowed(a) if a == alg),
            "{err}"
        );
        v.refused(&token, "", &format!("{alg:?} is not accepted"))
            .await;
    }
}

#[tokio::test]
async fn hs256_keyed_with_our_public_key_is_refused_in_every_encoding() {
    let v = Victim::start().await;
    let jwk = v.signer.public_jwk();
    let der = public_key_der(&jwk);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(&der)
    );
    let header = json!({"alg": "HS256", "kid": v.kid(), "typ": "JWT"});
    for (form, secret) in [
        ("jwk", jwk.to_string().into_bytes()),
        ("pem", pem.into_bytes()),
        ("der", der),
    ] {
        let token = hs256(&header, PASSPORT, &secret);
        let err = v.verifier.verify(&token).unwrap_err();
        assert!(
            matches!(&err, VerifyError::AlgorithmNotAllowed(a) if a == "HS256"),
            "{form}: {err}"
        );
        v.refused(&token, "", "\"HS256\" is not accepted").await;
    }
}

#[tokio::test]
async fn an_algorithm_the_key_is_not_for_is_refused() {
    let v = Victim::start().await;
    // Signed with our EC key (ES256 bytes) but labelled as something else.
    for alg in ["ES384", "ES512", "RS256", "PS256", "EdDSA"] {
        let token = signed(&json!({"alg": alg, "kid": v.kid()}), PASSPORT, &v.signer);
        let err = v.verifier.verify(&token).unwrap_err();
        assert!(
            matches!(&err, VerifyError::AlgorithmNotAllowed(a) if a == alg),
            "{err}"
        );
        v.refused(&token, "", &format!("{alg:?} is not accepted, only ES256"))
            .await;
    }
}

#[tokio::test]
async fn kid_with_path_or_sql_characters_is_an_unknown_key() {
    let v = Victim::start().await;
    for kid in [
        "../../keys/x",
        "../../../../etc/passwd",
        "' OR 1=1 --",
        "x\"; DROP TABLE keys; --",
        "%2e%2e%2fkeys",
    ] {
        let token = signed(&json!({"alg": "ES256", "kid": kid}), PASSPORT, &v.signer);
        let err = v.verifier.verify(&token).unwrap_err();
        assert!(
            matches!(&err, VerifyError::UnknownKid(k) if k == kid),
            "{err}"
        );
        v.refused(&token, "", "is not a trusted key").await;
    }
}

#[tokio::test]
async fn keys_offered_by_the_token_are_never_used() {
    let v = Victim::start().await;
    let (attacker, _) = AwsLcEs256Signer::generate().unwrap();
    let cases = [
        ("jwk", attacker.public_jwk()),
        (
            "jku",
            json!("https://attacker.example/.well-known/jwks.json"),
        ),
        (
            "x5u",
            json!("http://169.254.169.254/latest/meta-data/cert.pem"),
        ),
        (
            "x5c",
            json!([STANDARD.encode(public_key_der(&attacker.public_jwk()))]),
        ),
    ];
    for (name, value) in cases {
        // Under the attacker's kid and under ours: neither makes the embedded key count.
        for kid in [attacker.kid().to_owned(), v.kid()] {
            let mut header = json!({"alg": "ES256", "kid": kid});
            header[name] = value.clone();
            let token = signed(&header, PASSPORT, &attacker);
            let err = v.verifier.verify(&token).unwrap_err();
            assert!(
                matches!(&err, VerifyError::KeyInHeader(n) if n == name),
                "{name}: {err}"
            );
            v.refused(&token, "", &format!("{name:?} is not accepted"))
                .await;
        }
    }
    // Without the header the attacker's token is just an unknown key, or a bad signature.
    let bare = signed(
        &json!({"alg": "ES256", "kid": v.kid()}),
        PASSPORT,
        &attacker,
    );
    assert!(matches!(
        v.verifier.verify(&bare),
        Err(VerifyError::BadSignature { .. })
    ));
}

#[tokio::test]
async fn unknown_crit_is_refused() {
    let v = Victim::start().await;
    let header = json!({"alg": "ES256", "kid": v.kid(), "crit": ["urn:example:must-understand"], "urn:example:must-understand": true});
    let token = signed(&header, PASSPORT, &v.signer);
    let err = v.verifier.verify(&token).unwrap_err();
    assert!(
        matches!(&err, VerifyError::UnsupportedCritical(c) if c == &["urn:example:must-understand"]),
        "{err}"
    );
    v.refused(&token, "", "critical header parameters").await;
}

#[tokio::test]
async fn unencoded_payload_is_refused() {
    let v = Victim::start().await;
    // RFC 7797 done "properly" (payload as is, b64 in crit), and b64:false without crit.
    for header in [
        json!({"alg": "ES256", "kid": v.kid(), "b64": false, "crit": ["b64"]}),
        json!({"alg": "ES256", "kid": v.kid(), "b64": false}),
    ] {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            "{\"polymer\":\"PP\"}"
        );
        let token = format!("{input}.{}", b64(&v.signer.sign(input.as_bytes()).unwrap()));
        let err = v.verifier.verify(&token).unwrap_err();
        assert!(
            matches!(&err, VerifyError::UnencodedPayload(b) if b == "false"),
            "{err}"
        );
        v.refused(&token, "", "unencoded payload").await;
    }
}

fn jwt(v: &Victim, claims: Value) -> String {
    signed(
        &json!({"alg": "ES256", "kid": v.kid(), "typ": "JWT"}),
        claims.to_string().as_bytes(),
        &v.signer,
    )
}

#[tokio::test]
async fn expired_jwt_is_refused() {
    let v = Victim::start().await;
    let token = jwt(&v, json!({"iss": "did:web:a.example", "exp": now() - 3600}));
    assert!(matches!(
        v.verifier.verify(&token),
        Err(VerifyError::Expired { .. })
    ));
    v.refused(&token, "", "token expired").await;
    // Within the leeway it still counts.
    let fresh = jwt(&v, json!({"exp": now() - 10}));
    assert_eq!(v.post(&fresh, "").await.0, 200);
}

#[tokio::test]
async fn not_yet_valid_jwt_is_refused() {
    let v = Victim::start().await;
    let token = jwt(&v, json!({"nbf": now() + 3600, "exp": now() + 7200}));
    assert!(matches!(
        v.verifier.verify(&token),
        Err(VerifyError::NotYetValid { .. })
    ));
    v.refused(&token, "", "not valid before").await;
    let from_the_future = jwt(&v, json!({"iat": now() + 3600}));
    assert!(matches!(
        v.verifier.verify(&from_the_future),
        Err(VerifyError::IssuedInFuture { .. })
    ));
    v.refused(&from_the_future, "", "issued in the future")
        .await;
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let v = Victim::start().await;
    let token = jwt(
        &v,
        json!({"aud": "did:web:someone-else.example", "exp": now() + 600}),
    );
    let options = VerifyOptions {
        expected_aud: Some("did:web:gw.example".into()),
        ..VerifyOptions::default()
    };
    assert!(matches!(
        v.verifier.verify_with(&token, &options),
        Err(VerifyError::WrongAudience { .. })
    ));
    v.refused(
        &token,
        "?aud=did:web:gw.example",
        "does not name \"did:web:gw.example\"",
    )
    .await;
    // A token with an audience, verified by a caller that names none, is not for that caller.
    v.refused(&token, "", "no audience expected").await;
    // Named correctly it verifies, so the refusals above are about the audience.
    let ours = jwt(
        &v,
        json!({"aud": ["x", "did:web:gw.example"], "exp": now() + 600}),
    );
    assert_eq!(v.post(&ours, "?aud=did:web:gw.example").await.0, 200);
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let v = Victim::start().await;
    let token = jwt(
        &v,
        json!({"iss": "did:web:mallory.example", "exp": now() + 600}),
    );
    let options = VerifyOptions {
        expected_iss: Some("did:web:partner.example".into()),
        ..VerifyOptions::default()
    };
    assert!(matches!(
        v.verifier.verify_with(&token, &options),
        Err(VerifyError::WrongIssuer { got, .. }) if got == "did:web:mallory.example"
    ));
    v.refused(&token, "?iss=did:web:partner.example", "not the expected")
        .await;
    let no_iss = jwt(&v, json!({"exp": now() + 600}));
    v.refused(&no_iss, "?iss=did:web:partner.example", "no iss claim")
        .await;
    let good = jwt(
        &v,
        json!({"iss": "did:web:partner.example", "exp": now() + 600}),
    );
    assert_eq!(v.post(&good, "?iss=did:web:partner.example").await.0, 200);
}

#[tokio::test]
async fn our_passport_jws_has_no_claims_and_still_verifies() {
    let v = Victim::start().await;
    let jws = v.passports.sign_compact(PASSPORT, "dpp+jws").unwrap();
    assert!(v.verifier.verify(&jws).is_ok());
    assert_eq!(v.post(&jws, "").await.0, 200);
    // Twice: no jti, nothing to replay.
    assert_eq!(v.post(&jws, "").await.0, 200);
    // A caller who insists on exp gets a refusal naming it.
    let strict = VerifyOptions {
        require_exp: true,
        ..VerifyOptions::default()
    };
    assert!(matches!(
        v.verifier.verify_with(&jws, &strict),
        Err(VerifyError::MissingClaim("exp"))
    ));
    v.refused(&jws, "?requireExp=true", "no exp claim").await;
}

#[tokio::test]
async fn replayed_jti_is_refused() {
    let v = Victim::start().await;
    let token = jwt(&v, json!({"jti": "b7c1-0001", "exp": now() + 300}));
    let (status, body, _) = v.post(&token, "").await;
    assert_eq!(status, 200, "{body}");
    v.refused(&token, "", "\"b7c1-0001\" was already used")
        .await;
    // A fresh jti passes; the replay cache is per token id, not global.
    let other = jwt(&v, json!({"jti": "b7c1-0002", "exp": now() + 300}));
    assert_eq!(v.post(&other, "").await.0, 200);
    // Directly on a verifier: first use fine, second refused.
    let direct = jwt(&v, json!({"jti": "direct-1", "exp": now() + 300}));
    assert!(v.verifier.verify(&direct).is_ok());
    assert!(matches!(
        v.verifier.verify(&direct),
        Err(VerifyError::Replayed { jti }) if jti == "direct-1"
    ));
}

#[tokio::test]
async fn signature_over_different_bytes_is_refused() {
    let v = Victim::start().await;
    let signer = &v.passports;
    let a = signer.sign_compact(PASSPORT, "dpp+jws").unwrap();
    let b = signer
        .sign_compact(
            br#"{"id":"urn:uuid:0193aa52-1000-7000-8000-000000000103","polymer":"PE"}"#,
            "dpp+jws",
        )
        .unwrap();
    assert_eq!(v.post(&a, "").await.0, 200);
    assert_eq!(v.post(&b, "").await.0, 200);
    let parts_a: Vec<&str> = a.split('.').collect();
    let parts_b: Vec<&str> = b.split('.').collect();
    // A's header and signature over B's payload, and the other way round.
    for swapped in [
        format!("{}.{}.{}", parts_a[0], parts_b[1], parts_a[2]),
        format!("{}.{}.{}", parts_b[0], parts_a[1], parts_b[2]),
        format!("{}.{}.{}", parts_a[0], parts_a[1], parts_b[2]),
    ] {
        let err = v.verifier.verify(&swapped).unwrap_err();
        assert!(
            matches!(&err, VerifyError::BadSignature { kid } if *kid == v.kid()),
            "{err}"
        );
        v.refused(&swapped, "", "signature does not verify").await;
    }
}

#[tokio::test]
async fn jwt_claims_of_the_wrong_shape_are_refused() {
    let v = Victim::start().await;
    for (claims, reason) in [
        (b"[1,2,3]".to_vec(), "not a json object"),
        (
            br#"{"exp":"tomorrow"}"#.to_vec(),
            "exp must be a NumericDate",
        ),
        (
            br#"{"exp":1,"exp":99999999999}"#.to_vec(),
            "duplicate member",
        ),
        (br#"{"jti":7}"#.to_vec(), "jti must be"),
        (br#"{"aud":{"x":1}}"#.to_vec(), "aud must be"),
    ] {
        let token = signed(
            &json!({"alg": "ES256", "kid": v.kid(), "typ": "at+jwt"}),
            &claims,
            &v.signer,
        );
        assert!(matches!(
            v.verifier.verify(&token),
            Err(VerifyError::InvalidClaim(_))
        ));
        v.refused(&token, "", reason).await;
    }
    // An unknown query parameter to /verify is a 400, not silently ignored.
    let token = jwt(&v, json!({"exp": now() + 60}));
    let (status, body, _) = v.post(&token, "?audience=x").await;
    assert_eq!(status, 400, "{body}");
}

// ---- Issue 9, item 14: malleable ECDSA signatures, claims whatever the `typ`, replay horizon ----

/// Half the order of P-256, rounded down: a canonical ES256 signature has `s <= N_HALF`.
const N_HALF: &str = "7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8";
/// The order n of P-256.
const N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

/// The `s` half of a compact ES256 JWS's signature.
fn s_of(token: &str) -> Vec<u8> {
    let signature = URL_SAFE_NO_PAD
        .decode(token.rsplit('.').next().unwrap())
        .unwrap();
    signature[32..].to_vec()
}

fn is_high_s(s: &[u8]) -> bool {
    s > hex::decode(N_HALF).unwrap().as_slice()
}

/// The other valid signature over the same input: `(r, n - s)`, which anyone can compute
/// from a signature without the key (ECDSA malleability).
fn malleated(token: &str) -> String {
    let (input, signature) = token.rsplit_once('.').unwrap();
    let mut signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let n = hex::decode(N).unwrap();
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut digit = i16::from(n[i]) - i16::from(signature[32 + i]) - borrow;
        borrow = i16::from(digit < 0);
        if digit < 0 {
            digit += 256;
        }
        signature[32 + i] = digit as u8;
    }
    assert_eq!(borrow, 0);
    format!("{input}.{}", b64(&signature))
}

#[tokio::test]
async fn the_high_s_twin_of_a_valid_signature_is_refused() {
    let v = Victim::start().await;
    for payload in [
        PASSPORT,
        br#"{"id":"urn:uuid:0193aa52-1000-7000-8000-000000000104"}"#,
    ] {
        let genuine = v.passports.sign_compact(payload, "dpp+jws").unwrap();
        let twin = malleated(&genuine);
        assert_ne!(twin, genuine);
        // Exactly one of the two is high-S; that one is refused, naming why.
        let (low, high) = if is_high_s(&s_of(&genuine)) {
            (twin, genuine)
        } else {
            (genuine, twin)
        };
        assert!(!is_high_s(&s_of(&low)) && is_high_s(&s_of(&high)));
        assert!(v.verifier.verify(&low).is_ok());
        assert_eq!(v.post(&low, "").await.0, 200);
        assert!(
            v.verifier.verify(&high).is_err(),
            "a high-s signature verified"
        );
        v.refused(&high, "", "not canonical").await;
    }
}

#[tokio::test]
async fn every_signature_we_make_is_low_s_and_verifies() {
    let v = Victim::start().await;
    // With a random S, 256 signatures are all low-S by chance with probability 2^-256.
    for n in 0..256 {
        let payload = format!(r#"{{"id":"urn:uuid:0193aa52-1000-7000-8000-{n:012}"}}"#);
        let jws = v
            .passports
            .sign_compact(payload.as_bytes(), "dpp+jws")
            .unwrap();
        assert!(!is_high_s(&s_of(&jws)), "signature {n} is high-s: {jws}");
        let verified = v.verifier.verify(&jws).unwrap();
        assert_eq!(verified.payload, payload.as_bytes());
        // The raw josekit signer (JWTs, VC-JWTs) normalises too.
        let token = signed(
            &json!({"alg": "ES256", "kid": v.kid(), "typ": "JWT"}),
            payload.as_bytes(),
            &v.signer,
        );
        assert!(!is_high_s(&s_of(&token)), "jwt signature {n} is high-s");
    }
}

#[tokio::test]
async fn claims_are_checked_whatever_the_typ() {
    let v = Victim::start().await;
    // A JWT needs no `typ` (RFC 7519 §5.1); leaving it out, or naming another type, must not skip
    // the claims.
    let headers = [
        json!({"alg": "ES256", "kid": v.kid()}),
        json!({"alg": "ES256", "kid": v.kid(), "typ": "dpp+jws"}),
        json!({"alg": "ES256", "kid": v.kid(), "typ": "application/json"}),
    ];
    for (i, header) in headers.iter().enumerate() {
        let expired = signed(
            header,
            json!({"exp": now() - 3600}).to_string().as_bytes(),
            &v.signer,
        );
        assert!(matches!(
            v.verifier.verify(&expired),
            Err(VerifyError::Expired { .. })
        ));
        v.refused(&expired, "", "token expired").await;

        let early = signed(
            header,
            json!({"nbf": now() + 3600, "exp": now() + 7200})
                .to_string()
                .as_bytes(),
            &v.signer,
        );
        v.refused(&early, "", "not valid before").await;

        let once = signed(
            header,
            json!({"jti": format!("untyped-{i}"), "exp": now() + 300})
                .to_string()
                .as_bytes(),
            &v.signer,
        );
        assert_eq!(v.post(&once, "").await.0, 200);
        v.refused(&once, "", "was already used").await;

        let for_someone_else = signed(
            header,
            json!({"aud": "did:web:other.example", "exp": now() + 300})
                .to_string()
                .as_bytes(),
            &v.signer,
        );
        v.refused(&for_someone_else, "", "no audience expected")
            .await;
    }
    // A payload that is not a JSON object carries no claims: nothing to check without a JWT typ.
    let opaque = signed(
        &json!({"alg": "ES256", "kid": v.kid()}),
        b"plain bytes",
        &v.signer,
    );
    assert_eq!(v.post(&opaque, "").await.0, 200);
}

#[tokio::test]
async fn a_jti_is_only_accepted_with_an_exp_the_replay_memory_covers() {
    let v = Victim::start().await;
    let day = 24 * 3600;
    for (claims, reason) in [
        (json!({"jti": "no-exp-1"}), "has no exp"),
        (
            json!({"jti": "far-1", "exp": now() + 10 * 365 * day}),
            "ahead",
        ),
        (json!({"jti": "far-2", "exp": now() + day + 3600}), "ahead"),
        (json!({"jti": "huge-1", "exp": 1e20}), "ahead"),
    ] {
        let token = jwt(&v, claims.clone());
        v.refused(&token, "", "cannot be protected against replay")
            .await;
        v.refused(&token, "", reason).await;
        assert!(v.verifier.verify(&token).is_err(), "{claims}");
    }
    // Within the horizon it is accepted once.
    let near = jwt(&v, json!({"jti": "near-1", "exp": now() + day - 60}));
    assert_eq!(v.post(&near, "").await.0, 200);
    v.refused(&near, "", "was already used").await;
}

// ---- Issue 9, item 17: key states active / retired / revoked ----

/// A data dir whose key store has a retired key (with a passport it signed) and an active one.
struct RotatedKeys {
    dir: tempfile::TempDir,
    retired: String,
    active: String,
    /// Signed by the retired key while it was active.
    old_jws: String,
}

fn rotated_keys() -> RotatedKeys {
    let dir = tempfile::tempdir().unwrap();
    let mut keys = KeyStore::generate(dir.path()).unwrap();
    let retired = keys.signer().kid().to_owned();
    let old_jws = keys.signer().sign_compact(PASSPORT, "dpp+jws").unwrap();
    let active = keys.rotate().unwrap();
    RotatedKeys {
        dir,
        retired,
        active,
        old_jws,
    }
}

async fn start_on(dir: &std::path::Path) -> TestGateway {
    let dir = dir.to_owned();
    TestGateway::start_with(move |c| c.data_dir = dir).await
}

fn published_kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// The key ids (fragments) a DID document lists under `relation`.
fn did_kids(doc: &Value, relation: &str) -> Vec<String> {
    doc[relation]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let id = m.as_str().or_else(|| m["id"].as_str()).unwrap();
            id.rsplit_once('#').unwrap().1.to_owned()
        })
        .collect()
}

async fn public_json(gw: &TestGateway, path: &str) -> Value {
    gw.http
        .get(gw.url(path))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `GET /api/v1/keys` as `kid -> status`.
async fn key_states(gw: &TestGateway) -> Vec<(String, String)> {
    let listed = gw.read_json("/api/v1/keys").await;
    listed["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_owned(),
                k["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn verify_status(gw: &TestGateway, jws: &str) -> (u16, Value) {
    let response = gw
        .reader(Method::POST, "/api/v1/verify")
        .header("content-type", "application/jose")
        .body(jws.to_owned())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_revoked_key_verifies_nothing_at_once_and_leaves_the_published_documents() {
    let keys = rotated_keys();
    let gw = start_on(keys.dir.path()).await;

    // Retired: still verifies what it signed, still published, asserts but no longer authenticates.
    assert_eq!(verify_status(&gw, &keys.old_jws).await.0, 200);
    let jwks = public_json(&gw, "/.well-known/jwks.json").await;
    assert_eq!(
        published_kids(&jwks),
        [keys.active.clone(), keys.retired.clone()]
    );
    let did = public_json(&gw, "/.well-known/did.json").await;
    assert_eq!(did_kids(&did, "verificationMethod").len(), 2);
    assert_eq!(did_kids(&did, "assertionMethod").len(), 2);
    assert_eq!(did_kids(&did, "authentication"), [keys.active.as_str()]);
    assert_eq!(
        key_states(&gw).await,
        [
            (keys.retired.clone(), "retired".to_owned()),
            (keys.active.clone(), "active".to_owned())
        ]
    );

    // Revoking is for admins only.
    let path = format!("/api/v1/keys/{}/revoke", keys.retired);
    let by_reader = gw.reader(Method::POST, &path).send().await.unwrap();
    common::expect_problem(by_reader, 403).await;
    assert_eq!(verify_status(&gw, &keys.old_jws).await.0, 200);

    let revoked = gw.admin(Method::POST, &path).send().await.unwrap();
    assert_eq!(revoked.status(), 200);
    let revoked: Value = revoked.json().await.unwrap();
    assert_eq!(revoked["kid"], keys.retired.as_str());
    assert_eq!(revoked["status"], "revoked");

    // At once, in the running process: the old signature no longer verifies, and says why.
    let (status, problem) = verify_status(&gw, &keys.old_jws).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["type"],
        "https://dpp-gateway.dev/problems/invalid-signature"
    );
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("revoked") && detail.contains(&keys.retired),
        "{detail}"
    );
    // Gone from the JWKS and from every part of the DID document.
    let jwks = public_json(&gw, "/.well-known/jwks.json").await;
    assert_eq!(published_kids(&jwks), [keys.active.as_str()]);
    let did = public_json(&gw, "/.well-known/did.json").await;
    for relation in ["verificationMethod", "authentication", "assertionMethod"] {
        assert_eq!(
            did_kids(&did, relation),
            [keys.active.as_str()],
            "{relation}"
        );
    }
    assert_eq!(
        key_states(&gw).await,
        [
            (keys.retired.clone(), "revoked".to_owned()),
            (keys.active.clone(), "active".to_owned())
        ]
    );
    // What this running gateway does with each key.
    let listed = gw.read_json("/api/v1/keys").await;
    assert_eq!(listed["keys"][0]["verifying"], false, "{listed}");
    assert_eq!(listed["keys"][0]["signing"], false, "{listed}");
    assert!(listed["keys"][0]["revokedAt"].is_string(), "{listed}");
    assert_eq!(listed["keys"][1]["verifying"], true, "{listed}");
    assert_eq!(listed["keys"][1]["signing"], true, "{listed}");
    // The active key still signs and verifies.
    let fresh = KeyStore::open(keys.dir.path())
        .unwrap()
        .signer()
        .sign_compact(PASSPORT, "dpp+jws")
        .unwrap();
    assert_eq!(verify_status(&gw, &fresh).await.0, 200);
    // Its private key is gone from the data dir.
    assert!(
        !keys
            .dir
            .path()
            .join("keys")
            .join(format!("{}.pem", keys.retired))
            .exists()
    );
    // Who revoked it is in the audit log.
    let audit = gw
        .store
        .audit_entries(&format!("key:{}", keys.retired))
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].action, "key.revoke");
    assert!(audit[0].actor.starts_with("admin:"));

    // Revoking again changes nothing and says so.
    let again = gw.admin(Method::POST, &path).send().await.unwrap();
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn the_active_key_and_unknown_keys_cannot_be_revoked_through_the_api() {
    let keys = rotated_keys();
    let gw = start_on(keys.dir.path()).await;
    let active = gw
        .admin(
            Method::POST,
            &format!("/api/v1/keys/{}/revoke", keys.active),
        )
        .send()
        .await
        .unwrap();
    let problem = common::expect_problem(active, 409).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("rotate"),
        "{problem}"
    );
    let unknown = gw
        .admin(
            Method::POST,
            "/api/v1/keys/oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U/revoke",
        )
        .send()
        .await
        .unwrap();
    common::expect_problem(unknown, 404).await;
    // Nothing changed.
    assert_eq!(
        key_states(&gw).await,
        [
            (keys.retired.clone(), "retired".to_owned()),
            (keys.active.clone(), "active".to_owned())
        ]
    );
    assert_eq!(verify_status(&gw, &keys.old_jws).await.0, 200);
}

#[tokio::test]
async fn a_revoked_key_stays_revoked_after_a_restart() {
    let keys = rotated_keys();
    let first = start_on(keys.dir.path()).await;
    let revoked = first
        .admin(
            Method::POST,
            &format!("/api/v1/keys/{}/revoke", keys.retired),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    drop(first);

    let second = start_on(keys.dir.path()).await;
    let (status, problem) = verify_status(&second, &keys.old_jws).await;
    assert_eq!(status, 422, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("revoked"),
        "{problem}"
    );
    let jwks = public_json(&second, "/.well-known/jwks.json").await;
    assert_eq!(published_kids(&jwks), [keys.active.as_str()]);
    let did = public_json(&second, "/.well-known/did.json").await;
    assert_eq!(did_kids(&did, "verificationMethod"), [keys.active.as_str()]);
    assert_eq!(
        key_states(&second).await,
        [
            (keys.retired.clone(), "revoked".to_owned()),
            (keys.active.clone(), "active".to_owned())
        ]
    );
    // And for anyone opening the store, as `keys list` does.
    let reopened = KeyStore::open(keys.dir.path()).unwrap();
    assert!(reopened.verifier().verify(&keys.old_jws).is_err());
    assert_eq!(published_kids(&reopened.jwks()), [keys.active.as_str()]);
}
