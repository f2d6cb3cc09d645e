//! The text log when it is not a terminal (a file, a pipe, journald): the
//! lines tracing-subscriber's default format writes without colours, byte for
//! byte, written with fewer instructions.
//!
//! Every request logs one line (the access log) inside its span. With the
//! default format, writing that line and the span's fields cost about 16,000
//! instructions, a sixth of a status request: the fields go through
//! `nu_ansi_term` paint wrappers that paint nothing, and the message through
//! an escaping writer that copies one character at a time. Here fields and
//! message are copied a run at a time, and only the rare character that
//! needs it is escaped (the same escapes, so no terminal injection either).
//! Events from the `log` crate show their own target and level, as in the
//! default format; error fields, rare, go through tracing-subscriber's own
//! visitor.

use std::{
    cell::Cell,
    fmt::{self, Write as _},
};

use tracing::{Event, Level, Subscriber, field::Field};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::{
    field::{MakeVisitor, Visit, VisitFmt, VisitOutput},
    fmt::{
        FmtContext, FormatEvent, FormatFields, FormattedFields,
        format::{DefaultVisitor, Writer},
        time::{FormatTime, SystemTime},
    },
    registry::LookupSpan,
};

use crate::db::{FRACTION, TEXT_LEN, put_digits, stored_form};

/// The event format: `Format<Full>` without colours (timestamp, level, the
/// spans from the root with their fields, target, fields). For a layer
/// `with_ansi(false)`: an error field is written by tracing-subscriber's own
/// visitor, which paints when the layer says so.
#[derive(Debug, Clone, Default)]
pub struct PlainFormat<T> {
    timer: T,
}

impl<T> PlainFormat<T> {
    /// Timestamps from `timer` (tracing-subscriber's `SystemTime` in memo).
    pub fn new(timer: T) -> Self {
        Self { timer }
    }
}

impl<S, N, T> FormatEvent<S, N> for PlainFormat<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    T: FormatTime,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        if self.timer.format_time(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        writer.write_char(' ')?;
        writer.write_str(level_str(meta.level()))?;
        writer.write_char(' ')?;
        if let Some(scope) = ctx.event_scope() {
            let mut seen = false;
            for span in scope.from_root() {
                writer.write_str(span.metadata().name())?;
                seen = true;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    writer.write_char('{')?;
                    writer.write_str(fields)?;
                    writer.write_char('}')?;
                }
                writer.write_char(':')?;
            }
            if seen {
                writer.write_char(' ')?;
            }
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// The level as the default format pads it to five characters.
fn level_str(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

/// The field format: `DefaultFields` without colours, used for the spans'
/// fields and the events' alike.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainFields;

impl<'w> MakeVisitor<Writer<'w>> for PlainFields {
    type Visitor = PlainVisitor<'w>;

    fn make_visitor(&self, writer: Writer<'w>) -> Self::Visitor {
        PlainVisitor {
            writer,
            is_empty: true,
            result: Ok(()),
        }
    }
}

/// tracing-subscriber's `SystemTime` timestamps (RFC 3339 in UTC with
/// microseconds, `2026-12-05T00:18:01.123456Z`), with the date and time of
/// day formatted once a second per thread instead of for every line: that
/// was 2,000 instructions of each request's access line
/// (bench/instructions.sh). Before 1970 or after 9999 it hands over to
/// `SystemTime`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemTimeBySecond;

thread_local! {
    /// The second this thread last wrote, and its text.
    static LAST_SECOND: Cell<Option<(u64, [u8; TEXT_LEN])>> = const { Cell::new(None) };
}

impl FormatTime for SystemTimeBySecond {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let now = std::time::SystemTime::now();
        let Some((second, micros)) = now
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|since| (since.as_secs(), since.subsec_micros()))
        else {
            return SystemTime.format_time(w);
        };
        let text = second_text(second).map(|text| time_text(&text, micros));
        match text
            .as_ref()
            .and_then(|text| std::str::from_utf8(text).ok())
        {
            Some(text) => w.write_str(text),
            None => SystemTime.format_time(w),
        }
    }
}

/// The text of `second` (since the epoch), from this thread's last one when
/// it is the same second.
fn second_text(second: u64) -> Option<[u8; TEXT_LEN]> {
    LAST_SECOND.with(|last| match last.get() {
        Some((seen, text)) if seen == second => Some(text),
        _ => {
            let text = format_second(second)?;
            last.set(Some((second, text)));
            Some(text)
        }
    })
}

/// `second` since the epoch as a memo's stored time is written (the same
/// RFC 3339 form); `None` after 9999.
fn format_second(second: u64) -> Option<[u8; TEXT_LEN]> {
    let micros = i64::try_from(second).ok()?.checked_mul(1_000_000)?;
    stored_form(micros).ok()
}

/// The whole timestamp: the second's text with `micros` as its fraction.
fn time_text(second: &[u8; TEXT_LEN], micros: u32) -> [u8; TEXT_LEN] {
    let mut text = *second;
    put_digits(&mut text[FRACTION], micros);
    text
}

/// Writes `name=value` pairs separated by spaces, the message bare first.
#[derive(Debug)]
pub struct PlainVisitor<'w> {
    writer: Writer<'w>,
    is_empty: bool,
    result: fmt::Result,
}

impl PlainVisitor<'_> {
    fn pad(&mut self) -> fmt::Result {
        if self.is_empty {
            self.is_empty = false;
            Ok(())
        } else {
            self.writer.write_char(' ')
        }
    }

    /// `name=` as the default format writes it (a raw identifier's `r#` dropped).
    fn name(&mut self, field: &Field) -> fmt::Result {
        let name = field.name();
        self.writer
            .write_str(name.strip_prefix("r#").unwrap_or(name))?;
        self.writer.write_char('=')
    }

    fn write_str_field(&mut self, field: &Field, value: &str) -> fmt::Result {
        self.pad()?;
        if field.name() == "message" {
            return write_escaped(&mut self.writer, value);
        }
        self.name(field)?;
        if is_plain(value) {
            self.writer.write_char('"')?;
            self.writer.write_str(value)?;
            self.writer.write_char('"')
        } else {
            write!(self.writer, "{value:?}")
        }
    }

    fn write_debug_field(&mut self, field: &Field, value: &dyn fmt::Debug) -> fmt::Result {
        self.pad()?;
        if field.name() == "message" {
            return write!(Escaping(&mut self.writer), "{value:?}");
        }
        self.name(field)?;
        write!(self.writer, "{value:?}")
    }
}

impl Visit for PlainVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() && !is_log_metadata(field) {
            self.result = self.write_str_field(field, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_ok() && !is_log_metadata(field) {
            self.result = self.write_debug_field(field, value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.result.is_err() {
            return;
        }
        // The error and its sources, as the default format lists them.
        let mut default = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        default.record_error(field, value);
        self.result = default.finish();
        self.is_empty = false;
    }
}

impl VisitOutput<fmt::Result> for PlainVisitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for PlainVisitor<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

/// Fields the `log` bridge adds (`log.target`, ...): the format shows them
/// as the event's own target and place instead.
fn is_log_metadata(field: &Field) -> bool {
    field.name().starts_with("log.")
}

/// Whether `{:?}` of `value` is `value` in quotes: printable ASCII without a
/// quote or backslash.
fn is_plain(value: &str) -> bool {
    value
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
}

/// Whether the default format's sanitizing writer would change `c`.
fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' | '\u{80}'..='\u{9f}'
    )
}

/// `s` with terminal control characters escaped as tracing-subscriber does.
fn write_escaped(out: &mut dyn fmt::Write, s: &str) -> fmt::Result {
    let mut rest = s;
    while let Some((at, c)) = rest.char_indices().find(|&(_, c)| needs_escape(c)) {
        out.write_str(&rest[..at])?;
        match c {
            '\x1b' => out.write_str("\\x1b")?,
            '\x07' => out.write_str("\\x07")?,
            '\x08' => out.write_str("\\x08")?,
            '\x0c' => out.write_str("\\x0c")?,
            '\x7f' => out.write_str("\\x7f")?,
            c => write!(out, "\\u{{{:x}}}", u32::from(c))?,
        }
        rest = &rest[at + c.len_utf8()..];
    }
    out.write_str(rest)
}

/// A writer that escapes what passes through it, a run at a time.
struct Escaping<'a>(&'a mut dyn fmt::Write);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_escaped(self.0, s)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io,
        sync::{Arc, Mutex},
    };

    use tracing_subscriber::{
        Layer, Registry,
        filter::LevelFilter,
        fmt::layer,
        layer::{Layered, SubscriberExt as _},
    };

    use super::*;

    /// A clock that always says the same, so two formats' lines compare.
    #[derive(Clone, Copy)]
    struct Fixed;

    impl FormatTime for Fixed {
        fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
            w.write_str("2026-12-03T10:00:00.000000Z")
        }
    }

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer \u{1b}[31mfailure")]
    struct Outer(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner cause")]
    struct Inner;

    /// Logs a spread of events: what the access log writes, and the
    /// awkward cases (escapes, quotes, non-ASCII, errors, raw names, nested
    /// spans, a span without fields).
    fn log_everything() {
        let request = tracing::info_span!("request", method = %"GET", path = %"/api/memos", request_id = "9f-1");
        let _in_request = request.enter();
        tracing::info!(latency = %format_args!("{} ms", 3), status = 200_u16, "finished processing request");
        tracing::warn!(error = %"db \"down\"", "revocation store unavailable; access token let through (fail open)");
        let outer = tracing::debug_span!("outer");
        let _in_outer = outer.enter();
        tracing::error!(
            error = &Outer(Inner) as &(dyn std::error::Error + 'static),
            "failed"
        );
        tracing::info!(
            name = "メモ \u{9b}x \u{1b}[0m \\ \"q\"",
            r#type = "raw",
            n = -5_i64,
            ok = true,
            f = 1.5_f64,
            "a message with \u{1b}[2J, \u{85} and \u{7f}"
        );
        tracing::info!(only = 1_u64);
        tracing::trace!("not shown at debug");
        tracing::info!(target: "custom::target", "{} and {:?}", "formatted", "debug");
    }

    type DebugRegistry = Layered<LevelFilter, Registry>;

    /// What `log_everything` writes through `layer` (at DEBUG) into `captured`.
    fn logged_by<L>(layer: L, captured: &Captured) -> String
    where
        L: Layer<DebugRegistry> + Send + Sync + 'static,
    {
        let subscriber = tracing_subscriber::registry()
            .with(LevelFilter::DEBUG)
            .with(layer);
        tracing::subscriber::with_default(subscriber, log_everything);
        captured.text()
    }

    #[test]
    fn lines_match_tracing_subscribers_default_format_without_colours() {
        let (o, t) = (Captured::default(), Captured::default());
        let (to_o, to_t) = (o.clone(), t.clone());
        let ours = logged_by(
            layer()
                .with_ansi(false)
                .fmt_fields(PlainFields)
                .event_format(PlainFormat::new(Fixed))
                .with_writer(move || to_o.clone()),
            &o,
        );
        let theirs = logged_by(
            layer()
                .with_ansi(false)
                .with_timer(Fixed)
                .with_writer(move || to_t.clone()),
            &t,
        );

        assert_eq!(ours.lines().count(), 6, "{ours}");
        assert!(
            ours.contains(r#"request{method=GET path=/api/memos request_id="9f-1"}: "#),
            "{ours}"
        );
        assert!(
            ours.contains("finished processing request latency=3 ms status=200"),
            "{ours}"
        );
        assert!(
            ours.contains("\\x1b[2J"),
            "the message's escape is escaped: {ours}"
        );
        assert_eq!(ours, theirs);
    }

    /// `YYYY-MM-DDTHH:MM:SS.`: the text up to the fraction.
    const SECOND_TEXT: usize = FRACTION.start;

    /// What a timer writes, as a string.
    fn written(timer: &impl FormatTime) -> String {
        let mut text = String::new();
        timer
            .format_time(&mut Writer::new(&mut text))
            .expect("a time");
        text
    }

    #[test]
    fn timestamps_are_those_of_tracing_subscribers_system_time() {
        // Theirs between two of ours: when both of ours show the same second,
        // so does theirs, and all three agree up to the microseconds.
        let (ours, theirs) = loop {
            let before = written(&SystemTimeBySecond);
            let theirs = written(&SystemTime);
            let after = written(&SystemTimeBySecond);
            if before[..SECOND_TEXT] == after[..SECOND_TEXT] {
                break (after, theirs);
            }
        };
        assert_eq!(ours.len(), theirs.len(), "{ours} / {theirs}");
        assert_eq!(ours[..SECOND_TEXT], theirs[..SECOND_TEXT]);
        assert!(ours.ends_with('Z') && ours[SECOND_TEXT..26].bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn each_second_is_written_as_its_date_and_time_of_day() {
        let text = |second: u64, micros: u32| {
            let prefix = format_second(second).expect("a year up to 9999");
            String::from_utf8(time_text(&prefix, micros).to_vec()).expect("ASCII")
        };
        assert_eq!(text(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(text(951_782_399, 7), "2000-02-28T23:59:59.000007Z");
        assert_eq!(text(951_782_400, 999_999), "2000-02-29T00:00:00.999999Z");
        assert_eq!(text(1_709_251_199, 120), "2024-02-29T23:59:59.000120Z");
        assert_eq!(text(1_796_343_481, 123_456), "2026-12-04T00:18:01.123456Z");
        assert_eq!(text(253_402_300_799, 1), "9999-12-31T23:59:59.000001Z");
        assert_eq!(
            format_second(253_402_300_800),
            None,
            "year 10000 is SystemTime's"
        );
        // Another second on the same thread is written anew.
        assert_eq!(second_text(0), format_second(0));
        assert_eq!(second_text(86_400), format_second(86_400));
        assert_eq!(second_text(86_400), format_second(86_400));
    }
}
