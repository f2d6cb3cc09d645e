//! A memo's times, as stored and as answered.
//!
//! SQLite keeps a time as RFC 3339 text in UTC with six fraction digits (so the
//! text sorts as the time does); the API answers the same instant as `time`'s
//! RFC 3339 writer does, the fraction's trailing zeros trimmed. A page of 20
//! memos holds 40 times, and parsing each with `time`'s generic RFC 3339
//! parser and formatting it again cost about a sixth of the list's
//! instructions. A [`Timestamp`] keeps the instant (for cursors and
//! comparisons) beside its fixed-width text: read from SQLite, the text is
//! checked and kept as it is; written to JSON, it is only trimmed.

use std::{cmp::Ordering, fmt};

use serde::{Serialize, Serializer};
use time::{
    Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset,
    format_description::well_known::Rfc3339,
};

/// `2026-11-26T08:37:01.123456Z`
pub(crate) const TEXT_LEN: usize = 27;
/// The stored form: `0` stands for any digit.
const SHAPE: [u8; TEXT_LEN] = *b"0000-00-00T00:00:00.000000Z";
/// Where the fraction's digits are in the text.
pub(crate) const FRACTION: std::ops::Range<usize> = 20..26;

/// An instant cut to whole microseconds, in UTC, with its answered text.
#[derive(Clone, Copy)]
pub struct Timestamp {
    at: OffsetDateTime,
    /// The answered text in its first `len` bytes.
    text: [u8; TEXT_LEN],
    len: usize,
}

/// The time cannot be written as RFC 3339 (its year is outside 0 to 9999).
#[derive(Debug, thiserror::Error)]
#[error("the year {0} cannot be written as RFC 3339")]
pub struct YearOutOfRange(i32);

impl Timestamp {
    /// The instant.
    #[must_use]
    pub fn at(&self) -> OffsetDateTime {
        self.at
    }

    /// The text as the API answers it: the fraction's trailing zeros trimmed,
    /// and the fraction left out when it is zero (as `time` writes RFC 3339).
    #[must_use]
    #[allow(unsafe_code)]
    pub fn answered(&self) -> &str {
        let text = &self.text[..self.len];
        debug_assert!(text.is_ascii());
        // SAFETY: `text` is ASCII: `from_fixed` keeps only bytes it checked
        // against `SHAPE` (ASCII digits and separators), and `try_from` and
        // `trimmed` write only those. A checked conversion here cost 5,000
        // instructions a page, a third of what this type saves
        // (bench/instructions.sh, docs/performance.md).
        unsafe { std::str::from_utf8_unchecked(text) }
    }

    /// Keeps `at` with its text in the stored form, trimmed to the answered one.
    fn trimmed(at: OffsetDateTime, mut text: [u8; TEXT_LEN]) -> Self {
        let zeros = text[FRACTION]
            .iter()
            .rev()
            .take_while(|&&b| b == b'0')
            .count();
        // Without a fraction the '.' goes too: `...:01Z`.
        let end = if zeros == FRACTION.len() {
            FRACTION.start - 1
        } else {
            FRACTION.end - zeros
        };
        text[end] = b'Z';
        Self {
            at,
            text,
            len: end + 1,
        }
    }

    /// Reads a time as SQLite stores it. The stored form is checked byte by
    /// byte and kept; any other RFC 3339 text (rows of versions before
    /// migration 0003) is parsed and rewritten in the stored form.
    #[must_use]
    pub fn from_stored(text: &[u8]) -> Option<Self> {
        Self::from_fixed(text).or_else(|| {
            let text = std::str::from_utf8(text).ok()?;
            let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
            Self::try_from(at).ok()
        })
    }

    /// The stored form, read without `time`'s general RFC 3339 parser (40
    /// times a page).
    fn from_fixed(bytes: &[u8]) -> Option<Self> {
        let text: [u8; TEXT_LEN] = bytes.try_into().ok()?;
        let shaped = text.iter().zip(SHAPE).all(|(&b, expected)| match expected {
            b'0' => b.is_ascii_digit(),
            _ => b == expected,
        });
        if !shaped {
            return None;
        }
        let digit = |i: usize| u32::from(text[i] - b'0');
        let two = |i: usize| (digit(i) * 10 + digit(i + 1)) as u8;
        let year = (0..4).fold(0, |n, i| n * 10 + digit(i)) as i32;
        let micro = FRACTION.fold(0, |n, i| n * 10 + digit(i));
        let date = Date::from_calendar_date(year, Month::try_from(two(5)).ok()?, two(8)).ok()?;
        let time = Time::from_hms_micro(two(11), two(14), two(17), micro).ok()?;
        Some(Self::trimmed(
            PrimitiveDateTime::new(date, time).assume_utc(),
            text,
        ))
    }
}

impl TryFrom<OffsetDateTime> for Timestamp {
    type Error = YearOutOfRange;

    /// Cuts `at` to whole microseconds (what both backends keep) in UTC.
    fn try_from(at: OffsetDateTime) -> Result<Self, Self::Error> {
        let (at, text) = stored_form(at)?;
        Ok(Self::trimmed(at, text))
    }
}

/// The text SQLite stores for `at` (binds and inserts), the form
/// [`Timestamp::from_stored`] reads.
pub(crate) fn stored_text(at: OffsetDateTime) -> Result<String, YearOutOfRange> {
    let (_, text) = stored_form(at)?;
    Ok(text.iter().map(|&b| char::from(b)).collect())
}

/// `at` in UTC cut to whole microseconds, and its stored form (also the text
/// log's timestamp, `telemetry::plain_text`).
pub(crate) fn stored_form(
    at: OffsetDateTime,
) -> Result<(OffsetDateTime, [u8; TEXT_LEN]), YearOutOfRange> {
    let utc = at.checked_to_offset(UtcOffset::UTC);
    let at = utc.ok_or(YearOutOfRange(at.year()))?;
    let at = at.replace_microsecond(at.microsecond()).unwrap_or(at);
    let year = u32::try_from(at.year())
        .ok()
        .filter(|&y| y <= 9999)
        .ok_or(YearOutOfRange(at.year()))?;
    let mut text = SHAPE;
    put_digits(&mut text[0..4], year);
    put_digits(&mut text[5..7], u32::from(u8::from(at.month())));
    put_digits(&mut text[8..10], u32::from(at.day()));
    put_digits(&mut text[11..13], u32::from(at.hour()));
    put_digits(&mut text[14..16], u32::from(at.minute()));
    put_digits(&mut text[17..19], u32::from(at.second()));
    put_digits(&mut text[FRACTION], at.microsecond());
    Ok((at, text))
}

/// `value`'s last `out.len()` decimal digits, zero-padded, into `out`.
pub(crate) fn put_digits(out: &mut [u8], mut value: u32) {
    for digit in out.iter_mut().rev() {
        // A digit is below 10: the cast cannot truncate.
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at
    }
}

impl Eq for Timestamp {}

impl PartialOrd for Timestamp {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Timestamp {
    fn cmp(&self, other: &Self) -> Ordering {
        self.at.cmp(&other.at)
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.answered())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.answered())
    }
}

/// PostgreSQL keeps `timestamptz`, which sqlx reads as an `OffsetDateTime`.
impl sqlx::Type<sqlx::Postgres> for Timestamp {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <OffsetDateTime as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <OffsetDateTime as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::Postgres> for Timestamp {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let at = <OffsetDateTime as sqlx::Decode<'r, sqlx::Postgres>>::decode(value)?;
        Ok(Self::try_from(at)?)
    }
}

#[cfg(test)]
mod tests {
    use time::{Duration, macros::datetime};

    use super::*;

    /// What the API answered before: `time`'s RFC 3339 serializer.
    fn time_json(at: OffsetDateTime) -> String {
        #[derive(Serialize)]
        struct At(#[serde(with = "time::serde::rfc3339")] OffsetDateTime);
        serde_json::to_string(&At(at)).expect("a year in 0..=9999 serializes")
    }

    fn instants() -> impl Iterator<Item = OffsetDateTime> {
        let base = datetime!(2026-11-26 08:37:01 UTC);
        let micros = [
            0, 1, 10, 100, 1_000, 10_000, 100_000, 120_000, 123_450, 999_999,
        ];
        let days = [-739_000, -1, 0, 31, 365 * 4 + 1, 2_000_000];
        days.into_iter().flat_map(move |d| {
            micros
                .into_iter()
                .map(move |us| base + Duration::days(d) + Duration::microseconds(us))
        })
    }

    #[test]
    fn answers_exactly_what_times_rfc3339_serializer_wrote() {
        for at in instants() {
            let stamp = Timestamp::try_from(at).expect("in range");
            assert_eq!(
                serde_json::to_string(&stamp).ok(),
                Some(time_json(at)),
                "{at}"
            );
            assert_eq!(stamp.at(), at);
        }
    }

    #[test]
    fn the_stored_form_is_read_back_to_the_same_instant_and_answer() {
        for at in instants() {
            let stored = stored_text(at).expect("in range");
            let read = Timestamp::from_stored(stored.as_bytes()).expect("the stored form reads");
            assert_eq!(read.at(), at, "{stored}");
            assert_eq!(
                serde_json::to_string(&read).ok(),
                Some(time_json(at)),
                "{stored}"
            );
        }
    }

    #[test]
    fn other_rfc3339_forms_are_parsed_and_nonsense_is_refused() {
        let read =
            |text: &str| Timestamp::from_stored(text.as_bytes()).map(|t| t.answered().to_owned());
        assert_eq!(
            read("2026-11-26T08:37:01.5Z").as_deref(),
            Some("2026-11-26T08:37:01.5Z")
        );
        assert_eq!(
            read("2026-11-26T09:37:01+01:00").as_deref(),
            Some("2026-11-26T08:37:01Z")
        );
        assert_eq!(
            read("2026-11-26T08:37:01.1234567Z").as_deref(),
            Some("2026-11-26T08:37:01.123456Z")
        );
        for nonsense in [
            "2026-13-26T08:37:01.000000Z",
            "2026-02-30T08:37:01.000000Z",
            "2026-11-26T24:37:01.000000Z",
            "2026-11-26T08:37:01.00000aZ",
            "2026-11-26T08:37:01.000000",
            "",
        ] {
            assert!(
                Timestamp::from_stored(nonsense.as_bytes()).is_none(),
                "{nonsense}"
            );
        }
    }

    #[test]
    fn other_offsets_are_written_in_utc_and_a_year_rfc3339_cannot_write_is_an_error() {
        let at = datetime!(2026-01-01 00:00 UTC)
            .replace_year(-1)
            .expect("time holds year -1");
        assert!(Timestamp::try_from(at).is_err());
        // In UTC this is the first hour of year 10000.
        assert!(Timestamp::try_from(datetime!(9999-12-31 23:30 -01:00)).is_err());
        let tokyo = datetime!(2026-11-26 17:37:01.5 +09:00);
        let in_utc = Timestamp::try_from(tokyo).map(|t| t.answered().to_owned());
        assert_eq!(in_utc.ok().as_deref(), Some("2026-11-26T08:37:01.5Z"));
    }
}
