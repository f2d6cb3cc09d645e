//! Login, refresh and logout as an SPA drives them: a real login family in a session store, the
//! browser's cookie jar (`testing::TestSession`) following every `Set-Cookie`, a user loader
//! whose data changes between requests.

mod common;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{Request, State},
    middleware,
    routing::{get, post},
};
use common::{AppState, Reply, SECRET, send};
use http::{Request as HttpRequest, request::Builder};
use jwt_extended::{
    CurrentUser, DecodedToken, IssuedTokens, JsonObject, Jwt, JwtConfig, JwtError, JwtManager,
    MemorySessionStore, RefreshId, RefreshToken, RevocationStore, RotateOutcome, SessionInfo,
    SessionStore, StoreError, TokenLocation, UserLoader, testing::TestSession,
};
use serde_json::{Value, json};

/// Users and their role, as a database would hold them; tests change them between requests.
#[derive(Clone, Default)]
struct Users(Arc<Mutex<HashMap<String, String>>>);

impl Users {
    fn set(&self, id: &str, role: &str) {
        self.0.lock().expect("lock").insert(id.into(), role.into());
    }

    fn remove(&self, id: &str) {
        self.0.lock().expect("lock").remove(id);
    }
}

#[derive(Debug, Clone)]
struct User {
    id: String,
    role: String,
}

impl UserLoader for Users {
    type User = User;
    type Error = String;

    async fn load_user(&self, identity: &Value, _: &DecodedToken) -> Result<Option<User>, String> {
        let id = identity.as_str().unwrap_or_default();
        let role = self.0.lock().map_err(|e| e.to_string())?.get(id).cloned();
        Ok(role.map(|role| User {
            id: id.into(),
            role,
        }))
    }

    fn claims_for(&self, user: &User) -> Option<JsonObject> {
        let mut claims = JsonObject::new();
        claims.insert("role".into(), user.role.clone().into());
        Some(claims)
    }
}

fn manager(users: &Users, grace: Duration) -> JwtManager {
    manager_on(MemorySessionStore::new(), users, grace)
}

fn manager_on(store: impl SessionStore, users: &Users, grace: Duration) -> JwtManager {
    let config = JwtConfig::default()
        .with_secret_key(SECRET)
        .with_token_location([
            TokenLocation::Cookies,
            TokenLocation::Headers,
            TokenLocation::Json,
        ])
        .with_refresh_cookie_path("/auth");
    JwtManager::builder(config)
        .session_store(store)
        .user_loader(users.clone())
        .refresh_grace(grace)
        .build()
        .expect("valid")
}

async fn refresh(
    State(jwt): State<JwtManager>,
    token: RefreshToken,
) -> Result<(IssuedTokens, Json<Value>), JwtError> {
    let tokens = jwt.rotate(&token).await?;
    Ok((tokens, Json(json!({"msg": "Token refreshed"}))))
}

async fn logout(
    State(jwt): State<JwtManager>,
    request: Request,
) -> Result<jwt_extended::AuthCookies, JwtError> {
    let (parts, _) = request.into_parts();
    jwt.logout(&parts).await
}

/// A password change's end: this login renewed, every other one ended.
async fn renew(
    State(jwt): State<JwtManager>,
    Jwt(current): Jwt,
) -> Result<(IssuedTokens, Json<Value>), JwtError> {
    let mut claims = JsonObject::new();
    claims.insert("role".into(), "reader".into());
    let ended = jwt.end_sessions_other_than(&current).await?;
    let tokens = jwt.renew_session(&current, claims, None).await?;
    Ok((tokens, Json(json!({ "ended": ended }))))
}

/// This login renewed, and no other ended.
async fn renew_this(
    State(jwt): State<JwtManager>,
    Jwt(current): Jwt,
) -> Result<IssuedTokens, JwtError> {
    let mut claims = JsonObject::new();
    claims.insert("role".into(), "reader".into());
    jwt.renew_session(&current, claims, None).await
}

fn app(jwt: &JwtManager) -> Router {
    Router::new()
        .route("/auth/refresh", post(refresh))
        .route("/auth/renew", post(renew))
        .route("/auth/renew-this", post(renew_this))
        .route("/auth/logout", post(logout))
        .route(
            "/me",
            get(
                |Jwt(c): Jwt, CurrentUser(u): CurrentUser<User>| async move {
                    Json(json!({"id": u.id, "role_claim": c.extra["role"], "role_now": u.role}))
                },
            ),
        )
        .layer(middleware::from_fn(jwt_extended::read_token_body))
        .layer(jwt.error_layer())
        .with_state(AppState { jwt: jwt.clone() })
}

/// Sends a request built from `builder` and lets the session follow the response's cookies.
async fn browse(
    app: &Router,
    session: &mut TestSession,
    request: impl FnOnce(&TestSession) -> Builder,
) -> Reply {
    let builder = request(session);
    let reply = send(
        app,
        builder.body(axum::body::Body::empty()).expect("request"),
    )
    .await;
    session.follow(&reply.headers);
    reply
}

async fn logged_in(jwt: &JwtManager, users: &Users, id: &str) -> TestSession {
    users.set(id, "reader");
    TestSession::builder(jwt, id)
        .claim("role", "reader")
        .login(Some("test browser"))
        .await
        .expect("login")
}

// --- refresh ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_refresh_sets_four_new_cookies_that_the_browser_uses_next() {
    let users = Users::default();
    let jwt = manager(&users, Duration::ZERO);
    let app = app(&jwt);
    let mut session = logged_in(&jwt, &users, "7").await;
    let (old_access, old_refresh) = (
        session.access_token().map(str::to_owned),
        session.refresh_token().map(str::to_owned),
    );
    let reply = browse(&app, &mut session, |s: &TestSession| {
        s.with_refresh_cookies(HttpRequest::post("/auth/refresh"))
    })
    .await;
    reply.assert_error(200, "Token refreshed");
    assert_eq!(reply.set_cookies().len(), 4, "{:?}", reply.set_cookies());
    assert_ne!(session.access_token().map(str::to_owned), old_access);
    assert_ne!(session.refresh_token().map(str::to_owned), old_refresh);
    browse(&app, &mut session, |s: &TestSession| {
        s.with_cookies(HttpRequest::get("/me"))
    })
    .await
    .assert_body(
        200,
        &json!({"id": "7", "role_claim": "reader", "role_now": "reader"}),
    );
}

#[tokio::test]
async fn a_replayed_refresh_token_revokes_the_whole_login() {
    let users = Users::default();
    let jwt = manager(&users, Duration::ZERO);
    let app = app(&jwt);
    let mut session = logged_in(&jwt, &users, "7").await;
    let stolen = session.clone();
    browse(&app, &mut session, |s: &TestSession| {
        s.with_refresh_cookies(HttpRequest::post("/auth/refresh"))
    })
    .await
    .assert_error(200, "Token refreshed");
    let mut thief = stolen.clone();
    browse(&app, &mut thief, |_: &TestSession| {
        stolen.with_refresh_cookies(HttpRequest::post("/auth/refresh"))
    })
    .await
    .assert_error(401, "Token has been revoked");
    browse(&app, &mut session, |s: &TestSession| {
        s.with_cookies(HttpRequest::get("/me"))
    })
    .await
    .assert_error(401, "Token has been revoked");
}

#[tokio::test]
async fn two_tabs_refreshing_at_once_share_one_successor_within_the_managers_grace_window() {
    let users = Users::default();
    let jwt = manager(&users, Duration::from_secs(30));
    let app = app(&jwt);
    let session = logged_in(&jwt, &users, "7").await;
    let (mut tab_a, mut tab_b) = (session.clone(), session.clone());
    for tab in [&mut tab_a, &mut tab_b] {
        let request = session.with_refresh_cookies(HttpRequest::post("/auth/refresh"));
        browse(&app, tab, |_: &TestSession| request)
            .await
            .assert_error(200, "Token refreshed");
    }
    let jti =
        |s: &TestSession| common::payload_of(s.refresh_token().expect("token"))["jti"].clone();
    assert_eq!(jti(&tab_a), jti(&tab_b));
    browse(&app, &mut tab_b, |s: &TestSession| {
        s.with_cookies(HttpRequest::get("/me"))
    })
    .await
    .assert_body(
        200,
        &json!({"id": "7", "role_claim": "reader", "role_now": "reader"}),
    );
}

#[tokio::test]
async fn new_tokens_carry_the_claims_the_user_loader_gives_now() {
    let users = Users::default();
    let jwt = manager(&users, Duration::ZERO);
    let app = app(&jwt);
    let mut session = logged_in(&jwt, &users, "7").await;
    users.set("7", "editor");
    browse(&app, &mut session, |s: &TestSession| {
        s.with_cookies(HttpRequest::get("/me"))
    })
    .await
    .assert_body(
        200,
        &json!({"id": "7", "role_claim": "reader", "role_now": "editor"}),
    );
    browse(&app, &mut session, |s: &TestSession| {
        s.with_refresh_cookies(HttpRequest::post("/auth/refresh"))
    })
    .await
    .assert_error(200, "Token refreshed");
    browse(&app, &mut session, |s: &TestSession| {
        s.with_cookies(HttpRequest::get("/me"))
    })
    .await
    .assert_body(
        200,
        &json!({"id": "7", "role_claim": "editor", "role_now": "editor"}),
    );
}

#[tokio::test]
async fn the_refresh_token_is_read_from_any_configured_location() {
    let users = Users::default();
    let jwt = manager(&users, Duration::ZERO);
    let app = app(&jwt);
    let session = logged_in(&jwt, &users, "7").await;
    let raw = session.refresh_token().expect("token").to_owned();
    let by_header = common::call(
        &app,
        "POST",
        "/auth/refresh",
        &[("authorization", &common::bearer(&raw))],
    )
    .await;
    by_header.assert_error(200, "Token refreshed");
    // The header's successor, sent in a JSON body.
    let mut next = TestSession::builder(&jwt, "7").build().expect("session");
    next.follow(&by_header.headers);
    let body = json!({"refresh_token": next.refresh_token().expect("token")}).to_string();
    common::call_with_body(
        &app,
        "POST",
        "/auth/refresh",
        &[("content-type", "application/json")],
        body,
    )
    .await
    .assert_error(200, "Token refreshed");
}

#[tokio::test]
async fn a_refresh_token_whose_user_is_gone_mints_nothing() {
    let users = Users::default();
    let jwt = manager(&users, Duration::ZERO);
    let app = app(&jwt);
    let mut session = logged_in(&jwt, &users, "7").await;
    users.remove("7");
    let reply = browse(&app, &mut session, |s: &TestSession| {
        s.with_refresh_cookies(HttpRequest::post("/auth/refresh"))
    })
    .await;
    reply.assert_error(401, "Error loading the user 7");
    assert!(reply.set_cookies().is_empty());
}

#[tokio::test]
async fn a_refresh_token_without_a_family_gets_a_new_access_token_and_itself_back() {
    let users = Users::default();
    users.set("7", "reader");
    let jwt = manager(&users, Duration::ZERO);
    let app = app(&jwt);
    let mut session = TestSession::new(&jwt, "7").expect("session");
    let before = session.refresh_token().map(str::to_owned);
    browse(&app, &mut session, |s: &TestSession| {
        s.with_refresh_cookies(HttpRequest::post("/auth/refresh"))
    })
    .await
    .assert_error(200, "Token refreshed");
    assert_eq!(session.refresh_token().map(str::to_owned), before);
}

// --- logout ----------------------------------------------------------------------------------

#[tokio::test]
async fn the_spas_logout_revokes_both_tokens_of_its_login_and_clears_the_cookies() {
    let users = Users::default();
    let jwt = manager(&users, Duration::ZERO);
    let app = app(&jwt);
    let mut session = logged_in(&jwt, &users, "7").await;
    let copy = session.clone();
    let reply = browse(&app, &mut session, |s: &TestSession| {
        s.with_cookies(HttpRequest::post("/auth/logout"))
    })
    .await;
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(reply.set_cookies().len(), 4);
    assert_eq!(
        session.access_token(),
        None,
        "the browser dropped the cookies"
    );
    let mut thief = copy.clone();
    browse(&app, &mut thief, |_: &TestSession| {
        copy.with_cookies(HttpRequest::get("/me"))
    })
    .await
    .assert_error(401, "Token has been revoked");
    browse(&app, &mut thief, |_: &TestSession| {
        copy.with_refresh_cookies(HttpRequest::post("/auth/refresh"))
    })
    .await
    .assert_error(401, "Token has been revoked");
}

#[tokio::test]
async fn a_refresh_cookie_alone_without_its_csrf_value_ends_nothing() {
    let users = Users::default();
    let jwt = manager(&users, Duration::ZERO);
    let app = app(&jwt);
    let mut session = logged_in(&jwt, &users, "7").await;
    // A forged cross-site POST: the browser attaches the cookies (here only the refresh one,
    // whose path is /auth), but the attacker cannot read the CSRF cookie.
    let refresh_only = format!(
        "refresh_token_cookie={}",
        session.refresh_token().expect("token")
    );
    let reply = common::call(&app, "POST", "/auth/logout", &[("cookie", &refresh_only)]).await;
    reply.assert_error(401, "Missing CSRF token");
    assert!(reply.set_cookies().is_empty());
    let wrong = common::call(
        &app,
        "POST",
        "/auth/logout",
        &[("cookie", &refresh_only), ("x-csrf-token", "guessed")],
    )
    .await;
    wrong.assert_error(401, "CSRF double submit tokens do not match");
    browse(&app, &mut session, |s: &TestSession| {
        s.with_cookies(HttpRequest::get("/me"))
    })
    .await
    .assert_body(
        200,
        &json!({"id": "7", "role_claim": "reader", "role_now": "reader"}),
    );
    browse(&app, &mut session, |s: &TestSession| {
        s.with_refresh_cookies(HttpRequest::post("/auth/refresh"))
    })
    .await
    .assert_error(200, "Token refreshed");
}

#[tokio::test]
async fn a_refresh_cookie_with_its_own_csrf_value_ends_its_login() {
    let users = Users::default();
    let jwt = manager(&users, Duration::ZERO);
    let app = app(&jwt);
    let session = logged_in(&jwt, &users, "7").await;
    let refresh_only = format!(
        "refresh_token_cookie={}",
        session.refresh_token().expect("token")
    );
    common::call(
        &app,
        "POST",
        "/auth/logout",
        &[
            ("cookie", &refresh_only),
            ("x-csrf-token", session.refresh_csrf().expect("csrf")),
        ],
    )
    .await
    .assert_status(200);
    let mut copy = session.clone();
    browse(&app, &mut copy, |_: &TestSession| {
        session.with_cookies(HttpRequest::get("/me"))
    })
    .await
    .assert_error(401, "Token has been revoked");
}

#[tokio::test]
async fn another_logins_csrf_value_proves_nothing_here() {
    let users = Users::default();
    let jwt = manager(&users, Duration::ZERO);
    let app = app(&jwt);
    let victim = logged_in(&jwt, &users, "7").await;
    let attacker = logged_in(&jwt, &users, "8").await;
    let jar = format!(
        "access_token_cookie={}; refresh_token_cookie={}",
        attacker.access_token().expect("token"),
        victim.refresh_token().expect("token")
    );
    common::call(
        &app,
        "POST",
        "/auth/logout",
        &[
            ("cookie", &jar),
            ("x-csrf-token", attacker.access_csrf().expect("csrf")),
        ],
    )
    .await
    .assert_error(401, "CSRF double submit tokens do not match");
    let mut v = victim.clone();
    browse(&app, &mut v, |_: &TestSession| {
        victim.with_cookies(HttpRequest::get("/me"))
    })
    .await
    .assert_status(200);
}

#[tokio::test]
async fn a_dead_session_can_always_clear_its_cookies() {
    let users = Users::default();
    users.set("7", "reader");
    let jwt = manager(&users, Duration::ZERO);
    let app = app(&jwt);
    let mut expired = TestSession::builder(&jwt, "7")
        .expired()
        .build()
        .expect("session");
    let reply = browse(&app, &mut expired, |s: &TestSession| {
        s.with_cookies_only(HttpRequest::post("/auth/logout"))
    })
    .await;
    // The expired access cookie needs no proof; the refresh cookie (path /auth) is live and
    // unproven, so it must be proven: with its CSRF value the logout goes through.
    reply.assert_error(401, "Missing CSRF token");
    let reply = browse(&app, &mut expired, |s: &TestSession| {
        s.with_refresh_cookies(HttpRequest::post("/auth/logout"))
    })
    .await;
    reply.assert_status(200);
    assert_eq!(expired.access_token(), None);
    let garbage = common::call(
        &app,
        "POST",
        "/auth/logout",
        &[("cookie", "access_token_cookie=garbage")],
    )
    .await;
    garbage.assert_status(200);
}

#[tokio::test]
async fn a_bearer_logout_revokes_the_header_token_without_csrf() {
    let users = Users::default();
    let jwt = manager(&users, Duration::ZERO);
    let app = app(&jwt);
    let session = logged_in(&jwt, &users, "7").await;
    let access = session.access_token().expect("token").to_owned();
    common::call(
        &app,
        "POST",
        "/auth/logout",
        &[("authorization", &common::bearer(&access))],
    )
    .await
    .assert_status(200);
    common::get_with_bearer(&app, "/me", &access)
        .await
        .assert_error(401, "Token has been revoked");
}

#[tokio::test]
async fn test_sessions_mint_fresh_stale_and_expired_tokens_with_extra_claims() {
    let users = Users::default();
    users.set("7", "reader");
    let jwt = manager(&users, Duration::ZERO);
    let app = Router::new()
        .route(
            "/fresh",
            get(
                |jwt_extended::FreshJwt(c): jwt_extended::FreshJwt| async move {
                    Json(json!({"team": c.extra["team"]}))
                },
            ),
        )
        .with_state(AppState { jwt: jwt.clone() });
    let get_fresh = |session: TestSession| {
        let app = app.clone();
        async move {
            let request = session.with_cookies(HttpRequest::get("/fresh"));
            send(
                &app,
                request.body(axum::body::Body::empty()).expect("request"),
            )
            .await
        }
    };
    let session =
        |b: jwt_extended::testing::TestSessionBuilder<'_>| b.claim("team", "blue").build();
    get_fresh(session(TestSession::builder(&jwt, "7").fresh(true)).expect("session"))
        .await
        .assert_body(200, &json!({"team": "blue"}));
    get_fresh(session(TestSession::builder(&jwt, "7").fresh(false)).expect("session"))
        .await
        .assert_error(401, "Fresh token required");
    let now = common::now() as f64;
    get_fresh(session(TestSession::builder(&jwt, "7").fresh_until(now - 1.0)).expect("session"))
        .await
        .assert_error(401, "Fresh token required");
    get_fresh(session(TestSession::builder(&jwt, "7").fresh(true).expired()).expect("session"))
        .await
        .assert_error(401, "Token has expired");
}

// --- ending logins ---------------------------------------------------------------------------

#[tokio::test]
async fn ending_the_other_logins_keeps_this_one_and_other_users_logins() {
    let users = Users::default();
    let jwt = manager(&users, Duration::ZERO);
    let app = app(&jwt);
    let mut here = logged_in(&jwt, &users, "7").await;
    let mut elsewhere = [
        logged_in(&jwt, &users, "7").await,
        logged_in(&jwt, &users, "7").await,
    ];
    let mut stranger = logged_in(&jwt, &users, "8").await;
    let logins = jwt.sessions("7").await.expect("sessions");
    assert_eq!(logins.len(), 3);
    let this_one = jwt
        .decode_token(here.access_token().expect("an access token"), None, false)
        .expect("decodes")
        .claim(jwt_extended::FAMILY_CLAIM)
        .and_then(Value::as_str)
        .expect("a login family")
        .to_owned();

    assert_eq!(
        jwt.end_other_sessions("7", &this_one).await.expect("ended"),
        2
    );

    let left = jwt.sessions("7").await.expect("sessions");
    assert_eq!(
        left.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [this_one.as_str()]
    );
    for session in &mut elsewhere {
        browse(&app, session, |s: &TestSession| {
            s.with_cookies(HttpRequest::get("/me"))
        })
        .await
        .assert_error(401, "Token has been revoked");
    }
    for session in [&mut here, &mut stranger] {
        let reply = browse(&app, session, |s: &TestSession| {
            s.with_cookies(HttpRequest::get("/me"))
        })
        .await;
        reply.assert_status(200);
    }
    assert_eq!(jwt.end_all_sessions("7").await.expect("ended"), 1);
    assert!(jwt.sessions("7").await.expect("sessions").is_empty());
}

#[tokio::test]
async fn a_renewed_login_keeps_its_place_with_fresh_tokens_and_every_earlier_token_dies() {
    let users = Users::default();
    // A grace window, to show that the refresh token the login had gets none.
    let jwt = manager(&users, Duration::from_secs(30));
    let app = app(&jwt);
    let mut here = logged_in(&jwt, &users, "7").await;
    let mut elsewhere = logged_in(&jwt, &users, "7").await;
    let claim = |session: &TestSession, name: &str| {
        let token = session.access_token().expect("an access token");
        let decoded = jwt.decode_token(token, None, false).expect("decodes");
        decoded.claim(name).cloned().unwrap_or_default()
    };
    let family = |session: &TestSession| claim(session, jwt_extended::FAMILY_CLAIM);
    let login = |family: Value| {
        let family = family.as_str().map(str::to_owned);
        let jwt = jwt.clone();
        async move {
            let sessions = jwt.sessions("7").await.expect("sessions");
            sessions
                .into_iter()
                .find(|s| Some(&s.id) == family.as_ref())
        }
    };
    let before = here.clone();
    let was = login(family(&here)).await.expect("this login is listed");

    let reply = browse(&app, &mut here, |s: &TestSession| {
        s.with_cookies(HttpRequest::post("/auth/renew"))
    })
    .await;
    reply.assert_body(200, &json!({"ended": 1}));
    assert_eq!(reply.set_cookies().len(), 4, "{:?}", reply.set_cookies());
    assert_eq!(claim(&here, "fresh"), json!(true));
    assert_eq!(claim(&here, "role"), json!("reader"));
    let now = login(family(&here))
        .await
        .expect("the renewed login is listed");
    assert_eq!(jwt.sessions("7").await.expect("sessions").len(), 1);
    assert_eq!(
        (now.created_at, &now.user_agent),
        (was.created_at, &was.user_agent),
        "the login keeps its time and browser"
    );
    let me = |s: &TestSession| s.with_cookies(HttpRequest::get("/me"));
    browse(&app, &mut here, me).await.assert_status(200);
    browse(&app, &mut elsewhere, me)
        .await
        .assert_error(401, "Token has been revoked");

    // Copies of the tokens this login had before: dead, and presenting them ends nothing.
    let mut copy = before.clone();
    browse(&app, &mut copy, me)
        .await
        .assert_error(401, "Token has been revoked");
    browse(&app, &mut copy, |_: &TestSession| {
        before.with_refresh_cookies(HttpRequest::post("/auth/refresh"))
    })
    .await
    .assert_error(401, "Token has been revoked");
    browse(&app, &mut here, me).await.assert_status(200);
    browse(&app, &mut here, |s: &TestSession| {
        s.with_refresh_cookies(HttpRequest::post("/auth/refresh"))
    })
    .await
    .assert_error(200, "Token refreshed");
}

/// The memory store, counting how often a user's whole list of logins is read.
#[derive(Clone, Default)]
struct CountedLists {
    inner: MemorySessionStore,
    lists: Arc<AtomicUsize>,
}

impl RevocationStore for CountedLists {
    async fn is_revoked(&self, token: &DecodedToken) -> Result<bool, StoreError> {
        self.inner.is_revoked(token).await
    }

    async fn revoke(&self, jti: &str, expires_at: Option<i64>) -> Result<(), StoreError> {
        self.inner.revoke(jti, expires_at).await
    }
}

impl SessionStore for CountedLists {
    async fn create(&self, session: &SessionInfo, refresh: &RefreshId) -> Result<(), StoreError> {
        self.inner.create(session, refresh).await
    }

    async fn rotate(
        &self,
        family: &str,
        presented: &str,
        successor: &RefreshId,
        grace: Duration,
    ) -> Result<RotateOutcome, StoreError> {
        self.inner.rotate(family, presented, successor, grace).await
    }

    async fn revoke_family(&self, family: &str) -> Result<(), StoreError> {
        self.inner.revoke_family(family).await
    }

    async fn list(&self, user: &str) -> Result<Vec<SessionInfo>, StoreError> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        self.inner.list(user).await
    }

    async fn end(&self, user: &str, family: &str) -> Result<Option<SessionInfo>, StoreError> {
        self.inner.end(user, family).await
    }
}

#[tokio::test]
async fn ending_or_renewing_one_login_does_not_read_the_users_other_logins() {
    let users = Users::default();
    let store = CountedLists::default();
    let jwt = manager_on(store.clone(), &users, Duration::ZERO);
    let app = app(&jwt);
    let mut here = logged_in(&jwt, &users, "7").await;
    let mut families = Vec::new();
    for _ in 0..200 {
        let other = logged_in(&jwt, &users, "7").await;
        let token = other.access_token().expect("an access token");
        let decoded = jwt.decode_token(token, None, false).expect("decodes");
        let family = decoded.claim(jwt_extended::FAMILY_CLAIM).cloned();
        families.push(
            family
                .and_then(|f| f.as_str().map(str::to_owned))
                .expect("a family"),
        );
    }

    browse(&app, &mut here, |s: &TestSession| {
        s.with_cookies(HttpRequest::post("/auth/renew-this"))
    })
    .await
    .assert_status(200);
    assert!(
        !jwt.end_session("8", &families[0]).await.expect("answer"),
        "not theirs"
    );
    assert!(jwt.end_session("7", &families[0]).await.expect("answer"));
    assert!(
        !jwt.end_session("7", &families[0]).await.expect("answer"),
        "ended already"
    );
    assert_eq!(
        store.lists.load(Ordering::SeqCst),
        0,
        "the user's logins were read"
    );

    assert_eq!(jwt.sessions("7").await.expect("sessions").len(), 200);
    browse(&app, &mut here, |s: &TestSession| {
        s.with_cookies(HttpRequest::get("/me"))
    })
    .await
    .assert_status(200);
}
