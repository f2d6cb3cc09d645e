//! A resource server: it signs nothing and verifies access tokens with the JWKS another
//! service publishes (run the `bearer_api` example with an EdDSA key first).
//!
//! ```sh
//! JWKS_URL=http://127.0.0.1:3001/.well-known/jwks.json \
//! cargo run -p jwt-extended --example resource_server --features remote-jwks
//!
//! curl -H "Authorization: Bearer $ACCESS_TOKEN" localhost:3002/report
//! ```
//!
//! The set is fetched at start, and again (throttled) when a token names a `kid` it does not
//! know, so the issuer can rotate its key without a restart here.

use axum::{Json, Router, routing::get};
use jwt_extended::{Algorithm, Jwt, JwtConfig, JwtManager, RemoteJwks};
use serde_json::{Value, json};

async fn report(Jwt(claims): Jwt) -> Json<Value> {
    Json(json!({"report_for": claims.identity, "kid": claims.header.get("kid")}))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("JWKS_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:3001/.well-known/jwks.json".into());
    let jwks = RemoteJwks::new(url)?;
    if let Err(e) = jwks.refresh().await {
        eprintln!("the JWKS could not be fetched yet ({e}); it is fetched again on demand");
    }
    let jwt = JwtManager::builder(JwtConfig::default().with_algorithm(Algorithm::EdDSA))
        .remote_jwks(jwks)
        .build()?;
    let app = Router::new()
        .route("/report", get(report))
        .layer(jwt.error_layer())
        .with_state(jwt);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3002").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
