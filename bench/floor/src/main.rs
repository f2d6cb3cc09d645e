//! The benchmark's floor: the least a server can do to answer an authenticated
//! request. Its one handler reads `access_token_cookie`, verifies the token's
//! HS256 signature and expiry with `jsonwebtoken` (key and validation built once),
//! and answers `{"msg":"Logged in"}`; a missing or bad token gets 401.
//!
//! `JWT_SECRET_KEY=... bench-floor [--bind 127.0.0.1:0]` prints
//! `floor listening on http://ADDR` and serves every path with that handler.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

const COOKIE: &str = "access_token_cookie";

/// The claims the floor reads; `exp` is checked by the validation.
#[derive(Deserialize)]
struct Claims {
    #[allow(dead_code)]
    sub: String,
}

struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

async fn handler(State(v): State<Arc<Verifier>>, headers: HeaderMap) -> impl IntoResponse {
    let token = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value);
    let ok =
        token.is_some_and(|t| jsonwebtoken::decode::<Claims>(t, &v.key, &v.validation).is_ok());
    let (status, body) = if ok {
        (StatusCode::OK, r#"{"msg":"Logged in"}"#)
    } else {
        (StatusCode::UNAUTHORIZED, r#"{"msg":"Unauthorized"}"#)
    };
    (status, [(header::CONTENT_TYPE, "application/json")], body)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut bind: SocketAddr = "127.0.0.1:0".parse()?;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => bind = args.next().ok_or("--bind needs an address")?.parse()?,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }
    let secret = std::env::var("JWT_SECRET_KEY").map_err(|_| "JWT_SECRET_KEY must be set")?;
    let verifier = Arc::new(Verifier {
        key: DecodingKey::from_secret(secret.as_bytes()),
        validation: Validation::new(Algorithm::HS256),
    });
    let app = Router::new().fallback(handler).with_state(verifier);
    let listener = tokio::net::TcpListener::bind(bind).await?;
    println!("floor listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
