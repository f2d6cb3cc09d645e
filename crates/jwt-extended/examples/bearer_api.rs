//! An API for clients that keep their tokens themselves (`Authorization: Bearer`): login
//! returns both tokens as JSON, refresh takes the refresh token in the header, logout revokes
//! the token it is called with. It also publishes its public keys as a JWKS, for the
//! `resource_server` example.
//!
//! Run with an Ed25519 key pair (the test fixtures here, never in production):
//!
//! ```sh
//! JWT_ALGORITHM=EdDSA \
//! JWT_PRIVATE_KEY=crates/jwt-extended/tests/fixtures/ed25519_private.pem \
//! JWT_PUBLIC_KEY=crates/jwt-extended/tests/fixtures/ed25519_public.pem \
//! cargo run -p jwt-extended --example bearer_api
//!
//! TOKENS=$(curl -s -X POST localhost:3001/login -d user=alice)
//! curl -H "Authorization: Bearer $(echo "$TOKENS" | jq -r .access_token)" localhost:3001/hello
//! curl -X POST -H "Authorization: Bearer $(echo "$TOKENS" | jq -r .refresh_token)" localhost:3001/refresh
//! ```
//!
//! Without the variables it signs with an HS256 demo secret (and publishes no key).

use axum::{
    Json, Router,
    extract::{Request, State},
    routing::{get, post},
};
use jwt_extended::{
    IssuedTokens, JwkSet, Jwt, JwtConfig, JwtError, JwtManager, MemorySessionStore, RefreshToken,
    TokenLocation,
};
use serde_json::{Value, json};

fn as_json(tokens: &IssuedTokens) -> Json<Value> {
    Json(json!({
        "access_token": tokens.access.as_str(),
        "refresh_token": tokens.refresh.as_str(),
    }))
}

/// Logs `user` in (a real app checks a password here).
async fn login(State(jwt): State<JwtManager>, body: String) -> Result<Json<Value>, JwtError> {
    let user = body.strip_prefix("user=").unwrap_or("anonymous");
    let tokens = jwt.login(user, Default::default(), None).await?;
    Ok(as_json(&tokens))
}

async fn refresh(
    State(jwt): State<JwtManager>,
    token: RefreshToken,
) -> Result<Json<Value>, JwtError> {
    Ok(as_json(&jwt.rotate(&token).await?))
}

async fn logout(State(jwt): State<JwtManager>, request: Request) -> Result<Json<Value>, JwtError> {
    let (parts, _) = request.into_parts();
    // The cookies it would clear are of no use to a Bearer client.
    let _cookies = jwt.logout(&parts).await?;
    Ok(Json(json!({"msg": "Logged out"})))
}

async fn hello(Jwt(claims): Jwt) -> Json<Value> {
    Json(json!({"hello": claims.identity}))
}

async fn jwks(State(jwt): State<JwtManager>) -> Json<JwkSet> {
    Json(jwt.jwks())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = JwtConfig::from_env()?.with_token_location([TokenLocation::Headers]);
    if std::env::var_os("JWT_ALGORITHM").is_none() && std::env::var_os("JWT_SECRET_KEY").is_none() {
        config = config.with_secret_key("a demo secret: set JWT_SECRET_KEY in real life");
    }
    let jwt = JwtManager::builder(config)
        .session_store(MemorySessionStore::new())
        .signing_kid("demo-1")
        .build()?;
    let app = Router::new()
        .route("/login", post(login))
        .route("/refresh", post(refresh))
        .route("/logout", post(logout))
        .route("/hello", get(hello))
        .route("/.well-known/jwks.json", get(jwks))
        .layer(jwt.error_layer())
        .with_state(jwt);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
