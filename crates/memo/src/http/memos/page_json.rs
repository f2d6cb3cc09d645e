//! A page of memos, or one memo, as JSON, written straight into the
//! response's buffer: the same bytes as serde_json writes for `[Memo]` and
//! `Memo`, with fewer instructions.
//!
//! serde_json writes every key of every memo through its string escaper (120
//! keys a page) and scans every string a byte at a time; escaping was 33,000
//! of a 20-memo page's 220,000 instructions (bench/instructions.sh). Here the
//! keys are constant bytes, and a string is scanned 16 bytes at a time for
//! the few bytes JSON escapes; only a string that holds one goes through
//! serde_json's escaper. The test below holds this to serde_json's output.

use axum::{
    http::header,
    response::{IntoResponse, Response},
};

use super::APPLICATION_JSON;
use crate::db::Memo;

/// A memo as the body of an answer (create, read, change), written by the
/// same writer as a page's memos.
pub(super) struct MemoJson(pub(super) Memo);

impl IntoResponse for MemoJson {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(room_for(&self.0));
        write_memo(&self.0, &mut body);
        json_response(body)
    }
}

/// A page of memos as the body of an answer, written into a buffer sized for
/// it up front: `Json` grows its buffer by doubling, and those reallocations
/// and copies were 4% of a 20-memo page's instructions
/// (bench/instructions.sh). Only escapes (`\n`, `\"`) can outgrow the
/// estimate.
pub(super) fn page_response(memos: &[Memo]) -> Response {
    let mut body = Vec::with_capacity(memos.iter().map(room_for).sum::<usize>() + 2);
    write_page(memos, &mut body);
    json_response(body)
}

fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, APPLICATION_JSON)], body).into_response()
}

/// A memo's JSON beyond its title and content: the keys, the id, the flag
/// and two RFC 3339 timestamps (about 150 bytes).
const MEMO_JSON_OVERHEAD: usize = 160;

/// The bytes `memo`'s JSON takes when nothing in it is escaped.
fn room_for(memo: &Memo) -> usize {
    memo.title.len() + memo.content.len() + MEMO_JSON_OVERHEAD
}

/// Appends the JSON array of `memos` to `out`.
fn write_page(memos: &[Memo], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, memo) in memos.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_memo(memo, out);
    }
    out.push(b']');
}

/// One memo: [`Memo`]'s fields in their order, as its derived `Serialize`
/// writes them.
fn write_memo(memo: &Memo, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"id\":");
    out.extend_from_slice(itoa::Buffer::new().format(memo.id).as_bytes());
    out.extend_from_slice(b",\"title\":");
    write_str(&memo.title, out);
    out.extend_from_slice(b",\"content\":");
    write_str(&memo.content, out);
    out.extend_from_slice(if memo.archived {
        b",\"archived\":true,\"created_at\":"
    } else {
        b",\"archived\":false,\"created_at\":"
    });
    write_str(memo.created_at.answered(), out);
    out.extend_from_slice(b",\"updated_at\":");
    write_str(memo.updated_at.answered(), out);
    out.push(b'}');
}

/// A JSON string: copied as is when nothing in it needs an escape, else
/// escaped by serde_json.
fn write_str(s: &str, out: &mut Vec<u8>) {
    if needs_escape(s.as_bytes()) {
        // Writing into a Vec cannot fail, nor can serializing a str.
        let _ = serde_json::to_writer(&mut *out, s);
    } else {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    }
}

/// Whether `bytes` hold a byte JSON escapes (a control character below
/// 0x20, `"` or `\`). Checked 16 bytes at a time without an early exit
/// inside a chunk, so that the compiler checks a chunk with vector
/// instructions; the last few bytes are checked as a chunk padded with
/// spaces.
fn needs_escape(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(16);
    if chunks.by_ref().any(chunk_needs_escape) {
        return true;
    }
    let rest = chunks.remainder();
    let mut last = [b' '; 16];
    last[..rest.len()].copy_from_slice(rest);
    chunk_needs_escape(&last)
}

fn chunk_needs_escape(chunk: &[u8]) -> bool {
    chunk.iter().fold(false, |any, &b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

#[cfg(test)]
mod tests {
    use time::{Duration, macros::datetime};

    use super::*;
    use crate::db::Timestamp;

    fn memo(id: i64, title: &str, content: &str, archived: bool, micros: i64) -> Memo {
        let at = datetime!(2026-12-04 23:59:59 UTC) + Duration::microseconds(micros);
        let time = |at| Timestamp::try_from(at).expect("a year RFC 3339 writes");
        Memo {
            id,
            title: title.to_owned(),
            content: content.to_owned(),
            archived,
            created_at: time(at),
            updated_at: time(at + Duration::milliseconds(1500)),
        }
    }

    fn by_hand(memos: &[Memo]) -> String {
        let mut out = Vec::new();
        write_page(memos, &mut out);
        String::from_utf8(out).expect("JSON is UTF-8")
    }

    fn by_serde(memos: &[Memo]) -> String {
        serde_json::to_string(memos).expect("memos serialize")
    }

    #[test]
    fn a_page_is_written_as_serde_json_writes_it() {
        let mut every_char = String::new();
        for c in (0u32..0x800).filter_map(char::from_u32) {
            every_char.push(c);
        }
        let memos = [
            memo(1, "plain", "a memo", false, 0),
            memo(2, "", "", true, 1),
            memo(i64::MAX, "\"quoted\"", "back\\slash", false, 120_000),
            memo(
                -7,
                "tab\there",
                "line\nbreak\r\n\u{0}\u{1f}\u{7f}",
                true,
                999_999,
            ),
            memo(40, "メモ", &"日本語のメモ。".repeat(14_286), false, 500_000),
            memo(41, "😀 emoji", &every_char, false, 10),
            // A byte to escape in each position of a 16-byte chunk and in the tail.
            memo(42, "0123456789abcde\"", "0123456789abcdef0\u{8}", false, 3),
        ];
        assert_eq!(by_hand(&memos), by_serde(&memos));
        for one in &memos {
            assert_eq!(
                by_hand(std::slice::from_ref(one)),
                by_serde(std::slice::from_ref(one))
            );
        }
        assert_eq!(by_hand(&[]), "[]");
    }

    #[test]
    fn every_byte_json_escapes_is_found_wherever_it_stands() {
        for len in 0..40 {
            for at in 0..len {
                for byte in (0u8..0x20).chain([b'"', b'\\']) {
                    let mut s = vec![b'a'; len];
                    s[at] = byte;
                    assert!(needs_escape(&s), "{byte:#x} at {at} of {len}");
                }
            }
            assert!(!needs_escape(&vec![b'a'; len]));
        }
        assert!(!needs_escape("メモ 😀 \u{7f}".as_bytes()));
    }
}
