//! The cost of the whole guard next to a bare `jsonwebtoken::decode` of the same token.
//!
//! `cargo bench -p jwt-extended --bench guard` (3 s per benchmark). The figures and the
//! ratio are recorded in the crate README.
//!
//! - `bare_decode`: `jsonwebtoken::decode::<serde_json::Value>` with `Validation::new(HS256)`
//!   (signature, `exp` required and checked).
//! - `guard_cookie_csrf_post`: the `Jwt` extractor on a POST carrying the access cookie, the
//!   CSRF cookie and `X-CSRF-TOKEN`: find the cookie, check the CSRF presence, verify HS256,
//!   check the claims, the CSRF value and the type, and build the typed `Claims`.
//! - `guard_bearer_get`: the same extractor on a GET with `Authorization: Bearer`.
//! - `create_access_token` and `bare_encode`: minting, ours next to `jsonwebtoken::encode`.
//! - `refresh_*`: a whole refresh (the `RefreshToken` extractor on a cookie POST, `rotate` in a
//!   memory session store, the four cookies), with the cookies made from the minted tokens
//!   (`minted`, what `IssuedTokens::cookies` does) or by decoding them again (`decoded`, what
//!   `set_access_cookies(&str)` does, the way before `MintedToken`). Measured interleaved.
//! - With `--features redis` and a local Redis: `RedisStore::rotate` in one round trip next to
//!   the same preceded by the `HGET` of the family's user the store used to make first.

use std::{
    future::Future,
    hint::black_box,
    pin::pin,
    task::{Context, Poll, Waker},
    time::Duration,
};

use axum::extract::{FromRef, FromRequestParts};
use criterion::{Criterion, criterion_group};
use http::{Request, header};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use jwt_extended::{
    JsonObject, Jwt, JwtConfig, JwtManager, MemorySessionStore, RefreshToken, TokenLocation,
};
use serde_json::Value;

const SECRET: &[u8] = b"a long random secret from the environment, 32+ bytes";

#[derive(Clone)]
struct State {
    jwt: JwtManager,
}

impl FromRef<State> for JwtManager {
    fn from_ref(state: &State) -> Self {
        state.jwt.clone()
    }
}

/// Polls a future that never waits (no revocation store, no user loader) to completion,
/// without a runtime in the measurement.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the guard waited although nothing can make it wait"),
    }
}

fn guard(c: &mut Criterion) {
    let config = JwtConfig::default()
        .with_secret_key(SECRET)
        .with_token_location([TokenLocation::Cookies, TokenLocation::Headers]);
    let jwt = JwtManager::new(config).expect("valid config");
    let token = jwt
        .access_token("alice")
        .claim("department", "CTO Office")
        .encode()
        .expect("token");
    let csrf = jwt
        .get_csrf_token(&token)
        .expect("valid")
        .expect("a csrf claim");
    let state = State { jwt: jwt.clone() };

    let mut group = c.benchmark_group("guard");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    let key = DecodingKey::from_secret(SECRET);
    let validation = Validation::new(Algorithm::HS256);
    group.bench_function("bare_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<Value>(black_box(&token), &key, &validation)
                .expect("valid token")
        });
    });

    let (mut post, ()) = Request::post("/memos")
        .header(
            header::COOKIE,
            format!("access_token_cookie={token}; csrf_access_token={csrf}"),
        )
        .header("x-csrf-token", &csrf)
        .body(())
        .expect("request")
        .into_parts();
    group.bench_function("guard_cookie_csrf_post", |b| {
        b.iter(|| {
            let Jwt(claims) = ready(Jwt::<jwt_extended::JsonObject>::from_request_parts(
                black_box(&mut post),
                &state,
            ))
            .expect("accepted");
            claims
        });
    });

    let (mut get, ()) = Request::get("/memos")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(())
        .expect("request")
        .into_parts();
    group.bench_function("guard_bearer_get", |b| {
        b.iter(|| {
            let Jwt(claims) = ready(Jwt::<jwt_extended::JsonObject>::from_request_parts(
                black_box(&mut get),
                &state,
            ))
            .expect("accepted");
            claims
        });
    });

    group.bench_function("create_access_token", |b| {
        b.iter(|| jwt.create_access_token(black_box("alice")).expect("token"));
    });

    let encoding = EncodingKey::from_secret(SECRET);
    let payload: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.split('.').nth(1).expect("payload"),
        )
        .expect("base64"),
    )
    .expect("json");
    group.bench_function("bare_encode", |b| {
        b.iter(|| {
            jsonwebtoken::encode(&Header::default(), black_box(&payload), &encoding).expect("token")
        });
    });
    group.finish();
}

/// Criterion measures one benchmark after the other, so on a shared machine a change of load
/// between `bare_decode` and the guard moves their ratio. This measures them interleaved:
/// short batches of each, back to back in rotating order, and prints the medians of the
/// per-round times and ratios.
fn interleaved_ratio() {
    const ROUNDS: usize = 301;
    const BATCH: u32 = 500;
    let config = JwtConfig::default()
        .with_secret_key(SECRET)
        .with_token_location([TokenLocation::Cookies, TokenLocation::Headers]);
    let jwt = JwtManager::new(config).expect("valid config");
    let token = jwt
        .access_token("alice")
        .claim("department", "CTO Office")
        .encode()
        .expect("token");
    let csrf = jwt
        .get_csrf_token(&token)
        .expect("valid")
        .expect("a csrf claim");
    let state = State { jwt };
    let key = DecodingKey::from_secret(SECRET);
    let validation = Validation::new(Algorithm::HS256);
    let (mut post, ()) = Request::post("/memos")
        .header(
            header::COOKIE,
            format!("access_token_cookie={token}; csrf_access_token={csrf}"),
        )
        .header("x-csrf-token", &csrf)
        .body(())
        .expect("request")
        .into_parts();
    let (mut get, ()) = Request::get("/memos")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(())
        .expect("request")
        .into_parts();
    let mut bare = || {
        black_box(jsonwebtoken::decode::<Value>(black_box(&token), &key, &validation).expect("ok"));
    };
    let mut cookie = || {
        black_box(
            ready(Jwt::<jwt_extended::JsonObject>::from_request_parts(
                black_box(&mut post),
                &state,
            ))
            .expect("accepted"),
        );
    };
    let mut bearer = || {
        black_box(
            ready(Jwt::<jwt_extended::JsonObject>::from_request_parts(
                black_box(&mut get),
                &state,
            ))
            .expect("accepted"),
        );
    };
    let runs: [&mut dyn FnMut(); 3] = [&mut bare, &mut cookie, &mut bearer];
    // times[i][r]: microseconds per call of runs[i] in round r.
    let mut times = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..ROUNDS {
        for k in 0..3 {
            let i = (round + k) % 3;
            let start = std::time::Instant::now();
            for _ in 0..BATCH {
                runs[i]();
            }
            times[i].push((start.elapsed() / BATCH).as_secs_f64() * 1e6);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let ratio = |i: usize| median(times[i].iter().zip(&times[0]).map(|(g, b)| g / b).collect());
    println!(
        "interleaved, {ROUNDS} rounds of {BATCH} calls each, medians: bare_decode {:.2} µs, \
         guard_cookie_csrf_post {:.2} µs (ratio {:.2}), guard_bearer_get {:.2} µs (ratio {:.2})",
        median(times[0].clone()),
        median(times[1].clone()),
        ratio(1),
        median(times[2].clone()),
        ratio(2),
    );
}

/// A logged-in SPA that refreshes again and again: each round presents the refresh token the
/// previous one received, as cookies with the CSRF header.
struct Refresher {
    state: State,
    refresh: String,
    csrf: String,
}

impl Refresher {
    fn new() -> Self {
        let config = JwtConfig::default()
            .with_secret_key(SECRET)
            .with_token_location([TokenLocation::Cookies]);
        let jwt = JwtManager::builder(config)
            .session_store(MemorySessionStore::new())
            .build()
            .expect("valid config");
        let mut claims = JsonObject::new();
        claims.insert("department".into(), "CTO Office".into());
        let tokens = ready(jwt.login("alice", claims, None)).expect("login");
        Self {
            refresh: tokens.refresh.as_str().to_owned(),
            csrf: tokens.refresh.csrf().unwrap_or_default().to_owned(),
            state: State { jwt },
        }
    }

    /// One refresh; `decode_again` makes the cookies from the tokens' text, as before.
    fn refresh(&mut self, decode_again: bool) -> usize {
        let (mut parts, ()) = Request::post("/auth/refresh")
            .header(
                header::COOKIE,
                format!("refresh_token_cookie={}", self.refresh),
            )
            .header("x-csrf-token", &self.csrf)
            .body(())
            .expect("request")
            .into_parts();
        let token =
            ready(RefreshToken::from_request_parts(&mut parts, &self.state)).expect("accepted");
        let jwt = &self.state.jwt;
        let tokens = ready(jwt.rotate(&token)).expect("rotated");
        let cookies = if decode_again {
            jwt.set_access_cookies(tokens.access.as_str())
                .expect("verifies")
                .and(
                    jwt.set_refresh_cookies(tokens.refresh.as_str())
                        .expect("verifies"),
                )
        } else {
            tokens.cookies()
        };
        self.refresh = tokens.refresh.as_str().to_owned();
        self.csrf = tokens.refresh.csrf().unwrap_or_default().to_owned();
        black_box(cookies).header_values().len()
    }
}

fn refresh(c: &mut Criterion) {
    let mut group = c.benchmark_group("refresh");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut minted = Refresher::new();
    group.bench_function("refresh_minted", |b| b.iter(|| minted.refresh(false)));
    let mut decoded = Refresher::new();
    group.bench_function("refresh_decoded", |b| b.iter(|| decoded.refresh(true)));
    group.finish();
}

/// Medians of per-round times of `runs`, measured interleaved (see [`interleaved_ratio`]).
fn interleave(runs: &mut [&mut dyn FnMut()], rounds: usize, batch: u32) -> Vec<Vec<f64>> {
    let n = runs.len();
    let mut times = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        for k in 0..n {
            let i = (round + k) % n;
            let start = std::time::Instant::now();
            for _ in 0..batch {
                runs[i]();
            }
            times[i].push((start.elapsed() / batch).as_secs_f64() * 1e6);
        }
    }
    times
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The refresh A/B, interleaved.
fn interleaved_refresh() {
    let (mut minted, mut decoded) = (Refresher::new(), Refresher::new());
    let mut a = || {
        black_box(minted.refresh(false));
    };
    let mut b = || {
        black_box(decoded.refresh(true));
    };
    let times = interleave(&mut [&mut a, &mut b], 201, 100);
    let ratio = median(times[1].iter().zip(&times[0]).map(|(d, m)| d / m).collect());
    println!(
        "interleaved refresh, 201 rounds of 100: refresh_minted {:.2} µs, refresh_decoded {:.2} µs \
         (decoded / minted {ratio:.2})",
        median(times[0].clone()),
        median(times[1].clone()),
    );
}

/// `RedisStore::rotate` (one round trip) next to the same after an `HGET` of the family's
/// user (the round trip it made first before), interleaved, on the local Redis.
#[cfg(feature = "redis")]
fn interleaved_redis_rotation() {
    use jwt_extended::{RedisStore, RefreshId, SessionInfo, SessionStore};
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let prefix = format!("jwt-bench-{}", std::process::id());
    let Ok(store) = runtime.block_on(RedisStore::connect(&url, &prefix)) else {
        println!("redis rotation: skipped, no Redis at {url}");
        return;
    };
    let client = redis::Client::open(url.as_str()).expect("url");
    let mut conn = runtime
        .block_on(client.get_multiplexed_async_connection())
        .expect("connection");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut current = [String::from("a-0"), String::from("b-0")];
    for (family, jti) in ["a", "b"].iter().zip(&current) {
        let session = SessionInfo {
            id: (*family).into(),
            user: "alice".into(),
            created_at: now,
            last_used_at: now,
            user_agent: None,
            expires_at: Some(now + 600),
        };
        let first = RefreshId {
            jti: jti.clone(),
            exp: Some(now + 600),
        };
        runtime
            .block_on(store.create(&session, &first))
            .expect("create");
    }
    let mut counter = 0u64;
    let mut rotate = |family: usize, read_user_first: bool| {
        counter += 1;
        let next = RefreshId {
            jti: format!("{family}-{counter}"),
            exp: Some(now + 600),
        };
        let fam = ["a", "b"][family];
        runtime.block_on(async {
            if read_user_first {
                let key = format!("{prefix}:fam:{fam}");
                let _: Option<String> = redis::cmd("HGET")
                    .arg(key)
                    .arg("user")
                    .query_async(&mut conn)
                    .await
                    .expect("hget");
            }
            let outcome = store
                .rotate(fam, &current[family], &next, Duration::ZERO)
                .await
                .expect("rotate");
            assert_eq!(outcome, jwt_extended::RotateOutcome::Rotated);
        });
        current[family] = next.jti;
    };
    let cell = std::cell::RefCell::new(&mut rotate);
    let mut one = || (cell.borrow_mut())(0, false);
    let mut two = || (cell.borrow_mut())(1, true);
    let times = interleave(&mut [&mut one, &mut two], 101, 50);
    println!(
        "interleaved redis rotation, 101 rounds of 50: one round trip {:.1} µs, with the HGET first \
         {:.1} µs",
        median(times[0].clone()),
        median(times[1].clone()),
    );
    let keys: Vec<String> = runtime
        .block_on(
            redis::cmd("KEYS")
                .arg(format!("{prefix}:*"))
                .query_async(&mut conn),
        )
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = runtime.block_on(redis::cmd("DEL").arg(keys).query_async(&mut conn));
    }
}

criterion_group!(benches, guard, refresh);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: skip the slow part
    // there, and when profiling (`--profile-time`) or listing.
    let args: Vec<String> = std::env::args().collect();
    let profiling = args.iter().any(|a| a == "--profile-time" || a == "--list");
    if args.iter().any(|a| a == "--bench") && !profiling {
        interleaved_ratio();
        interleaved_refresh();
        #[cfg(feature = "redis")]
        interleaved_redis_rotation();
    }
}
