//! `bench-walk`: follows `GET /api/memos` page by page through its
//! `Link: <...>; rel="next"` headers (RFC 8288), as a client of the paging
//! contract does, and checks each page on the way: at most `--limit` memos,
//! ids ascending across pages (the default order) and never repeated, and with
//! `--contains WORD` every memo's title or content holding WORD.
//!
//! With `--stop-after N` it stops at the first `next` link past N memos and
//! prints it (`BENCH_WALK next=PATH?QUERY ...`): the scaling rows measure that
//! deep page. Without it, it walks to the end; `--expect-total N` then requires
//! exactly N memos. A server that answers more than `--limit` memos, or stops
//! giving `next` links too early, does not page: the tool says so and fails.
//!
//! `bench-walk --url http://127.0.0.1:PORT --cookie 'access_token_cookie=...'
//!  --start '/api/memos?limit=20' --limit 20 [--stop-after N] [--expect-total N]
//!  [--contains WORD]`

use std::{collections::HashSet, time::Instant};

use reqwest::{Client, Url, header::LINK};
use serde::Deserialize;

const NOT_PAGING: &str = "the server does not page GET /api/memos as the contract says \
(shared/spec/api-contract.md, \"Paging, order and search\": at most ?limit= memos, a \
Link rel=\"next\" header while more follow); the scaling rows need that paging API (issue 10)";

struct Args {
    url: String,
    cookie: String,
    start: String,
    limit: usize,
    stop_after: Option<usize>,
    expect_total: Option<usize>,
    contains: Option<String>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        url: String::new(),
        cookie: String::new(),
        start: String::new(),
        limit: 0,
        stop_after: None,
        expect_total: None,
        contains: None,
    };
    let mut it = std::env::args().skip(1);
    let number = |flag: &str, v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--url" => args.url = value,
            "--cookie" => args.cookie = value,
            "--start" => args.start = value,
            "--limit" => args.limit = number(&flag, value)?,
            "--stop-after" => args.stop_after = Some(number(&flag, value)?),
            "--expect-total" => args.expect_total = Some(number(&flag, value)?),
            "--contains" => args.contains = Some(value),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.url.is_empty() || args.start.is_empty() || args.limit == 0 {
        return Err("--url, --start and --limit are required".into());
    }
    Ok(args)
}

#[derive(Deserialize)]
struct Memo {
    id: i64,
    #[serde(default)]
    title: String,
    #[serde(default)]
    content: String,
}

/// The target of the `rel="next"` link among a Link header's links.
fn next_link(value: &str) -> Option<&str> {
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let close = open + rest[open..].find('>')?;
        let target = &rest[open + 1..close];
        let after = &rest[close + 1..];
        let end = after.find('<').unwrap_or(after.len());
        let is_next = after[..end].split(';').any(|param| {
            let param = param.trim().trim_end_matches(',').trim();
            param
                .split_once('=')
                .filter(|(name, _)| name.trim().eq_ignore_ascii_case("rel"))
                .is_some_and(|(_, rel)| {
                    rel.trim()
                        .trim_matches('"')
                        .split_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
                })
        });
        if is_next {
            return Some(target);
        }
        rest = &after[end..];
    }
    None
}

/// The path and query of `url`, which must be on the server under test.
fn path_and_query(base: &Url, url: &Url) -> Result<String, String> {
    if url.origin() != base.origin() {
        return Err(format!("the next link {url} leaves the server {base}"));
    }
    Ok(match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    })
}

/// Walks the pages; returns the next link's path past `stop_after` memos, if any.
async fn walk(args: &Args) -> Result<(usize, usize, Option<String>), String> {
    let client = Client::builder().build().map_err(|e| e.to_string())?;
    let base: Url = args.url.parse().map_err(|e| format!("--url: {e}"))?;
    let mut url = base
        .join(&args.start)
        .map_err(|e| format!("--start: {e}"))?;
    let (mut seen, mut last, mut pages) = (HashSet::new(), None::<i64>, 0);
    loop {
        let response = client
            .get(url.clone())
            .header("Cookie", &args.cookie)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        let next = response
            .headers()
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| next_link(v).map(str::to_owned));
        let body = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("GET {url}: {status}: {body}"));
        }
        let memos: Vec<Memo> = serde_json::from_str(&body)
            .map_err(|e| format!("GET {url}: not a JSON array of memos: {e}"))?;
        pages += 1;
        if memos.len() > args.limit {
            return Err(format!(
                "GET {url} answered {} memos for limit {}: {NOT_PAGING}",
                memos.len(),
                args.limit
            ));
        }
        for memo in &memos {
            if !seen.insert(memo.id) {
                return Err(format!("memo {} came twice (page {pages}, {url})", memo.id));
            }
            if last.is_some_and(|l| memo.id <= l) {
                return Err(format!(
                    "memo {} after memo {:?}: not in id order (page {pages})",
                    memo.id, last
                ));
            }
            last = Some(memo.id);
            if let Some(word) = &args.contains
                && !memo.title.contains(word.as_str())
                && !memo.content.contains(word.as_str())
            {
                return Err(format!(
                    "memo {} holds no {word:?} but was found by {url}",
                    memo.id
                ));
            }
        }
        let Some(next) = next else {
            return Ok((seen.len(), pages, None));
        };
        url = url
            .join(&next)
            .map_err(|e| format!("bad next link {next:?}: {e}"))?;
        if args.stop_after.is_some_and(|n| seen.len() >= n) {
            return Ok((seen.len(), pages, Some(path_and_query(&base, &url)?)));
        }
        if memos.is_empty() {
            return Err(format!("GET {url}: an empty page with a next link"));
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-walk: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let args = args()?;
    let began = Instant::now();
    let (memos, pages, next) = walk(&args).await?;
    let seconds = began.elapsed().as_secs_f64();
    if let Some(next) = next {
        println!("BENCH_WALK next={next} memos={memos} pages={pages} seconds={seconds:.2}");
        return Ok(());
    }
    if let Some(n) = args.stop_after {
        return Err(format!(
            "no Link rel=\"next\" after {memos} memos in {pages} page(s), wanted more than {n}: {NOT_PAGING}"
        ));
    }
    if let Some(n) = args.expect_total
        && memos != n
    {
        let why = if pages == 1 {
            format!(": {NOT_PAGING}")
        } else {
            String::new()
        };
        return Err(format!(
            "walked {memos} memos in {pages} page(s), expected {n}{why}"
        ));
    }
    println!("BENCH_WALK end memos={memos} pages={pages} seconds={seconds:.2}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::next_link;

    #[test]
    fn finds_the_next_link_among_others() {
        let header = r#"</api/memos?cursor=a%2Cb&limit=20>; rel="prev", </api/memos?cursor=xyz&limit=20>; rel="next""#;
        assert_eq!(next_link(header), Some("/api/memos?cursor=xyz&limit=20"));
        assert_eq!(
            next_link(r#"<http://h/x?c=1>; title="t"; rel="next last""#),
            Some("http://h/x?c=1")
        );
        assert_eq!(
            next_link("<http://h/x?c=1>; rel=next"),
            Some("http://h/x?c=1")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
    }
}
