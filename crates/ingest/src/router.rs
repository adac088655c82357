//! The routes, apart from any socket so that tests can call them directly.

use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::handlers::{admin, delete, get as download, head, options, patch, post as create};
use crate::state::Ingest;

/// The tus endpoint at `/files`, the admin endpoints, `/metrics` and `/healthz`.
pub fn router(ingest: Ingest) -> Router {
    Router::new()
        .route("/files", post(create::post).options(options::options))
        .route("/files/", post(create::post).options(options::options))
        .route(
            "/files/{id}",
            get(download::get)
                .head(head::head)
                .patch(patch::patch)
                .delete(delete::delete)
                .options(options::options),
        )
        .route("/admin/uploads", get(admin::uploads))
        .route("/admin/stats", get(admin::stats))
        .route("/metrics", get(admin::metrics))
        .route("/healthz", get(admin::healthz))
        // Bodies are streamed and bounded by the upload's length, not buffered.
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(ingest.clone(), observe))
        .with_state(ingest)
}

/// Counts every request by method and status, and logs it at debug level.
async fn observe(State(ingest): State<Ingest>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    let took = start.elapsed();
    let status = response.status().as_u16();
    ingest.inner.metrics.request(method.as_str(), status, took);
    tracing::debug!(%method, %path, status, ms = took.as_millis() as u64, "request");
    response
}
