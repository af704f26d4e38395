//! The legacy HTTP+SSE transport (protocol version 2024-11-05), as servers that predate
//! streamable HTTP still serve it: `GET /sse` opens an event stream whose first event,
//! `endpoint`, names `/messages?sessionId=…`; the client `POST`s its messages there and the
//! answers come back as `message` events. A `POST /sse` answers 405, as such servers do.
//!
//! Each session runs the testbed on a (sink, stream) pair of channels with rmcp's own
//! message types.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::routing::{get, post};
use futures::channel::mpsc;
use futures::{SinkExt, Stream, StreamExt};
use rmcp::RoleServer;
use rmcp::ServiceExt;
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use serde::Deserialize;

use crate::server::Testbed;

type Inbound = mpsc::Sender<RxJsonRpcMessage<RoleServer>>;

#[derive(Clone)]
struct Sessions {
    server: Testbed,
    next: Arc<AtomicU64>,
    open: Arc<Mutex<HashMap<String, Inbound>>>,
}

#[derive(Deserialize)]
struct SessionQuery {
    #[serde(rename = "sessionId")]
    session_id: String,
}

/// Serves the legacy transport on `addr` until Ctrl-C.
pub(crate) async fn serve_sse(server: Testbed, addr: SocketAddr) -> anyhow::Result<()> {
    let sessions = Sessions { server, next: Arc::new(AtomicU64::new(1)), open: Arc::default() };
    let router =
        axum::Router::new().route("/sse", get(open_stream)).route("/messages", post(message)).with_state(sessions);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("listening on http://{}/sse", listener.local_addr()?);
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

async fn open_stream(State(sessions): State<Sessions>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let id = format!("s{}", sessions.next.fetch_add(1, Ordering::Relaxed));
    let (inbound_tx, inbound_rx) = mpsc::channel::<RxJsonRpcMessage<RoleServer>>(64);
    let (outbound_tx, outbound_rx) = mpsc::channel::<TxJsonRpcMessage<RoleServer>>(64);
    sessions.open.lock().unwrap_or_else(PoisonError::into_inner).insert(id.clone(), inbound_tx);
    let server = sessions.server.clone();
    let open = Arc::clone(&sessions.open);
    let session = id.clone();
    tokio::spawn(async move {
        if let Ok(service) = server.serve((outbound_tx, inbound_rx)).await {
            let _ = service.waiting().await;
        }
        open.lock().unwrap_or_else(PoisonError::into_inner).remove(&session);
    });
    let endpoint = futures::stream::once(async move {
        Ok(Event::default().event("endpoint").data(format!("/messages?sessionId={id}")))
    });
    let messages = outbound_rx.map(|message| {
        let data = serde_json::to_string(&message).unwrap_or_default();
        Ok(Event::default().event("message").data(data))
    });
    Sse::new(endpoint.chain(messages))
}

async fn message(
    State(sessions): State<Sessions>,
    Query(query): Query<SessionQuery>,
    Json(message): Json<RxJsonRpcMessage<RoleServer>>,
) -> StatusCode {
    let sender = sessions.open.lock().unwrap_or_else(PoisonError::into_inner).get(&query.session_id).cloned();
    match sender {
        Some(mut sender) => {
            if sender.send(message).await.is_ok() {
                StatusCode::ACCEPTED
            } else {
                StatusCode::GONE
            }
        }
        None => StatusCode::NOT_FOUND,
    }
}
