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
use jwt_extended::{Jwt, JwtConfig, JwtManager, TokenLocation};
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

criterion_group!(benches, guard);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: skip the slow part
    // there, and when profiling (`--profile-time`) or listing.
    let args: Vec<String> = std::env::args().collect();
    let profiling = args.iter().any(|a| a == "--profile-time" || a == "--list");
    if args.iter().any(|a| a == "--bench") && !profiling {
        interleaved_ratio();
    }
}
