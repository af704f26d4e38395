//! `GET /metrics`: Prometheus' text exposition format (version 0.0.4), written by hand.
//!
//! Why by hand and not `prometheus-client`: the server has a handful of fixed families
//! (executions and tool calls by status, two latency histograms, the pool's gauges), all
//! updated from one place; plain atomics and one formatter are less code than that crate's
//! registry and encoder, and the classic text format is what every Prometheus scrapes. A test
//! parses the output back.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use toolbridge::PoolStats;
use toolbridge_runtime::{ExecutionStatus, RuntimeExecutionResult, ToolErrorType};

/// Upper bounds (seconds) of the latency buckets.
const BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {}", bucket.load(Ordering::Relaxed));
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        #[allow(clippy::cast_precision_loss)]
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

/// The server's counters.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    executions: [AtomicU64; 4],
    running: AtomicI64,
    tool_calls: [AtomicU64; 3],
    execution_seconds: Histogram,
    tool_call_seconds: Histogram,
}

const EXECUTION_STATUSES: [ExecutionStatus; 4] =
    [ExecutionStatus::Success, ExecutionStatus::Error, ExecutionStatus::Cancelled, ExecutionStatus::Interrupted];
const CALL_STATUSES: [&str; 3] = ["success", "error", "cancelled"];

impl Metrics {
    pub(crate) fn started(&self) {
        self.running.fetch_add(1, Ordering::Relaxed);
    }

    /// An execution this server ran has ended with `result` after `elapsed`.
    pub(crate) fn finished(&self, result: &RuntimeExecutionResult, elapsed: Duration) {
        self.running.fetch_sub(1, Ordering::Relaxed);
        let status = ExecutionStatus::of(result);
        if let Some(index) = EXECUTION_STATUSES.iter().position(|s| *s == status) {
            self.executions[index].fetch_add(1, Ordering::Relaxed);
        }
        self.execution_seconds.observe(elapsed);
        for call in result.tool_execution_messages.iter().flatten() {
            let index = match (call.success, call.error_type) {
                (true, _) => 0,
                (false, Some(ToolErrorType::Cancelled)) => 2,
                (false, _) => 1,
            };
            self.tool_calls[index].fetch_add(1, Ordering::Relaxed);
            self.tool_call_seconds.observe(Duration::from_millis(call.duration_ms));
        }
    }

    /// The exposition text.
    pub(crate) fn render(&self, pool: &PoolStats) -> String {
        let mut out = String::with_capacity(4096);
        let _ = writeln!(
            out,
            "# HELP toolbridge_executions_total Executions run by this server that ended, by status.\n\
             # TYPE toolbridge_executions_total counter"
        );
        for (status, count) in EXECUTION_STATUSES.iter().zip(&self.executions) {
            let _ =
                writeln!(out, "toolbridge_executions_total{{status=\"{status}\"}} {}", count.load(Ordering::Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP toolbridge_executions_running Executions running now.\n\
             # TYPE toolbridge_executions_running gauge\ntoolbridge_executions_running {}",
            self.running.load(Ordering::Relaxed).max(0)
        );
        let _ = writeln!(
            out,
            "# HELP toolbridge_tool_calls_total Tool calls of ended executions, by status.\n\
             # TYPE toolbridge_tool_calls_total counter"
        );
        for (status, count) in CALL_STATUSES.iter().zip(&self.tool_calls) {
            let _ =
                writeln!(out, "toolbridge_tool_calls_total{{status=\"{status}\"}} {}", count.load(Ordering::Relaxed));
        }
        self.execution_seconds.write(
            &mut out,
            "toolbridge_execution_duration_seconds",
            "Wall time of executions run by this server.",
        );
        self.tool_call_seconds.write(&mut out, "toolbridge_tool_call_duration_seconds", "Wall time of tool calls.");
        let gauges = [
            ("toolbridge_pool_servers", "gauge", "MCP server connections alive in the pool.", pool.live_servers as u64),
            ("toolbridge_pool_server_starts_total", "counter", "MCP server starts, restarts included.", pool.starts),
            ("toolbridge_pool_server_restarts_total", "counter", "MCP server restarts after a death.", pool.restarts),
            ("toolbridge_pool_calls_total", "counter", "Tool calls through the pool.", pool.calls),
            ("toolbridge_pool_call_failures_total", "counter", "Pool tool calls that failed.", pool.call_failures),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use toolbridge_runtime::FinishReason;

    #[test]
    fn renders_parseable_families() {
        let metrics = Metrics::default();
        metrics.started();
        metrics.started();
        metrics.finished(&RuntimeExecutionResult::success("ok"), Duration::from_millis(30));
        let mut failed = RuntimeExecutionResult::failure("x");
        failed.finish_reason = Some(FinishReason::Error);
        metrics.finished(&failed, Duration::from_secs(2));
        let text = metrics.render(&PoolStats { live_servers: 3, ..PoolStats::default() });
        let value = |series: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
                .unwrap_or_else(|| panic!("no {series} in\n{text}"))
                .to_owned()
        };
        assert_eq!(value("toolbridge_executions_total{status=\"success\"}"), "1");
        assert_eq!(value("toolbridge_executions_total{status=\"error\"}"), "1");
        assert_eq!(value("toolbridge_executions_running"), "0");
        assert_eq!(value("toolbridge_pool_servers"), "3");
        assert_eq!(value("toolbridge_execution_duration_seconds_bucket{le=\"0.05\"}"), "1");
        assert_eq!(value("toolbridge_execution_duration_seconds_bucket{le=\"+Inf\"}"), "2");
        assert_eq!(value("toolbridge_execution_duration_seconds_sum"), "2.03");
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, number) = line.rsplit_once(' ').unwrap();
            assert!(number.parse::<f64>().is_ok(), "{line}");
        }
    }
}
