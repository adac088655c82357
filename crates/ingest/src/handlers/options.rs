//! OPTIONS /files and /files/{id}: what this server implements, derived from its store.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::headers::{Algorithm, TUS_VERSION};
use crate::state::Ingest;

pub(crate) async fn options(State(ingest): State<Ingest>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert("Tus-Resumable", HeaderValue::from_static(TUS_VERSION));
    h.insert("Tus-Version", HeaderValue::from_static(TUS_VERSION));
    if let Ok(v) = HeaderValue::from_str(&ingest.inner.extensions) {
        h.insert("Tus-Extension", v);
    }
    h.insert("Tus-Max-Size", HeaderValue::from(ingest.limits().max_size));
    let algorithms: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
    if let Ok(v) = HeaderValue::from_str(&algorithms.join(",")) {
        h.insert("Tus-Checksum-Algorithm", v);
    }
    response
}
