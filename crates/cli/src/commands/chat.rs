//! `toolbridge chat`: a conversation in a terminal. Each message is one execution (streamed
//! as `run` streams it, stored as `run` stores it) carrying the conversation so far; Ctrl-C
//! cancels the turn in progress, not the session; `/exit` or Ctrl-D ends it.

use std::io::{BufRead, Write};

use tokio::sync::mpsc;
use toolbridge_runtime::{ConversationMessage, FinishReason};

use crate::args::ChatArgs;
use crate::commands::run::finish_line;
use crate::commands::session::{Session, resolve_agent};
use crate::error::CliResult;
use crate::live::Live;
use crate::setup::App;

/// What ends the session.
const EXIT_COMMANDS: [&str; 2] = ["/exit", "/quit"];

pub(crate) async fn run(app: &App, args: ChatArgs) -> CliResult {
    let printer = &app.printer;
    let definition = resolve_agent(app, &args.agent).await?;
    let session = Session::open(app, definition, &args.agent, crate::elicit::for_run(false)).await?;
    printer.status(&printer.dim(&format!(
        "chatting with {} ({}); /exit or Ctrl-D to leave, Ctrl-C cancels a reply",
        session.agent.name,
        session.agent.model_id.as_deref().unwrap_or("default model")
    )));
    let mut lines = read_lines();
    let mut interrupts = crate::signals::interrupts();
    let mut history: Vec<ConversationMessage> = Vec::new();
    let live = Live::new(printer.clone());
    let outcome = loop {
        ask();
        let line = tokio::select! {
            line = lines.recv() => line,
            changed = interrupts.changed() => {
                if changed.is_err() {
                    break Ok(());
                }
                eprintln!();
                continue;
            }
            () = crate::signals::termination() => break Ok(()),
        };
        let Some(line) = line else {
            eprintln!();
            break Ok(());
        };
        let message = line.trim();
        if message.is_empty() {
            continue;
        }
        if EXIT_COMMANDS.contains(&message) {
            break Ok(());
        }
        let mut context = session.agent.context(message);
        context.conversation_history.clone_from(&history);
        let execution_id = context.execution_id.to_string();
        let mut turn_interrupts = crate::signals::interrupts();
        turn_interrupts.mark_unchanged();
        let stop = async move {
            let _ = turn_interrupts.changed().await;
        };
        let result = session.execute(context, Some(&live), stop).await;
        finish_line(app, &result, session.stored_duration(&execution_id).await);
        match result.finish_reason {
            _ if result.success => {
                history.push(ConversationMessage::text("user", message));
                history.push(ConversationMessage::text("assistant", result.response.clone()));
            }
            Some(FinishReason::Cancelled) => printer.status(&printer.dim("(cancelled; the conversation goes on)")),
            _ => printer.status(&format!(
                "{} {}",
                printer.red("error:"),
                result.error.as_deref().unwrap_or("the execution failed")
            )),
        }
        interrupts.mark_unchanged();
    };
    session.close().await;
    outcome
}

/// The prompt for the next message.
fn ask() {
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "> ");
    let _ = stderr.flush();
}

/// Lines from stdin, read on a thread of their own (a blocking read cannot be cancelled; the
/// thread ends with the process).
fn read_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(1);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut line = String::new();
        loop {
            line.clear();
            match stdin.lock().read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.blocking_send(line.trim_end_matches(['\n', '\r']).to_owned()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}
