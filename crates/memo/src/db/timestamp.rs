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
//!
//! The instant is kept as microseconds since the Unix epoch, and the calendar
//! date worked out from the day's number by [`civil_from_days`]: read from
//! PostgreSQL through `time` (sqlx's `OffsetDateTime`, then its year, month,
//! day and clock), a time cost 495 instructions, a tenth of a page's
//! (docs/performance.md, "A memo's times from their microseconds").

use std::{cmp::Ordering, fmt};

use serde::{Serialize, Serializer};
use sqlx::postgres::PgValueFormat;
use time::{Duration, Month, OffsetDateTime, format_description::well_known::Rfc3339};

/// `2026-11-26T08:37:01.123456Z`
pub(crate) const TEXT_LEN: usize = 27;
/// The stored form: `0` stands for any digit.
const SHAPE: [u8; TEXT_LEN] = *b"0000-00-00T00:00:00.000000Z";
/// Where the fraction's digits are in the text.
pub(crate) const FRACTION: std::ops::Range<usize> = 20..26;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
/// PostgreSQL counts its times' microseconds from 2000-01-01 UTC.
const POSTGRES_EPOCH_MICROS: i64 = 10_957 * MICROS_PER_DAY;

/// An instant cut to whole microseconds, in UTC, with its answered text.
#[derive(Clone, Copy)]
pub struct Timestamp {
    /// Microseconds since 1970-01-01 UTC.
    micros: i64,
    /// The answered text in its first `len` bytes.
    text: [u8; TEXT_LEN],
    len: usize,
}

/// The time cannot be written as RFC 3339 (its year is outside 0 to 9999).
#[derive(Debug, thiserror::Error)]
#[error("the year {0} cannot be written as RFC 3339")]
pub struct YearOutOfRange(i64);

impl Timestamp {
    /// The instant.
    #[must_use]
    pub fn at(&self) -> OffsetDateTime {
        // A year from 0 to 9999 (every `Timestamp`'s) is within `time`'s range: nothing
        // saturates.
        OffsetDateTime::UNIX_EPOCH.saturating_add(Duration::microseconds(self.micros))
    }

    /// The text as the API answers it: the fraction's trailing zeros trimmed,
    /// and the fraction left out when it is zero (as `time` writes RFC 3339).
    #[must_use]
    #[allow(unsafe_code)]
    pub fn answered(&self) -> &str {
        let text = &self.text[..self.len];
        debug_assert!(text.is_ascii());
        // SAFETY: `text` is ASCII: `from_fixed` keeps only bytes it checked
        // against `SHAPE` (ASCII digits and separators), and `stored_form`
        // (`put_digits`) and `trimmed` write only those. A checked conversion
        // here cost 5,000 instructions a page, a third of what this type saves
        // (bench/instructions.sh, docs/performance.md).
        unsafe { std::str::from_utf8_unchecked(text) }
    }

    /// Keeps the instant `micros` with its text in the stored form, trimmed to the
    /// answered one.
    fn trimmed(micros: i64, mut text: [u8; TEXT_LEN]) -> Self {
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
            micros,
            text,
            len: end + 1,
        }
    }

    /// The instant `micros` microseconds after 1970-01-01 UTC.
    ///
    /// # Errors
    /// Its year is outside 0 to 9999 (RFC 3339's).
    pub fn from_unix_micros(micros: i64) -> Result<Self, YearOutOfRange> {
        let text = stored_form(micros)?;
        Ok(Self::trimmed(micros, text))
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
        let two = |i: usize| digit(i) * 10 + digit(i + 1);
        let year = (0..4).fold(0, |n, i| n * 10 + digit(i));
        let (month, day) = (two(5), two(8));
        let (hour, minute, second) = (two(11), two(14), two(17));
        let micro = FRACTION.fold(0, |n, i| n * 10 + digit(i));
        // Four digits: the casts cannot truncate.
        let length = Month::try_from(month as u8).ok()?.length(year as i32);
        if day == 0 || day > u32::from(length) || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let seconds = i64::from(hour * 3_600 + minute * 60 + second);
        let micros = days * MICROS_PER_DAY + seconds * MICROS_PER_SECOND + i64::from(micro);
        Some(Self::trimmed(micros, text))
    }
}

/// The date of day `days` after 1970-01-01 in the proleptic Gregorian calendar:
/// (year, month 1-12, day 1-31). Howard Hinnant's `civil_from_days`
/// (<https://howardhinnant.github.io/date_algorithms.html>): `time` works it out
/// too, but only through an `OffsetDateTime` and one accessor at a time.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Days from 0000-03-01, so that a leap day ends its year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_based_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_based_month + 2) / 5 + 1;
    let month = if march_based_month < 10 {
        march_based_month + 3
    } else {
        march_based_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // A month is 1 to 12 and a day 1 to 31: the casts cannot truncate.
    (year, month as u32, day as u32)
}

/// The number of `year`-`month`-`day` counted from 1970-01-01 (0), the inverse
/// of [`civil_from_days`] for the years 0 to 9999 (the stored form's four
/// digits), worked out from the year -400 so that nothing is divided below zero.
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let year = year + 400 - u32::from(month <= 2);
    let (era, year_of_era) = (year / 400, year % 400);
    let march_based_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * march_based_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    i64::from(era * 146_097 + day_of_era) - 146_097 - 719_468
}

impl TryFrom<OffsetDateTime> for Timestamp {
    type Error = YearOutOfRange;

    /// Cuts `at` to whole microseconds (what both backends keep) in UTC.
    fn try_from(at: OffsetDateTime) -> Result<Self, Self::Error> {
        Self::from_unix_micros(unix_micros(at)?)
    }
}

/// `at` cut to whole microseconds (towards the past), counted from 1970-01-01 UTC.
fn unix_micros(at: OffsetDateTime) -> Result<i64, YearOutOfRange> {
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000))
        .map_err(|_| YearOutOfRange(at.year().into()))
}

/// The text SQLite stores for `at` (binds and inserts), the form
/// [`Timestamp::from_stored`] reads.
pub(crate) fn stored_text(at: OffsetDateTime) -> Result<String, YearOutOfRange> {
    let text = stored_form(unix_micros(at)?)?;
    Ok(text.iter().map(|&b| char::from(b)).collect())
}

/// The stored form of the instant `micros` microseconds after 1970-01-01 UTC
/// (also the text log's timestamp, `telemetry::plain_text`).
pub(crate) fn stored_form(micros: i64) -> Result<[u8; TEXT_LEN], YearOutOfRange> {
    let (year, month, day) = civil_from_days(micros.div_euclid(MICROS_PER_DAY));
    let year = u32::try_from(year)
        .ok()
        .filter(|&y| y <= 9999)
        .ok_or(YearOutOfRange(year))?;
    // Below a day's microseconds: the casts cannot truncate.
    let of_day = micros.rem_euclid(MICROS_PER_DAY);
    let second = (of_day / MICROS_PER_SECOND) as u32;
    let mut text = SHAPE;
    put_digits(&mut text[0..4], year);
    put_digits(&mut text[5..7], month);
    put_digits(&mut text[8..10], day);
    put_digits(&mut text[11..13], second / 3_600);
    put_digits(&mut text[14..16], second / 60 % 60);
    put_digits(&mut text[17..19], second % 60);
    put_digits(&mut text[FRACTION], (of_day % MICROS_PER_SECOND) as u32);
    Ok(text)
}

/// `"00"` to `"99"`, one after the other.
const DIGIT_PAIRS: [u8; 200] = {
    let mut pairs = [0; 200];
    let mut n = 0;
    while n < 100 {
        pairs[2 * n] = b'0' + (n / 10) as u8;
        pairs[2 * n + 1] = b'0' + (n % 10) as u8;
        n += 1;
    }
    pairs
};

/// `value`'s last `out.len()` decimal digits, zero-padded, into `out`: two digits at a
/// time from a table, which halves the divisions (a time's 20 digits, one at a time, cost
/// more than working out its date).
pub(crate) fn put_digits(out: &mut [u8], mut value: u32) {
    let mut end = out.len();
    while end >= 2 {
        let pair = (value % 100) as usize * 2;
        out[end - 2..end].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        value /= 100;
        end -= 2;
    }
    if end == 1 {
        // A digit is below 10: the cast cannot truncate.
        out[0] = b'0' + (value % 10) as u8;
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.micros == other.micros
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
        self.micros.cmp(&other.micros)
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

/// PostgreSQL keeps `timestamptz`, sqlx's type for an `OffsetDateTime`.
impl sqlx::Type<sqlx::Postgres> for Timestamp {
    fn type_info() -> sqlx::postgres::PgTypeInfo {
        <OffsetDateTime as sqlx::Type<sqlx::Postgres>>::type_info()
    }

    fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
        <OffsetDateTime as sqlx::Type<sqlx::Postgres>>::compatible(ty)
    }
}

/// In binary (every prepared statement's rows), `timestamptz` is the microseconds since
/// 2000-01-01 UTC, read here without an `OffsetDateTime` in between; `infinity` and
/// `-infinity` (the largest and smallest of them) are refused. In text (a simple query's
/// rows), it is read through sqlx's `OffsetDateTime`.
impl<'r> sqlx::Decode<'r, sqlx::Postgres> for Timestamp {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        if value.format() == PgValueFormat::Text {
            let at = <OffsetDateTime as sqlx::Decode<'r, sqlx::Postgres>>::decode(value)?;
            return Ok(Self::try_from(at)?);
        }
        let bytes: [u8; 8] = value.as_bytes()?.try_into()?;
        let micros = match i64::from_be_bytes(bytes) {
            i64::MAX | i64::MIN => {
                return Err("a time of infinity, which RFC 3339 cannot write".into());
            }
            // Beyond i64, the year is out of RFC 3339's all the same.
            micros => micros.saturating_add(POSTGRES_EPOCH_MICROS),
        };
        Ok(Self::from_unix_micros(micros)?)
    }
}

#[cfg(test)]
mod tests {
    use time::{Date, Duration, macros::datetime};

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
        // The stored form's leap days and bounds, read without the general parser.
        for (stored, at) in [
            (
                "2000-02-29T12:00:00.000000Z",
                datetime!(2000-02-29 12:00 UTC),
            ),
            (
                "0000-02-29T00:00:00.000000Z",
                datetime!(0000-02-29 00:00 UTC),
            ),
            (
                "0000-01-01T00:00:00.000000Z",
                datetime!(0000-01-01 00:00 UTC),
            ),
            (
                "9999-12-31T23:59:59.999999Z",
                datetime!(9999-12-31 23:59:59.999999 UTC),
            ),
        ] {
            let read = Timestamp::from_fixed(stored.as_bytes()).map(|t| t.at());
            assert_eq!(read, Some(at), "{stored}");
        }
        for nonsense in [
            "2026-13-26T08:37:01.000000Z",
            "2026-02-30T08:37:01.000000Z",
            "2026-11-26T24:37:01.000000Z",
            "2026-11-26T08:37:01.00000aZ",
            "2026-11-26T08:37:01.000000",
            "2026-00-26T08:37:01.000000Z",
            "2026-11-00T08:37:01.000000Z",
            "2026-11-26T08:60:01.000000Z",
            "2026-11-26T08:37:60.000000Z",
            "1900-02-29T08:37:01.000000Z",
            "2026-04-31T08:37:01.000000Z",
            "",
        ] {
            assert!(
                Timestamp::from_stored(nonsense.as_bytes()).is_none(),
                "{nonsense}"
            );
        }
    }

    #[test]
    fn every_day_of_the_years_0_to_9999_is_the_date_time_gives_it() {
        const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;
        let mut date = Date::from_calendar_date(0, Month::January, 1).expect("a date");
        let mut checked = 0;
        while date.year() <= 9999 {
            let days = i64::from(date.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY;
            let civil = civil_from_days(days);
            let expected = (
                i64::from(date.year()),
                u32::from(u8::from(date.month())),
                u32::from(date.day()),
            );
            assert_eq!(civil, expected, "day {days}");
            let year = u32::try_from(civil.0).expect("a year from 0");
            assert_eq!(days_from_civil(year, civil.1, civil.2), days, "{date}");
            checked += 1;
            let Some(next) = date.next_day() else { break };
            date = next;
        }
        assert_eq!(checked, 3_652_425);
    }

    #[test]
    fn digits_are_written_zero_padded_and_cut_to_their_room() {
        let written = |len: usize, value: u32| {
            let mut out = vec![b'x'; len];
            put_digits(&mut out, value);
            String::from_utf8(out).expect("digits")
        };
        assert_eq!(written(4, 2026), "2026");
        assert_eq!(written(4, 7), "0007");
        assert_eq!(written(6, 123_450), "123450");
        assert_eq!(written(6, 45), "000045");
        assert_eq!(written(2, 9), "09");
        assert_eq!(written(3, 12_345), "345");
        assert_eq!(written(1, 98), "8");
        assert_eq!(written(0, 5), "");
    }

    #[test]
    fn the_first_and_last_microseconds_rfc3339_writes_are_the_bounds() {
        let first = datetime!(0000-01-01 00:00 UTC);
        let last = datetime!(9999-12-31 23:59:59.999999 UTC);
        let micros = |at: OffsetDateTime| unix_micros(at).expect("in i64");
        for at in [first, last, datetime!(1969-12-31 23:59:59.999999 UTC)] {
            let stamp = Timestamp::from_unix_micros(micros(at)).expect("in range");
            assert_eq!(
                (stamp.at(), stamp.answered()),
                (at, time_json(at).trim_matches('"'))
            );
        }
        assert!(Timestamp::from_unix_micros(micros(first) - 1).is_err());
        assert!(Timestamp::from_unix_micros(micros(last) + 1).is_err());
        assert!(Timestamp::from_unix_micros(i64::MIN).is_err());
        assert!(Timestamp::from_unix_micros(i64::MAX).is_err());
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
