//! The dashboard: static HTML, CSS and JavaScript modules compiled into the binary
//! (`include_str!`), no build step. Flat files at `/`; `.js` as `text/javascript` (browsers
//! refuse modules of another type). The page's own CSP forbids anything not served here.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;

/// `(file name, content type, content)`.
const ASSETS: &[(&str, &str, &str)] = &[
    ("index.html", "text/html; charset=utf-8", include_str!("../assets/index.html")),
    ("app.css", "text/css; charset=utf-8", include_str!("../assets/app.css")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../assets/app.js")),
    ("api.js", "text/javascript; charset=utf-8", include_str!("../assets/api.js")),
    ("dom.js", "text/javascript; charset=utf-8", include_str!("../assets/dom.js")),
    ("lists.js", "text/javascript; charset=utf-8", include_str!("../assets/lists.js")),
    ("execution.js", "text/javascript; charset=utf-8", include_str!("../assets/execution.js")),
    ("timeline.js", "text/javascript; charset=utf-8", include_str!("../assets/timeline.js")),
];

fn asset(name: &str) -> Response {
    let Some((_, content_type, content)) = ASSETS.iter().find(|(file, _, _)| *file == name) else {
        return ApiError::not_found(format!("no such file: /{name}")).into_response();
    };
    let mut response = (*content).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// `/` and `/{file}`.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { asset("index.html") }))
        .route("/{file}", get(|Path(file): Path<String>| async move { asset(&file) }))
}
