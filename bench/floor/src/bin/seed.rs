//! `bench-seed`: fills one account with memos through `POST /api/memos`, many
//! requests in flight at once, so that the scaling rows can hold 100,000 memos
//! in an account within minutes while every memo still takes the path a user's
//! does (validation, the SQLite group commit or PostgreSQL, the search index).
//!
//! Memo `n` (for `n` in `--from..=--to`) is titled `memo n` and holds a sentence
//! or two of Japanese and English; exactly the memos with `n % 100 == 1` also say
//! `本日の週次議事録を共有します。`, so a search for `議事録` has a known number of
//! hits: 1 in 20 memos, 10 in 1,000, 1,000 in 100,000 (bench/lib/scale.sh searches it).
//! Every answer must be 201, or the tool stops with the first failure.
//!
//! `bench-seed --url http://127.0.0.1:PORT --cookie 'access_token_cookie=...'
//!  --csrf CSRF --from 1 --to 1000 [--connections 32]`
//! prints `BENCH_SEED created=N seconds=S`.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use reqwest::Client;

const SENTENCES: [&str; 7] = [
    "今日は晴れ。午前中に買い物へ行き、午後は図書館で本を読んだ。",
    "Meeting notes: review the budget, then plan the next release.",
    "新しいレシピを試してみた。味は少し薄かったので次は塩を足す。",
    "Remember to renew the passport before the trip in spring.",
    "プロジェクトの進捗を確認し、課題を三つ洗い出した。",
    "Call the dentist on Monday; the appointment moved to 3 pm.",
    "駅前のカフェは静かで作業がはかどる。",
];

struct Args {
    url: String,
    cookie: String,
    csrf: String,
    from: u64,
    to: u64,
    connections: usize,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        cookie: String::new(),
        csrf: String::new(),
        from: 1,
        to: 0,
        connections: 32,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => args.url = value()?,
            "--cookie" => args.cookie = value()?,
            "--csrf" => args.csrf = value()?,
            "--from" => args.from = value()?.parse().map_err(|e| format!("--from: {e}"))?,
            "--to" => args.to = value()?.parse().map_err(|e| format!("--to: {e}"))?,
            "--connections" => {
                args.connections = value()?
                    .parse()
                    .map_err(|e| format!("--connections: {e}"))?;
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.url.is_empty() || args.cookie.is_empty() || args.csrf.is_empty() {
        return Err("--url, --cookie and --csrf are required".into());
    }
    Ok(args)
}

/// The body of memo `n`.
fn memo(n: u64) -> serde_json::Value {
    let i = usize::try_from(n).unwrap_or(0);
    let mut content = format!(
        "{} {}",
        SENTENCES[i % SENTENCES.len()],
        SENTENCES[(i / 7) % SENTENCES.len()]
    );
    if n % 100 == 1 {
        content.push_str("本日の週次議事録を共有します。");
    }
    serde_json::json!({ "title": format!("memo {n}"), "content": content })
}

/// Creates memos until the shared counter passes `args.to`.
async fn worker(client: Client, args: Arc<Args>, next: Arc<AtomicU64>) -> Result<u64, String> {
    let url = format!("{}/api/memos", args.url);
    let mut created = 0;
    loop {
        let n = next.fetch_add(1, Ordering::Relaxed);
        if n > args.to {
            return Ok(created);
        }
        let response = client
            .post(&url)
            .header("Cookie", &args.cookie)
            .header("X-CSRF-TOKEN", &args.csrf)
            .json(&memo(n))
            .send()
            .await
            .map_err(|e| format!("memo {n}: {e}"))?;
        let status = response.status();
        if status != reqwest::StatusCode::CREATED {
            let body = response.text().await.unwrap_or_default();
            return Err(format!("memo {n}: expected 201, got {status}: {body}"));
        }
        created += 1;
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-seed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let args = Arc::new(args()?);
    let client = Client::builder().build().map_err(|e| e.to_string())?;
    let next = Arc::new(AtomicU64::new(args.from));
    let began = Instant::now();
    let tasks: Vec<_> = (0..args.connections.max(1))
        .map(|_| tokio::spawn(worker(client.clone(), args.clone(), next.clone())))
        .collect();
    let mut created = 0;
    for task in tasks {
        created += task.await.map_err(|e| e.to_string())??;
    }
    println!(
        "BENCH_SEED created={created} seconds={:.2}",
        began.elapsed().as_secs_f64()
    );
    Ok(())
}
