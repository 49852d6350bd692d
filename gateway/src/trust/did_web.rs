//! The `did:web` identity of this gateway (W3C did:web method): the DID derived from the public
//! base URL, and the DID document listing our keys as `JsonWebKey2020` verification methods.
//!
//! Where the document is served follows from the DID: `https://host/` →
//! `/.well-known/did.json`; `https://host/some/path` → `/some/path/did.json`.

use serde_json::{Map, Value, json};

use super::TrustError;
use super::jwk::jwk_thumbprint;

const DID_CONTEXTS: [&str; 2] = [
    "https://www.w3.org/ns/did/v1",
    "https://w3id.org/security/suites/jws-2020/v1",
];
/// Members that only private keys carry; a DID document must never hold them.
const PRIVATE_JWK_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// The `did:web` identifier for a public base URL: `https://host[:port]/path` →
/// `did:web:host%3Aport:path`. Only `https` and domain names, as the method requires — except
/// for development, where `http` and `127.0.0.1` are accepted on loopback (`localhost`,
/// `127.0.0.1`). No user info, query or fragment; the default port 443 is dropped and the host
/// lowercased.
pub fn did_web_id(public_base_url: &str) -> Result<String, TrustError> {
    let bad = |reason: &'static str| TrustError::InvalidBaseUrl {
        url: public_base_url.to_owned(),
        reason,
    };
    let (scheme, rest) = public_base_url
        .split_once("://")
        .ok_or_else(|| bad("not an absolute url"))?;
    let scheme = scheme.to_ascii_lowercase();
    if rest.contains(['?', '#']) {
        return Err(bad("query and fragment are not allowed"));
    }
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.contains('@') {
        return Err(bad("user info is not allowed"));
    }
    if authority.starts_with('[') {
        return Err(bad(
            "ip addresses are not allowed, did:web needs a domain name",
        ));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let host = host.to_ascii_lowercase();
    if host.is_empty()
        || host.starts_with('.')
        || host.ends_with('.')
        || host.contains("..")
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(bad("host is not a domain name"));
    }
    // Development exception: a loopback URL can never be resolved by a partner anyway, and the
    // default configuration listens on http://127.0.0.1:8080.
    let loopback = host == "localhost" || host == "127.0.0.1";
    if !loopback && host.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(bad(
            "ip addresses are not allowed, did:web needs a domain name",
        ));
    }
    match scheme.as_str() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(bad("did:web needs an https url (http only for localhost)")),
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(bad("port is not a number in 1..=65535")),
            Ok(443) if scheme == "https" => None,
            Ok(p) => Some(p),
        },
    };

    let mut did = format!("did:web:{host}");
    if let Some(port) = port {
        did.push_str(&format!("%3A{port}"));
    }
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        if segment == "." || segment == ".." {
            return Err(bad("dot segments are not allowed in the path"));
        }
        if !segment.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'%' | b':')
        }) {
            return Err(bad("path has characters that must be percent-encoded"));
        }
        did.push(':');
        // A colon inside a segment would read as a path separator.
        did.push_str(&segment.replace(':', "%3A"));
    }
    Ok(did)
}

/// The DID document for `public_base_url` publishing every key of `jwks` (active and retired)
/// as a `JsonWebKey2020` verification method, all listed under `assertionMethod` and
/// `authentication`. [`super::KeyStore::did_web_document`] knows which key is active and lists
/// only that one under `authentication`.
pub fn did_web_document(public_base_url: &str, jwks: &Value) -> Result<Value, TrustError> {
    document(public_base_url, jwks, None)
}

/// `doc` without the verification methods whose key id (the fragment of their DID URL) `drop`
/// names, and without every reference to them under `authentication`, `assertionMethod` and the
/// other verification relationships. How a running gateway stops publishing a key revoked after
/// its document was built.
pub fn did_document_without(doc: &Value, drop: impl Fn(&str) -> bool) -> Value {
    let dropped = |entry: &Value| {
        let id = entry
            .as_str()
            .or_else(|| entry.get("id").and_then(Value::as_str));
        id.and_then(|id| id.rsplit_once('#'))
            .is_some_and(|(_, kid)| drop(kid))
    };
    let mut doc = doc.clone();
    if let Some(members) = doc.as_object_mut() {
        for (name, value) in members.iter_mut() {
            if name == "@context" || name == "id" {
                continue;
            }
            if let Value::Array(entries) = value {
                entries.retain(|entry| !dropped(entry));
            }
        }
    }
    doc
}

pub(crate) fn document(
    public_base_url: &str,
    jwks: &Value,
    authentication_kids: Option<&[&str]>,
) -> Result<Value, TrustError> {
    let did = did_web_id(public_base_url)?;
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| TrustError::InvalidJwk("jwks has no \"keys\" array".into()))?;
    let mut methods = Vec::with_capacity(keys.len());
    let mut assertion = Vec::with_capacity(keys.len());
    let mut authentication = Vec::with_capacity(keys.len());
    for key in keys {
        let jwk: &Map<String, Value> = key
            .as_object()
            .ok_or_else(|| TrustError::InvalidJwk("jwks entry is not an object".into()))?;
        if let Some(member) = PRIVATE_JWK_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
            return Err(TrustError::InvalidJwk(format!(
                "refusing to publish a jwk holding private member {member:?}"
            )));
        }
        let kid = match jwk.get("kid").and_then(Value::as_str) {
            Some(kid) => kid.to_owned(),
            None => jwk_thumbprint(jwk)?,
        };
        let id = format!("{did}#{kid}");
        methods.push(json!({
            "id": id,
            "type": "JsonWebKey2020",
            "controller": did,
            "publicKeyJwk": jwk,
        }));
        if authentication_kids.is_none_or(|kids| kids.contains(&kid.as_str())) {
            authentication.push(Value::String(id.clone()));
        }
        assertion.push(Value::String(id));
    }
    Ok(json!({
        "@context": DID_CONTEXTS,
        "id": did,
        "verificationMethod": methods,
        "authentication": authentication,
        "assertionMethod": assertion,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_web_ids_follow_the_method_spec() {
        let cases = [
            ("https://example.com", "did:web:example.com"),
            ("https://example.com/", "did:web:example.com"),
            (
                "https://Gateway.Example.com:8443",
                "did:web:gateway.example.com%3A8443",
            ),
            ("https://example.com:443/", "did:web:example.com"),
            (
                "https://w3c-ccg.github.io/user/alice",
                "did:web:w3c-ccg.github.io:user:alice",
            ),
            (
                "https://example.com:3000/dpp/site-1/",
                "did:web:example.com%3A3000:dpp:site-1",
            ),
            ("http://localhost:8080", "did:web:localhost%3A8080"),
            ("http://127.0.0.1:8080", "did:web:127.0.0.1%3A8080"),
        ];
        for (url, did) in cases {
            assert_eq!(did_web_id(url).unwrap(), did, "{url}");
        }
    }

    #[test]
    fn did_web_refuses_urls_the_method_cannot_express() {
        for url in [
            "http://example.com",
            "ftp://example.com",
            "example.com",
            "https://192.0.2.10:8080",
            "http://192.0.2.10",
            "https://[::1]:8080",
            "https://user@example.com",
            "https://example.com/?q=1",
            "https://example.com/#frag",
            "https://example.com:0",
            "https://example.com:99999",
            "https://exa mple.com",
            "https://example.com/a/../b",
        ] {
            assert!(did_web_id(url).is_err(), "{url} should be refused");
        }
    }

    fn two_key_jwks() -> Value {
        json!({"keys": [
            {"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"new","alg":"ES256","use":"sig"},
            {"kty":"EC","crv":"P-256","x":"gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
             "y":"SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps","alg":"ES256","use":"sig"}
        ]})
    }

    #[test]
    fn document_lists_every_key_as_json_web_key_2020() {
        let doc = did_web_document("https://gw.example.com:8443/dpp", &two_key_jwks()).unwrap();
        let did = "did:web:gw.example.com%3A8443:dpp";
        assert_eq!(doc["id"], did);
        assert_eq!(doc["@context"], json!(DID_CONTEXTS));
        let methods = doc["verificationMethod"].as_array().unwrap();
        assert_eq!(methods.len(), 2);
        assert_eq!(methods[0]["id"], format!("{did}#new"));
        assert_eq!(methods[0]["type"], "JsonWebKey2020");
        assert_eq!(methods[0]["controller"], did);
        assert_eq!(
            methods[0]["publicKeyJwk"]["x"],
            "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
        );
        // A key without kid is named by its RFC 7638 thumbprint.
        let jwk1 = two_key_jwks()["keys"][1].as_object().unwrap().clone();
        let tp = jwk_thumbprint(&jwk1).unwrap();
        assert_eq!(methods[1]["id"], format!("{did}#{tp}"));
        let ids: Vec<&Value> = methods.iter().map(|m| &m["id"]).collect();
        assert_eq!(
            doc["assertionMethod"]
                .as_array()
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            ids
        );
        assert_eq!(doc["authentication"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn document_knowing_the_active_key_authenticates_with_it_only() {
        let doc = document("https://example.com", &two_key_jwks(), Some(&["new"])).unwrap();
        assert_eq!(doc["authentication"], json!(["did:web:example.com#new"]));
        assert_eq!(doc["assertionMethod"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn dropping_a_key_removes_its_method_and_every_reference() {
        let doc = document("https://example.com", &two_key_jwks(), Some(&["new"])).unwrap();
        let jwk1 = two_key_jwks()["keys"][1].as_object().unwrap().clone();
        let old = jwk_thumbprint(&jwk1).unwrap();
        let without = did_document_without(&doc, |kid| kid == old);
        assert_eq!(without["id"], doc["id"]);
        assert_eq!(without["@context"], doc["@context"]);
        let ids: Vec<&str> = without["verificationMethod"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["did:web:example.com#new"]);
        assert_eq!(
            without["assertionMethod"],
            json!(["did:web:example.com#new"])
        );
        assert_eq!(
            without["authentication"],
            json!(["did:web:example.com#new"])
        );
        // Dropping nothing changes nothing.
        assert_eq!(did_document_without(&doc, |_| false), doc);
    }

    #[test]
    fn document_refuses_private_key_material() {
        let mut jwks = two_key_jwks();
        jwks["keys"][0]["d"] = json!("secret");
        let err = did_web_document("https://example.com", &jwks).unwrap_err();
        assert!(err.to_string().contains("\"d\""), "{err}");
    }
}
