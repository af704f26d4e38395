//! Request bodies and query strings, typed once at the edge: a body that is not JSON is a
//! 400, a JSON body that does not fit its type a 422 naming the field, a body over the limit
//! a 413 — all in the API's error shape.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, body_error};

/// A JSON object body, parsed into `T` with errors naming the field.
pub(crate) fn parse<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|error| body_error(&error))
}

/// The body as a JSON object.
#[derive(Debug)]
pub(crate) struct JsonObject(pub(crate) Value);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection: BytesRejection| {
            ApiError::new(rejection.status(), "invalid_body", rejection.body_text())
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("the request body is empty; send a JSON object"));
        }
        let value: Value = serde_json::from_slice(&bytes).map_err(|error| {
            ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("request body is not valid JSON: {error}"),
            )
        })?;
        if !value.is_object() {
            return Err(ApiError::bad_request("the request body must be a JSON object"));
        }
        Ok(Self(value))
    }
}

/// Query parameters, with errors in the API's shape.
#[derive(Debug)]
pub(crate) struct Params<T>(pub(crate) T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|rejection: QueryRejection| ApiError::bad_request(rejection.body_text()))
    }
}
