//! The process's log lines on stderr: human-readable (colour only when stderr is a terminal
//! and `NO_COLOR` is unset or empty) or, with `--log-format json` / `BIONER_LOG_FORMAT=json`,
//! one JSON object per line for Loki, Elasticsearch or CloudWatch. The level filter comes from
//! `RUST_LOG` (tracing-subscriber's `EnvFilter` syntax, default `info`), as documented in
//! docs/OPERATIONS.md.

use std::io::IsTerminal;
use std::sync::OnceLock;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How log lines are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `2026-12-02T06:15:00.123Z  INFO target: message key=value`
    #[default]
    Text,
    /// `{"timestamp":…,"level":"INFO","target":…,"message":…,"run_id":…,…}`
    Json,
}

/// The format chosen at start-up, for commands that print more than log lines.
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// The log format of this process (`Text` before [`init`]).
pub fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// The run id every JSON line carries once `bioner run` has chosen it.
static RUN_ID: OnceLock<String> = OnceLock::new();

/// Records the run id for the JSON lines that follow (the first call wins).
pub fn set_run_id(id: &str) {
    let _ = RUN_ID.set(id.to_string());
}

/// Installs the global subscriber: stderr, `RUST_LOG` filter, `format` lines.
pub fn init(format: LogFormat) {
    let _ = FORMAT.set(format);
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec).unwrap_or_else(|e| {
            eprintln!("bioner: RUST_LOG={spec:?} is not a log filter: {e}");
            std::process::exit(2)
        }),
        _ => EnvFilter::new("info"),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(colour(std::io::stderr().is_terminal()))
            .init(),
        LogFormat::Json => builder.event_format(JsonLines).init(),
    }
}

/// Colour only on a terminal, and not there either when `NO_COLOR` is set to anything
/// (no-color.org).
fn colour(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// One JSON object per event: timestamp (RFC 3339, UTC), level, target, message, run id, and
/// the event's own fields (`input`, `record`, `reason` for a rejected record).
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        let now = time::OffsetDateTime::now_utc();
        let timestamp = now
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|_| std::fmt::Error)?;
        line.insert("timestamp".into(), Value::String(timestamp));
        line.insert("level".into(), Value::String(meta.level().to_string()));
        line.insert("target".into(), Value::String(meta.target().to_string()));
        if let Some(id) = RUN_ID.get() {
            line.insert("run_id".into(), Value::String(id.clone()));
        }
        event.record(&mut Fields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Collects an event's fields into the JSON object. Events from the `log` crate (librdkafka's
/// own client code) carry their target as `log.target`: it replaces `target`, and the other
/// `log.*` fields are dropped.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        match field.name() {
            "log.target" => {
                self.0.insert("target".into(), value);
            }
            name if name.starts_with("log.") => {}
            name => {
                self.0.insert(name.to_string(), value);
            }
        }
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_string()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
}
