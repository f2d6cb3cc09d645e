//! A cookie-based API for a single-page app: login, refresh, logout, the current user, and a
//! route only managers may call, with Flask-JWT-Extended's cookies and CSRF double submit.
//!
//! Run with
//!
//! ```sh
//! cargo run -p jwt-extended --example cookie_spa
//! ```
//!
//! then, as the SPA would (the CSRF value comes from the `csrf_*_token` cookies):
//!
//! ```sh
//! curl -c jar -H 'content-type: application/json' -d '{"user_name":"alice","password":"wonderland"}' localhost:3000/auth/login
//! curl -b jar localhost:3000/me
//! curl -b jar -c jar -X POST -H "X-CSRF-TOKEN: $(awk '/csrf_refresh_token/{print $7}' jar)" localhost:3000/auth/refresh
//! curl -b jar -X POST -H "X-CSRF-TOKEN: $(awk '/csrf_access_token/{print $7}' jar)" localhost:3000/auth/logout
//! ```

use std::{collections::HashMap, sync::Arc};

use axum::{
    Json, Router,
    extract::{FromRef, Request, State},
    http::{StatusCode, header::USER_AGENT},
    routing::{get, post},
};
use jwt_extended::{
    AuthCookies, ClaimGuard, Claims, CurrentUser, DecodedToken, Guarded, IssuedTokens, JsonObject,
    JwtConfig, JwtError, JwtManager, MemorySessionStore, RefreshToken, SameSite, TokenLocation,
    UserLoader,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A user as the app's database would hold it.
#[derive(Debug, Clone, Serialize)]
struct User {
    id: String,
    name: String,
    manager: bool,
    #[serde(skip)]
    password: &'static str,
}

/// The users, by id. The user loader registered on the manager reads them for every token.
#[derive(Clone)]
struct Users(Arc<HashMap<String, User>>);

impl UserLoader for Users {
    type User = User;
    type Error = std::convert::Infallible;

    async fn load_user(
        &self,
        identity: &Value,
        _: &DecodedToken,
    ) -> Result<Option<User>, Self::Error> {
        Ok(identity.as_str().and_then(|id| self.0.get(id)).cloned())
    }

    /// New tokens carry the user's role as it is now, so a promotion shows after a refresh.
    fn claims_for(&self, user: &User) -> Option<JsonObject> {
        let mut claims = JsonObject::new();
        claims.insert("manager".into(), user.manager.into());
        Some(claims)
    }
}

#[derive(Clone, FromRef)]
struct AppState {
    jwt: JwtManager,
    users: Users,
}

#[derive(Deserialize)]
struct Credentials {
    user_name: String,
    password: String,
}

/// Logs in: a new login family and its four cookies.
async fn login(
    State(state): State<AppState>,
    request: Request,
) -> Result<(IssuedTokens, Json<User>), (StatusCode, Json<Value>)> {
    let user_agent = request
        .headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let wrong = || {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"msg": "Wrong login id or password."})),
        )
    };
    let body = axum::body::to_bytes(request.into_body(), 4096)
        .await
        .map_err(|_| wrong())?;
    let credentials: Credentials = serde_json::from_slice(&body).map_err(|_| wrong())?;
    let user = state
        .users
        .0
        .values()
        .find(|u| u.name == credentials.user_name && u.password == credentials.password)
        .cloned()
        .ok_or_else(wrong)?;
    let claims = state.users.claims_for(&user).unwrap_or_default();
    let tokens = state
        .jwt
        .login(&user.id, claims, user_agent)
        .await
        .map_err(|e| (e.status(), Json(json!({"msg": e.to_string()}))))?;
    Ok((tokens, Json(user)))
}

/// Rotates the refresh token: new access and refresh cookies, the old refresh token retired.
async fn refresh(
    State(jwt): State<JwtManager>,
    token: RefreshToken,
) -> Result<IssuedTokens, JwtError> {
    jwt.rotate(&token).await
}

/// Revokes the request's tokens (after checking their CSRF values) and clears the cookies.
async fn logout(State(jwt): State<JwtManager>, request: Request) -> Result<AuthCookies, JwtError> {
    let (parts, _) = request.into_parts();
    jwt.logout(&parts).await
}

/// The logged-in user, loaded once by the manager's user loader.
async fn me(CurrentUser(user): CurrentUser<User>) -> Json<User> {
    Json(user)
}

/// Managers only: the claim the login put in the token.
struct Managers;

impl<S: Sync> ClaimGuard<S> for Managers {
    const MESSAGE: &'static str = "Managers only";

    async fn allows(claims: &Claims, _: &S) -> Result<bool, JwtError> {
        Ok(claims.extra.get("manager") == Some(&Value::Bool(true)))
    }
}

async fn team(Guarded(claims, ..): Guarded<Managers>) -> Json<Value> {
    Json(json!({"team_of": claims.identity}))
}

fn app() -> Result<Router, jwt_extended::ConfigError> {
    let users = Users(Arc::new(HashMap::from([
        (
            "1".to_owned(),
            User {
                id: "1".into(),
                name: "alice".into(),
                manager: true,
                password: "wonderland",
            },
        ),
        (
            "2".to_owned(),
            User {
                id: "2".into(),
                name: "bob".into(),
                manager: false,
                password: "builder",
            },
        ),
    ])));
    let config = JwtConfig::from_env()?
        .with_token_location([TokenLocation::Cookies])
        .with_cookie_samesite(Some(SameSite::Strict))
        .with_refresh_cookie_path("/auth");
    let config = if std::env::var_os("JWT_SECRET_KEY").is_none() {
        config.with_secret_key("a demo secret: set JWT_SECRET_KEY in real life")
    } else {
        config
    };
    let jwt = JwtManager::builder(config)
        .session_store(MemorySessionStore::new())
        .user_loader(users.clone())
        .build()?;
    Ok(Router::new()
        .route("/auth/login", post(login))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/me", get(me))
        .route("/team", get(team))
        .layer(jwt.error_layer())
        .with_state(AppState { jwt, users }))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app()?).await?;
    Ok(())
}
