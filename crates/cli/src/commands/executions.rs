//! `toolbridge executions list|show`.

use chrono::{DateTime, NaiveDate, Utc};
use toolbridge_runtime::ExecutionStatus;
use toolbridge_store::ExecutionFilter;

use crate::args::{ExecutionsCommand, StatusChoice};
use crate::error::{CliError, CliResult};
use crate::output::{duration, short};
use crate::setup::{App, plural};

pub(crate) async fn run(app: &App, command: ExecutionsCommand) -> CliResult {
    let printer = &app.printer;
    let store = app.store()?;
    match command {
        ExecutionsCommand::List { agent, status, since, until, limit, page, json } => {
            if limit == 0 || page == 0 {
                return Err(CliError::usage("--limit and --page start at 1"));
            }
            let now = Utc::now();
            let filter = ExecutionFilter {
                agent,
                status: status.map(status_of),
                limit: Some(limit),
                offset: Some(limit.saturating_mul(page - 1)),
                since: since.as_deref().map(|w| when(w, now, "--since")).transpose()?,
                until: until.as_deref().map(|w| when(w, now, "--until")).transpose()?,
                before: None,
            };
            let executions = store.list_executions(&filter).await?;
            if json {
                printer.json(&executions);
                return Ok(());
            }
            let total = store.count_executions(&filter).await?;
            if executions.is_empty() {
                printer.status(if total == 0 { "no executions yet" } else { "no executions on this page" });
            }
            for e in &executions {
                let status = if e.status == ExecutionStatus::Success {
                    printer.green(e.status.as_str())
                } else {
                    printer.red(e.status.as_str())
                };
                printer.line(&format!(
                    "{}  {}  {:<9}  {:>8}  {:>8}  {:>6} tok  {}  {}",
                    printer.dim(&e.id[..e.id.len().min(8)]),
                    e.started_at.format("%Y-%m-%d %H:%M:%S"),
                    status,
                    duration(e.duration_ms),
                    plural(e.tool_calls, "tool"),
                    e.total_tokens,
                    e.agent_id,
                    short(&e.prompt, 50)
                ));
            }
            let pages = total.div_ceil(limit).max(1);
            if total > 0 {
                let mut footer = format!("page {page} of {pages} ({})", plural(total, "execution"));
                if page < pages {
                    footer.push_str(&format!("; next: --page {}", page + 1));
                }
                printer.status(&printer.dim(&footer));
            }
        }
        ExecutionsCommand::Delete { ids, older_than } => {
            if let Some(text) = older_than {
                let age = parse_duration(&text).map_err(|e| CliError::usage(format!("--older-than: {e}")))?;
                let before = Utc::now() - age;
                let deleted = store.delete_executions_before(before).await?;
                printer.status(&format!(
                    "deleted {} started before {}",
                    plural(deleted, "execution"),
                    before.format("%Y-%m-%d %H:%M:%S")
                ));
                return Ok(());
            }
            for id in ids {
                match store.delete_execution(&id).await? {
                    Some(full) => printer.status(&format!("deleted execution {full}")),
                    None => {
                        return Err(CliError::usage(format!("no execution {id:?}"))
                            .hint("list them with `toolbridge executions list`"));
                    }
                }
            }
        }
        ExecutionsCommand::Show { id, json } => {
            let execution = store.get_execution(&id).await?.ok_or_else(|| {
                CliError::usage(format!("no execution {id:?}")).hint("list them with `toolbridge executions list`")
            })?;
            // A durable execution whose starter did not see its end: Temporal has it.
            #[cfg(feature = "temporal")]
            let execution = crate::commands::durable::settle(app, &store, execution).await?;
            if json {
                printer.json(&execution);
                return Ok(());
            }
            let s = &execution.summary;
            printer.line(&format!("{} {}", printer.bold("execution"), s.id));
            printer.line(&format!(
                "agent: {}  runtime: {}  model: {}",
                s.agent_id,
                s.runtime_type,
                s.model.as_deref().unwrap_or("-")
            ));
            printer.line(&format!(
                "status: {}  finish_reason: {}",
                s.status,
                s.finish_reason.as_deref().unwrap_or("-")
            ));
            printer.line(&format!("started: {}  duration: {}", s.started_at, duration(s.duration_ms)));
            let u = &execution.usage;
            printer.line(&format!(
                "usage: {} in / {} out / {} total ({} cached) via {}",
                u.input_tokens,
                u.output_tokens,
                u.total_tokens,
                u.cache_read_tokens,
                u.model_provider.as_deref().unwrap_or("-")
            ));
            printer.line(&format!("prompt: {}", s.prompt));
            if let Some(error) = &execution.result.error {
                printer.line(&format!("{} {error}", printer.red("error:")));
            }
            printer.line(&format!("\n{}\n{}", printer.bold("response"), execution.result.response));
            if !execution.tool_calls.is_empty() {
                printer.line(&format!("\n{}", printer.bold("tool calls")));
                for (i, call) in execution.tool_calls.iter().enumerate() {
                    let mark = if call.success { printer.green("✓") } else { printer.red("✗") };
                    let kind = call.error_type.map(|t| format!(" [{t}]")).unwrap_or_default();
                    printer.line(&format!(
                        "{:>3}. {mark} {} {}{kind}  {}",
                        i + 1,
                        call.tool,
                        printer.dim(&duration(call.duration_ms)),
                        printer.dim(&short(&call.input.to_string(), 60))
                    ));
                    printer.line(&format!("       {}", short(&call.output, 100)));
                }
            }
        }
    }
    Ok(())
}

fn status_of(choice: StatusChoice) -> ExecutionStatus {
    match choice {
        StatusChoice::Success => ExecutionStatus::Success,
        StatusChoice::Error => ExecutionStatus::Error,
        StatusChoice::Cancelled => ExecutionStatus::Cancelled,
        StatusChoice::Running => ExecutionStatus::Running,
        StatusChoice::Interrupted => ExecutionStatus::Interrupted,
    }
}

/// `30s`, `15m`, `12h`, `7d`, `2w` (a whole number and a unit).
pub(crate) fn parse_duration(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 =
        number.parse().map_err(|_| format!("expected a duration such as 30m, 12h or 7d, got {text:?}"))?;
    let seconds = match unit.trim() {
        "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        other => return Err(format!("unknown unit {other:?} in {text:?}; use s, m, h, d or w")),
    };
    chrono::Duration::try_seconds(number.saturating_mul(seconds)).ok_or_else(|| format!("{text:?} is too long"))
}

/// A point in time: a date (`2025-01-31`, midnight UTC), an RFC 3339 time, or a duration ago
/// (`30m`, `7d`).
fn when(text: &str, now: DateTime<Utc>, flag: &str) -> CliResult<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(midnight) = date.and_hms_opt(0, 0, 0)
    {
        return Ok(midnight.and_utc());
    }
    parse_duration(text).map(|age| now - age).map_err(|_| {
        CliError::usage(format!(
            "{flag}: expected a date (2025-01-31), a time (2025-01-31T12:00:00Z) or a duration ago (7d), got {text:?}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(parse_duration("90m").unwrap(), chrono::Duration::minutes(90));
        assert_eq!(parse_duration("2w").unwrap(), chrono::Duration::days(14));
        assert!(parse_duration("5y").unwrap_err().contains("unit"));
        assert!(parse_duration("soon").is_err());
        let now = Utc::now();
        assert_eq!(when("1h", now, "--since").unwrap(), now - chrono::Duration::hours(1));
        assert_eq!(when("2025-01-31", now, "--since").unwrap().to_rfc3339(), "2025-01-31T00:00:00+00:00");
        assert!(when("yesterday", now, "--since").is_err());
    }
}
