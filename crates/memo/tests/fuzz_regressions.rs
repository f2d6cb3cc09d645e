//! The fuzz targets without libFuzzer: CI replays every seed
//! (`fuzz/seeds/<target>/`), every input a fuzzer run ever crashed on
//! (`fuzz/regressions/<target>/`, committed by whoever found it), and a
//! bounded, seeded loop of random mutations of those, through the same
//! harness the cargo-fuzz targets call (`fuzz/src/lib.rs`). The fuzzers
//! themselves run from `scripts/fuzz.sh`.

#[path = "../../../fuzz/src/lib.rs"]
mod harness;

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Every file under `fuzz/<kind>/<target>/` (not the `.keep` markers).
fn inputs(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.file_name().is_some_and(|n| n != ".keep"))
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a readable input");
            (path.display().to_string(), bytes)
        })
        .collect();
    files.sort();
    files
}

/// A small deterministic PRNG (xorshift64*), so a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }
}

/// libFuzzer-like mutations: flip, insert, delete, splice a dictionary
/// word, duplicate a slice.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    const WORDS: [&[u8]; 14] = [
        b"\xff",
        b".",
        b"=",
        b";",
        b"\"",
        b"Bearer ",
        b"access_token_cookie=",
        b"refresh_token_cookie=",
        b"eyJhbGciOiJub25lIn0",
        b"{}",
        b"null",
        b"\\u0000",
        b"99999999999999999999",
        b",",
    ];
    for _ in 0..=rng.below(4) {
        let at = rng.below(input.len() + 1);
        match rng.below(5) {
            0 if !input.is_empty() => {
                let i = at.min(input.len() - 1);
                input[i] ^= 1 << rng.below(8);
            }
            1 => input.insert(at, u8::try_from(rng.below(256)).unwrap_or(0)),
            2 if at < input.len() => {
                let end = (at + rng.below(8) + 1).min(input.len());
                input.drain(at..end);
            }
            3 => {
                let word = WORDS[rng.below(WORDS.len())];
                input.splice(at..at, word.iter().copied());
            }
            _ if at < input.len() && input.len() < 4096 => {
                let end = (at + rng.below(16) + 1).min(input.len());
                let slice = input[at..end].to_vec();
                input.splice(at..at, slice);
            }
            _ => {}
        }
    }
}

/// Replays seeds and regressions, then `rounds` random mutations.
fn run(target: &str, check: fn(&[u8]), extra_seeds: Vec<Vec<u8>>, rounds: usize) {
    let mut corpus: Vec<Vec<u8>> = extra_seeds;
    for kind in ["seeds", "regressions"] {
        for (name, bytes) in inputs(kind, target) {
            eprintln!("replaying {name}");
            check(&bytes);
            corpus.push(bytes);
        }
    }
    assert!(!corpus.is_empty(), "no seeds for {target}");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ target.len() as u64);
    for round in 0..rounds {
        let mut input = corpus[rng.below(corpus.len())].clone();
        mutate(&mut rng, &mut input);
        let shown = String::from_utf8_lossy(&input).into_owned();
        let outcome = std::panic::catch_unwind(|| check(&input));
        assert!(
            outcome.is_ok(),
            "{target}: round {round} panicked on {shown:?}; save it under fuzz/regressions/{target}/"
        );
    }
}

#[test]
fn decode_token_regressions_and_random_inputs() {
    let (access, _) = harness::valid_access_token();
    let refresh = harness::valid_refresh_token();
    run(
        "decode_token",
        harness::check_decode_token,
        vec![access.into_bytes(), refresh.into_bytes()],
        20_000,
    );
}

#[test]
fn header_regressions_and_random_inputs() {
    let (access, csrf) = harness::valid_access_token();
    let mut live = vec![1u8];
    live.extend_from_slice(format!("access_token_cookie={access}").as_bytes());
    live.push(0xFF);
    live.push(0xFF);
    live.extend_from_slice(csrf.as_bytes());
    run("headers", harness::check_headers, vec![live], 3_000);
}

#[test]
fn the_body_harness_reaches_the_handlers() {
    // Valid bodies succeed, so the fuzzer's inputs get past authentication.
    for (seed, status) in [("memo", 201), ("patch", 200), ("login", 200)] {
        let path = fuzz_dir().join("seeds/bodies").join(seed);
        let bytes = std::fs::read(&path).expect("the seed");
        assert_eq!(
            harness::body_status(&bytes).map(|s| s.as_u16()),
            Some(status),
            "{seed}"
        );
    }
}

#[test]
fn body_regressions_and_random_inputs() {
    run("bodies", harness::check_body, Vec::new(), 600);
}
