//! Key rotation by `kid`, JWKS publishing and (feature `remote-jwks`) verification with a JWKS
//! fetched from another service, with RSA, EC and Ed25519 keys made by the `openssl` CLI at
//! test time.

use std::{
    io::Write,
    process::{Command, Stdio},
    sync::OnceLock,
};

use axum::{Router, body::Body, routing::get};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use jwt_extended::{Algorithm, DecodingKey, Jwt, JwtConfig, JwtManager};
use serde_json::Value;
use tower::ServiceExt;

/// A PEM key pair.
struct Pair {
    private: String,
    public: String,
}

fn openssl(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl CLI is installed");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .expect("write to openssl");
    drop(input);
    let out = child.wait_with_output().expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("PEM is text")
}

fn generate(args: &[&str]) -> Pair {
    let mut genpkey = vec!["genpkey"];
    genpkey.extend_from_slice(args);
    let private = openssl(&genpkey, None);
    let public = openssl(&["pkey", "-pubout"], Some(&private));
    Pair { private, public }
}

fn rsa(n: usize) -> &'static Pair {
    static KEYS: [OnceLock<Pair>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    KEYS[n].get_or_init(|| generate(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]))
}

fn ec() -> &'static Pair {
    static KEY: OnceLock<Pair> = OnceLock::new();
    KEY.get_or_init(|| generate(&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]))
}

fn ec384() -> &'static Pair {
    static KEY: OnceLock<Pair> = OnceLock::new();
    KEY.get_or_init(|| generate(&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"]))
}

fn ed() -> &'static Pair {
    static KEY: OnceLock<Pair> = OnceLock::new();
    KEY.get_or_init(|| generate(&["-algorithm", "ed25519"]))
}

fn config(alg: Algorithm, pair: &Pair) -> JwtConfig {
    JwtConfig::default()
        .with_algorithm(alg)
        .with_private_key_pem(&pair.private)
        .with_public_key_pem(&pair.public)
}

/// A manager signing with `pair` under `kid`.
fn issuer(alg: Algorithm, pair: &Pair, kid: &str) -> JwtManager {
    JwtManager::builder(config(alg, pair))
        .signing_kid(kid)
        .build()
        .expect("valid issuer")
}

fn app(jwt: JwtManager) -> Router {
    Router::new()
        .route(
            "/protected",
            get(|Jwt(claims): Jwt| async move { claims.sub().unwrap_or_default().to_owned() }),
        )
        .with_state(jwt)
}

/// GET /protected with the token as a Bearer header: the status and the body (`msg` of an
/// error, or the identity).
async fn call(app: &Router, token: &str) -> (StatusCode, String) {
    let request = Request::get("/protected")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(json) => json["msg"].as_str().unwrap_or_default().to_owned(),
        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
    };
    (status, body)
}

fn refused() -> (StatusCode, String) {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        "Signature verification failed".to_owned(),
    )
}

fn ok(identity: &str) -> (StatusCode, String) {
    (StatusCode::OK, identity.to_owned())
}

#[tokio::test]
async fn a_rotated_manager_accepts_old_and_new_tokens_and_refuses_unknown_kids() {
    let a = issuer(Algorithm::RS256, rsa(0), "k1");
    let b = JwtManager::builder(config(Algorithm::RS256, rsa(1)))
        .signing_kid("k2")
        .verification_key_pem("k1", Algorithm::RS256, &rsa(0).public)
        .build()
        .expect("valid");
    let c = issuer(Algorithm::RS256, rsa(2), "k3");
    let old = a.create_access_token("old").expect("token");
    let new = b.create_access_token("new").expect("token");
    let unknown = c.create_access_token("stranger").expect("token");
    assert_eq!(a.unverified_header(&old).expect("header")["kid"], "k1");
    assert_eq!(b.unverified_header(&new).expect("header")["kid"], "k2");

    let (app_a, app_b) = (app(a.clone()), app(b));
    assert_eq!(call(&app_b, &old).await, ok("old"));
    assert_eq!(call(&app_b, &new).await, ok("new"));
    assert_eq!(call(&app_b, &unknown).await, refused());
    // The manager before the rotation does not know k2.
    assert_eq!(call(&app_a, &new).await, refused());

    // A known kid on a token signed by another key: the signature decides.
    let forged = JwtManager::builder(config(Algorithm::RS256, rsa(2)))
        .signing_kid("k1")
        .build()
        .expect("valid")
        .create_access_token("forger")
        .expect("token");
    assert_eq!(call(&app_b, &forged).await, refused());
    assert_eq!(call(&app_a, &forged).await, refused());
}

#[tokio::test]
async fn a_rotation_can_change_the_algorithm() {
    // RS256 to ES256: the retired RSA key keeps verifying RS256 tokens only.
    let before = issuer(Algorithm::RS256, rsa(0), "rsa-1");
    let after = JwtManager::builder(
        config(Algorithm::ES256, ec()).with_decode_algorithms([Algorithm::RS256]),
    )
    .signing_kid("ec-1")
    .verification_key_pem("rsa-1", Algorithm::RS256, &rsa(0).public)
    .build()
    .expect("valid");
    let app_after = app(after.clone());
    let old = before.create_access_token("old").expect("token");
    let new = after.create_access_token("new").expect("token");
    assert_eq!(call(&app_after, &old).await, ok("old"));
    assert_eq!(call(&app_after, &new).await, ok("new"));

    // An Ed25519 manager keeping the EC key.
    let ed_manager = JwtManager::builder(
        config(Algorithm::EdDSA, ed()).with_decode_algorithms([Algorithm::ES256]),
    )
    .signing_kid("ed-1")
    .verification_key_pem("ec-1", Algorithm::ES256, &ec().public)
    .build()
    .expect("valid");
    let app_ed = app(ed_manager.clone());
    assert_eq!(call(&app_ed, &new).await, ok("new"));
    let ed_token = ed_manager.create_access_token("ed").expect("token");
    assert_eq!(call(&app_ed, &ed_token).await, ok("ed"));
    assert_eq!(
        call(&app_after, &ed_token).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[test]
fn verification_key_pem_refuses_a_key_of_another_type() {
    let err = JwtManager::builder(config(Algorithm::RS256, rsa(0)))
        .verification_key_pem("old", Algorithm::ES256, &rsa(1).public)
        .build()
        .expect_err("an RSA key is not an EC key");
    assert!(
        err.to_string().starts_with(
            "verification_key_pem is not a valid key for algorithm \"ES256\": kid \"old\""
        ),
        "{err}"
    );
}

/// The RSA modulus as openssl prints it (upper-case hex).
fn openssl_modulus(public: &str) -> String {
    let out = openssl(&["rsa", "-pubin", "-modulus", "-noout"], Some(public));
    out.trim()
        .strip_prefix("Modulus=")
        .expect("Modulus=")
        .to_owned()
}

fn b64_to_hex(value: &Value) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value.as_str().expect("a string"))
        .expect("base64url");
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[test]
fn the_jwks_publishes_every_public_key_and_no_secret() {
    let jwt = JwtManager::builder(config(Algorithm::RS256, rsa(1)))
        .signing_kid("k2")
        .verification_key_pem("k1", Algorithm::RS256, &rsa(0).public)
        .verification_key_pem("ec", Algorithm::ES256, &ec().public)
        .verification_key_pem("ec384", Algorithm::ES384, &ec384().public)
        .verification_key_pem("ed", Algorithm::EdDSA, &ed().public)
        .verification_key(
            "hs",
            Algorithm::HS256,
            DecodingKey::from_secret(b"do-not-publish"),
        )
        .build()
        .expect("valid");
    let set = serde_json::to_value(jwt.jwks()).expect("json");
    let keys = set["keys"].as_array().expect("keys");
    let kids: Vec<_> = keys
        .iter()
        .map(|k| k["kid"].as_str().expect("kid"))
        .collect();
    assert_eq!(kids, ["k2", "ec", "ec384", "ed", "k1"]);
    for key in keys {
        assert_eq!(key["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "{private} in {key}");
        }
    }
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["e"], "AQAB");
    assert_eq!(b64_to_hex(&keys[0]["n"]), openssl_modulus(&rsa(1).public));
    assert_eq!(b64_to_hex(&keys[4]["n"]), openssl_modulus(&rsa(0).public));
    assert_eq!(
        (&keys[1]["kty"], &keys[1]["crv"], &keys[1]["alg"]),
        (&"EC".into(), &"P-256".into(), &"ES256".into())
    );
    assert_eq!(
        (&keys[2]["crv"], &keys[2]["alg"]),
        (&"P-384".into(), &"ES384".into())
    );
    assert_eq!(
        (&keys[3]["kty"], &keys[3]["crv"], &keys[3]["alg"]),
        (&"OKP".into(), &"Ed25519".into(), &"EdDSA".into())
    );
    let text = set.to_string();
    assert!(!text.contains("do-not-publish") && !text.contains("ZG8tbm90LXB1Ymxpc2g"));

    let hs = JwtManager::builder(JwtConfig::default().with_secret_key("s3cret"))
        .signing_kid("hs")
        .build()
        .expect("valid");
    assert_eq!(
        serde_json::to_value(hs.jwks()).expect("json"),
        serde_json::json!({"keys": []})
    );
}

#[tokio::test]
async fn each_published_key_verifies_its_issuers_tokens() {
    let cases = [
        (Algorithm::RS256, rsa(0)),
        (Algorithm::PS256, rsa(1)),
        (Algorithm::ES256, ec()),
        (Algorithm::ES384, ec384()),
        (Algorithm::EdDSA, ed()),
    ];
    for (alg, pair) in cases {
        let issuer = issuer(alg, pair, "current");
        let token = issuer.create_access_token("alice").expect("token");
        let jwk = issuer.jwks().keys.into_iter().next().expect("one key");
        // A verify-only manager holding only the published key.
        let verifier = JwtManager::builder(
            JwtConfig::default()
                .with_algorithm(alg)
                .with_public_key_pem(&pair.public),
        )
        .verification_key("current", alg, DecodingKey::from_jwk(&jwk).expect("a JWK"))
        .build()
        .expect("valid");
        assert_eq!(call(&app(verifier), &token).await, ok("alice"), "{alg:?}");
    }
}

#[cfg(feature = "remote-jwks")]
mod remote {
    use std::{
        sync::{
            Arc, Mutex,
            atomic::{AtomicUsize, Ordering},
        },
        time::Duration,
    };

    use axum::{Json, extract::State};
    use futures_util::future::join_all;
    use jwt_extended::{JwkSet, RemoteJwks};

    use super::*;

    /// The issuer's JWKS endpoint: serves whatever set it holds and counts the requests.
    #[derive(Clone)]
    struct JwksServer {
        set: Arc<Mutex<JwkSet>>,
        hits: Arc<AtomicUsize>,
        url: String,
    }

    impl JwksServer {
        async fn start(set: JwkSet) -> Self {
            let state = (Arc::new(Mutex::new(set)), Arc::new(AtomicUsize::new(0)));
            let router = Router::new()
                .route(
                    "/.well-known/jwks.json",
                    get(
                        |State((set, hits)): State<(Arc<Mutex<JwkSet>>, Arc<AtomicUsize>)>| async move {
                            hits.fetch_add(1, Ordering::SeqCst);
                            Json(set.lock().expect("lock").clone())
                        },
                    ),
                )
                .with_state(state.clone());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move { axum::serve(listener, router).await });
            Self {
                set: state.0,
                hits: state.1,
                url: format!("http://{addr}/.well-known/jwks.json"),
            }
        }

        fn publish(&self, set: JwkSet) {
            *self.set.lock().expect("lock") = set;
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    /// A resource server: no key of its own, only the issuer's JWKS.
    fn resource_server(remote: RemoteJwks) -> Router {
        let jwt = JwtManager::builder(JwtConfig::default().with_algorithm(Algorithm::RS256))
            .remote_jwks(remote)
            .build()
            .expect("a verify-only manager builds");
        assert!(jwt.create_access_token("x").is_err(), "it cannot sign");
        app(jwt)
    }

    fn rotated() -> JwtManager {
        JwtManager::builder(config(Algorithm::RS256, rsa(1)))
            .signing_kid("k2")
            .verification_key_pem("k1", Algorithm::RS256, &rsa(0).public)
            .build()
            .expect("valid")
    }

    #[tokio::test]
    async fn a_resource_server_verifies_with_the_issuers_jwks_and_follows_its_rotation() {
        let a = issuer(Algorithm::RS256, rsa(0), "k1");
        let server = JwksServer::start(a.jwks()).await;
        let remote = RemoteJwks::new(server.url.clone())
            .expect("client")
            .refetch_interval(Duration::ZERO);
        let rs = resource_server(remote.clone());
        assert_eq!(server.hits(), 0, "nothing fetched before the first token");

        let old = a.create_access_token("old").expect("token");
        assert_eq!(call(&rs, &old).await, ok("old"));
        assert_eq!(server.hits(), 1);
        assert_eq!(call(&rs, &old).await, ok("old"));
        assert_eq!(server.hits(), 1, "a known kid is served from the cache");

        // The issuer rotates: k2 signs, k1 stays in its JWKS until its tokens expire.
        let b = rotated();
        server.publish(b.jwks());
        let new = b.create_access_token("new").expect("token");
        assert_eq!(call(&rs, &new).await, ok("new"));
        assert_eq!(server.hits(), 2, "the unknown k2 caused one refetch");
        assert_eq!(call(&rs, &old).await, ok("old"));
        assert_eq!(call(&rs, &new).await, ok("new"));
        assert_eq!(server.hits(), 2);
        assert_eq!(remote.kids(), ["k1", "k2"]);

        // A kid the issuer never published: refetched (no throttle here), still refused.
        let stranger = issuer(Algorithm::RS256, rsa(2), "k3")
            .create_access_token("stranger")
            .expect("token");
        assert_eq!(call(&rs, &stranger).await, refused());
        assert_eq!(server.hits(), 3);
        // A token claiming k2 but signed by another key.
        let forged = JwtManager::builder(config(Algorithm::RS256, rsa(2)))
            .signing_kid("k2")
            .build()
            .expect("valid")
            .create_access_token("forger")
            .expect("token");
        assert_eq!(call(&rs, &forged).await, refused());
        assert_eq!(server.hits(), 3, "k2 is known: no refetch");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_kids_refetch_at_most_once_per_interval_one_fetch_at_a_time() {
        let a = issuer(Algorithm::RS256, rsa(0), "k1");
        let server = JwksServer::start(a.jwks()).await;
        let remote = RemoteJwks::new(server.url.clone())
            .expect("client")
            .refetch_interval(Duration::from_secs(3600));
        let rs = resource_server(remote.clone());

        // Many concurrent requests with made-up kids: one fetch in all.
        let strangers: Vec<String> = (0..16)
            .map(|i| {
                JwtManager::builder(config(Algorithm::RS256, rsa(2)))
                    .signing_kid(format!("made-up-{i}"))
                    .build()
                    .expect("valid")
                    .create_access_token("stranger")
                    .expect("token")
            })
            .collect();
        let handles: Vec<_> = strangers
            .into_iter()
            .map(|t| {
                let rs = rs.clone();
                tokio::spawn(async move { call(&rs, &t).await })
            })
            .collect();
        for answer in join_all(handles).await {
            assert_eq!(answer.expect("task"), refused());
        }
        assert_eq!(server.hits(), 1);

        // The set fetched then is used for the kids it has.
        let old = a.create_access_token("old").expect("token");
        assert_eq!(call(&rs, &old).await, ok("old"));
        assert_eq!(server.hits(), 1);

        // The issuer rotates within the interval: its new kid waits for the next fetch.
        let b = rotated();
        server.publish(b.jwks());
        let new = b.create_access_token("new").expect("token");
        assert_eq!(call(&rs, &new).await, refused());
        assert_eq!(server.hits(), 1, "throttled");

        // An explicit refresh is not throttled.
        assert_eq!(remote.refresh().await.expect("fetched"), 2);
        assert_eq!(server.hits(), 2);
        assert_eq!(call(&rs, &new).await, ok("new"));
    }

    #[tokio::test]
    async fn keys_removed_from_the_jwks_stop_verifying_once_the_set_is_old() {
        let a = issuer(Algorithm::RS256, rsa(0), "k1");
        let server = JwksServer::start(a.jwks()).await;
        let remote = RemoteJwks::new(server.url.clone())
            .expect("client")
            .refetch_interval(Duration::ZERO)
            .max_age(Duration::ZERO);
        let rs = resource_server(remote);
        let old = a.create_access_token("old").expect("token");
        assert_eq!(call(&rs, &old).await, ok("old"));
        assert_eq!(server.hits(), 1);
        // k1 is withdrawn (compromised): the next request refetches the stale set.
        server.publish(issuer(Algorithm::RS256, rsa(1), "k2").jwks());
        assert_eq!(call(&rs, &old).await, refused());
        assert_eq!(server.hits(), 2);
    }

    #[tokio::test]
    async fn an_unreachable_or_broken_jwks_refuses_tokens_without_failing_the_server() {
        let a = issuer(Algorithm::RS256, rsa(0), "k1");
        let token = a.create_access_token("a").expect("token");
        // Nothing listens there.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/jwks", listener.local_addr().expect("addr"));
        drop(listener);
        let remote = RemoteJwks::new(url).expect("client");
        let rs = resource_server(remote.clone());
        assert_eq!(call(&rs, &token).await, refused());
        assert!(remote.refresh().await.is_err());

        // A server that answers with something else than a JWKS.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = Router::new()
            .route("/jwks", get(|| async { "not json" }))
            .route("/missing", get(|| async { StatusCode::NOT_FOUND }));
        tokio::spawn(async move { axum::serve(listener, router).await });
        let broken = RemoteJwks::new(format!("http://{addr}/jwks")).expect("client");
        assert!(matches!(
            broken.refresh().await,
            Err(jwt_extended::JwksError::Json(_))
        ));
        let missing = RemoteJwks::new(format!("http://{addr}/missing")).expect("client");
        assert!(matches!(
            missing.refresh().await,
            Err(jwt_extended::JwksError::Status(404))
        ));
        assert_eq!(call(&resource_server(broken), &token).await, refused());
    }
}
