//! Reading a durable execution from Temporal after the fact: whichever process observes its end
//! stores its record. A starter that was killed leaves the record `running`/`interrupted` in
//! its store; `executions show` looks the execution up here and stores what Temporal has.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use temporalio_client::errors::{WorkflowGetResultError, WorkflowInteractionError};
use temporalio_client::{
    WorkflowDescribeOptions, WorkflowExecutionStatus, WorkflowFetchHistoryOptions, WorkflowGetResultOptions,
};
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use toolbridge_runtime::{ControlPlane, ExecutionRecord, RuntimeExecutionResult, RuntimeType};

use crate::error::DurableError;
use crate::runtime::{DURABLE_AGENT_LOOP, Handle};
use crate::settings::{TemporalSettings, error_chain};
use crate::wire::{DurableInput, WorkflowOutcome};

/// A durable execution as Temporal knows it.
#[derive(Debug)]
pub enum RemoteExecution {
    /// No workflow of that id.
    NotFound,
    /// Still running (on some worker, or waiting for one).
    Running,
    /// Ended: its input and result.
    Finished {
        /// What it started with.
        input: Box<DurableInput>,
        /// How it ended (a failed or cancelled one too).
        result: Box<RuntimeExecutionResult>,
        /// When its workflow started.
        started_at: DateTime<Utc>,
        /// When it closed.
        finished_at: DateTime<Utc>,
    },
}

/// Looks an execution up on Temporal.
pub async fn lookup(settings: &TemporalSettings, execution_id: &str) -> Result<RemoteExecution, DurableError> {
    let connected = settings.connect().await?;
    let failed = |reason: String| DurableError::Workflow { execution_id: execution_id.to_owned(), reason };
    let handle: Handle = connected.client.get_workflow_handle(execution_id.to_owned());
    let description = match handle.describe(WorkflowDescribeOptions::default()).await {
        Ok(description) => description,
        Err(WorkflowInteractionError::NotFound(_)) => return Ok(RemoteExecution::NotFound),
        Err(error) => return Err(failed(error_chain(&error))),
    };
    if description.status() == WorkflowExecutionStatus::Running {
        return Ok(RemoteExecution::Running);
    }
    let time = |t: Option<std::time::SystemTime>| t.map_or_else(Utc::now, DateTime::<Utc>::from);
    let started_at = time(description.start_time());
    let finished_at = time(description.close_time());
    let input = first_input(&handle).await.map_err(failed)?;
    let result = match handle.get_result(WorkflowGetResultOptions::default()).await {
        Ok(outcome) => outcome_result(outcome),
        Err(WorkflowGetResultError::Cancelled { .. }) => RuntimeExecutionResult::cancelled(),
        Err(error) => {
            let mut result = RuntimeExecutionResult::failure(format!(
                "the workflow ended without a result: {}",
                error_chain(&error)
            ));
            result.model.clone_from(&input.context.model_id);
            result
        }
    };
    Ok(RemoteExecution::Finished { input: Box::new(input), result: Box::new(result), started_at, finished_at })
}

/// Looks an execution up and, when it has ended, stores its record in `control_plane`.
pub async fn settle(
    control_plane: &dyn ControlPlane,
    settings: &TemporalSettings,
    execution_id: &str,
) -> Result<RemoteExecution, DurableError> {
    let remote = lookup(settings, execution_id).await?;
    if let RemoteExecution::Finished { input, result, started_at, finished_at } = &remote {
        let runtime_type = RuntimeType::new(DURABLE_AGENT_LOOP);
        let mut result = (**result).clone();
        result.run_id.get_or_insert_with(|| execution_id.to_owned());
        let record = ExecutionRecord {
            runtime_type: &runtime_type,
            context: &input.context,
            result: &result,
            // Settled from outside: the events went to whoever watched the execution live.
            events: &[],
            started_at: *started_at,
            finished_at: *finished_at,
        };
        control_plane.record_execution(record).await.map_err(|error| DurableError::Workflow {
            execution_id: execution_id.to_owned(),
            reason: format!("its record could not be stored: {}", error_chain(&error)),
        })?;
    }
    Ok(remote)
}

fn outcome_result(outcome: WorkflowOutcome) -> RuntimeExecutionResult {
    outcome.into_result()
}

/// The workflow's input, from the first event of its history.
async fn first_input(handle: &Handle) -> Result<DurableInput, String> {
    let mut events = handle.fetch_history(WorkflowFetchHistoryOptions::default());
    let first = match events.next().await {
        Some(Ok(event)) => event,
        Some(Err(error)) => return Err(format!("cannot read its history: {}", error_chain(&error))),
        None => return Err("its history is empty".to_owned()),
    };
    let Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) = first.attributes else {
        return Err("its history does not start with its input".to_owned());
    };
    let payload = started.input.and_then(|p| p.payloads.into_iter().next()).ok_or("its input is missing")?;
    serde_json::from_slice(&payload.data).map_err(|e| format!("its input is not a toolbridge execution: {e}"))
}
