//! librdkafka's events at the level an operator should see them. Every Kafka client bioner
//! makes (the group consumer, its probe, the producer, the admin client) reports through
//! [`LogContext`], so a healthy run logs nothing at WARN or ERROR: reaching the end of a
//! partition is DEBUG, while a broker that cannot be reached stays a WARN (the client retries)
//! and failed authentication an ERROR, each with what to check.
//!
//! Log lines use the target `librdkafka` (`RUST_LOG=librdkafka=debug` shows the client's own
//! debug lines when `debug` is set in `[kafka] properties`).

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};

/// The client context of every bioner Kafka client: librdkafka's errors and log lines go to
/// `tracing` at the levels of [`error_level`] and [`log_level`].
#[derive(Debug, Default, Clone, Copy)]
pub struct LogContext;

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        log_line(level, fac, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        log_error(&error, reason);
    }
}

impl ConsumerContext for LogContext {}

/// How much an operator should care about a librdkafka event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Expected in a healthy run (the end of a partition).
    Debug,
    /// Routine (rebalances, reconnections that succeed).
    Info,
    /// Something is wrong but the client retries on its own (a broker away).
    Warn,
    /// Needs a person (authentication, authorisation, a fatal client error).
    Error,
}

/// The severity of a librdkafka error event and what to check, if anything.
pub fn error_level(error: &KafkaError) -> (Severity, &'static str) {
    use RDKafkaErrorCode as C;
    let Some(code) = error.rdkafka_error_code() else {
        return match error {
            KafkaError::PartitionEOF(_) => (Severity::Debug, ""),
            _ => (Severity::Warn, ""),
        };
    };
    match code {
        C::PartitionEOF => (Severity::Debug, ""),
        C::AllBrokersDown
        | C::BrokerTransportFailure
        | C::Resolve
        | C::BrokerNotAvailable
        | C::NetworkException
        | C::RequestTimedOut
        | C::OperationTimedOut
        | C::MessageTimedOut => (
            Severity::Warn,
            "the client retries; check that the brokers in [kafka] brokers are up and reachable",
        ),
        C::Authentication
        | C::SaslAuthenticationFailed
        | C::SSL
        | C::TopicAuthorizationFailed
        | C::GroupAuthorizationFailed
        | C::ClusterAuthorizationFailed => (
            Severity::Error,
            "check the security settings in [kafka] properties (security.protocol, sasl.*, ssl.*) \
             and the ACLs of this client",
        ),
        C::Fatal => (
            Severity::Error,
            "the client cannot continue; the run stops with the error",
        ),
        _ => (Severity::Warn, ""),
    }
}

/// Logs a librdkafka error event at its [`error_level`].
pub fn log_error(error: &KafkaError, reason: &str) {
    let (severity, hint) = error_level(error);
    let hint = if hint.is_empty() {
        String::new()
    } else {
        format!(" ({hint})")
    };
    match severity {
        Severity::Debug => tracing::debug!(target: "librdkafka", "{error}: {reason}"),
        Severity::Info => tracing::info!(target: "librdkafka", "{error}: {reason}"),
        Severity::Warn => tracing::warn!(target: "librdkafka", "{error}: {reason}{hint}"),
        Severity::Error => tracing::error!(target: "librdkafka", "{error}: {reason}{hint}"),
    }
}

/// The severity of one of librdkafka's own log lines: its syslog level, except that the
/// end of a partition and the steps of a rebalance are routine.
pub fn log_level(level: RDKafkaLogLevel, fac: &str, message: &str) -> Severity {
    let routine = message.contains("PartitionEOF")
        || message.contains("No more messages")
        || matches!(
            fac,
            "REBALANCE" | "ASSIGN" | "REVOKE" | "CGRPOP" | "JOIN" | "HEARTBEAT"
        );
    match level {
        _ if routine => Severity::Debug,
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => Severity::Error,
        RDKafkaLogLevel::Warning => Severity::Warn,
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => Severity::Info,
        RDKafkaLogLevel::Debug => Severity::Debug,
    }
}

fn log_line(level: RDKafkaLogLevel, fac: &str, message: &str) {
    match log_level(level, fac, message) {
        Severity::Debug => tracing::debug!(target: "librdkafka", "{fac}: {message}"),
        Severity::Info => tracing::info!(target: "librdkafka", "{fac}: {message}"),
        Severity::Warn => tracing::warn!(target: "librdkafka", "{fac}: {message}"),
        Severity::Error => tracing::error!(target: "librdkafka", "{fac}: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_eof_is_debug_and_a_broker_away_a_warning() {
        let eof = KafkaError::Global(RDKafkaErrorCode::PartitionEOF);
        assert_eq!(error_level(&eof).0, Severity::Debug);
        assert_eq!(error_level(&KafkaError::PartitionEOF(3)).0, Severity::Debug);
        let down = KafkaError::Global(RDKafkaErrorCode::AllBrokersDown);
        let (s, hint) = error_level(&down);
        assert_eq!(s, Severity::Warn);
        assert!(hint.contains("[kafka] brokers"), "{hint}");
        let auth = KafkaError::Global(RDKafkaErrorCode::SaslAuthenticationFailed);
        assert_eq!(error_level(&auth).0, Severity::Error);
    }

    #[test]
    fn librdkafka_log_lines_keep_their_level_unless_routine() {
        assert_eq!(
            log_level(
                RDKafkaLogLevel::Error,
                "FAIL",
                "Connect to ipv4#127.0.0.1:9 failed"
            ),
            Severity::Error
        );
        assert_eq!(
            log_level(RDKafkaLogLevel::Warning, "REBALANCE", "group rebalanced"),
            Severity::Debug
        );
        assert_eq!(
            log_level(RDKafkaLogLevel::Notice, "CONFWARN", "configuration"),
            Severity::Info
        );
    }
}
