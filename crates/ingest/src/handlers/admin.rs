//! Operations: the admin's view of uploads and statistics (admin tokens only), `/metrics`
//! in Prometheus text format (admin tokens only), `/healthz` (open). Counters and gauges
//! cover every instance sharing the store, whichever one answers.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{authenticate, Peer};
use crate::error::TusError;
use crate::state::Ingest;
use crate::store::UploadState;

async fn admin(ingest: &Ingest, headers: &HeaderMap, peer: Peer) -> Result<(), TusError> {
    let principal = authenticate(ingest, headers, peer).await?;
    if !principal.admin {
        return Err(TusError::Forbidden("admin token required"));
    }
    Ok(())
}

/// GET /admin/uploads[?state=receiving|complete|quarantined|all][&limit=N]: uploads, oldest
/// first; by default the active (receiving) ones.
pub(crate) async fn uploads(
    State(ingest): State<Ingest>,
    Query(query): Query<HashMap<String, String>>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, TusError> {
    admin(&ingest, &headers, peer).await?;
    let state = match query.get("state").map(String::as_str) {
        None => Some(UploadState::Receiving),
        Some("all") => None,
        Some(s) => Some(UploadState::parse(s).ok_or_else(|| TusError::BadRequest("unknown state".into()))?),
    };
    let limit = match query.get("limit") {
        Some(v) => v.parse().map_err(|_| TusError::BadRequest("limit must be a number".into()))?,
        None => 1000,
    };
    let list = ingest.inner.store.list(state, limit).await?;
    Ok(Json(list).into_response())
}

/// GET /admin/stats: counts of uploads by state, bytes, transfers in flight, counters.
pub(crate) async fn stats(
    State(ingest): State<Ingest>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, TusError> {
    admin(&ingest, &headers, peer).await?;
    let stats = ingest.inner.store.stats().await?;
    let totals = ingest.totals().await?;
    let mut body = serde_json::json!({
        "uploads": stats,
        "transfers_in_flight": totals.in_flight,
        "instances": totals.instances,
    });
    for (key, series) in [
        ("created_total", "wedsync_ingest_uploads_created_total"),
        ("completed_total", "wedsync_ingest_uploads_completed_total"),
        ("quarantined_total", "wedsync_ingest_uploads_quarantined_total"),
        ("terminated_total", "wedsync_ingest_uploads_terminated_total"),
        ("expired_total", "wedsync_ingest_uploads_expired_total"),
        ("bytes_received_total", "wedsync_ingest_bytes_received_total"),
        ("checksum_mismatches_total", "wedsync_ingest_checksum_mismatches_total"),
    ] {
        body[key] = totals.get(series).into();
    }
    Ok(Json(body).into_response())
}

/// GET /metrics.
pub(crate) async fn metrics(
    State(ingest): State<Ingest>,
    peer: Peer,
    headers: HeaderMap,
) -> Result<Response, TusError> {
    admin(&ingest, &headers, peer).await?;
    let stats = ingest.inner.store.stats().await?;
    let totals = ingest.totals().await?;
    let text = crate::metrics::render(
        &totals.counters,
        &[
            (
                "wedsync_ingest_instances",
                "Instances that reported lately (one without a cluster).",
                totals.instances,
            ),
            ("wedsync_ingest_transfers_in_flight", "Request bodies streaming now.", totals.in_flight),
            ("wedsync_ingest_uploads_receiving", "Unfinished uploads.", stats.receiving),
            ("wedsync_ingest_uploads_complete", "Completed uploads held.", stats.complete),
            ("wedsync_ingest_uploads_quarantined", "Quarantined uploads held.", stats.quarantined),
            ("wedsync_ingest_bytes_stored", "Bytes held for all uploads.", stats.bytes_stored),
            ("wedsync_ingest_uploads_verifying", "Uploads being verified.", stats.verifying),
            ("wedsync_ingest_uploads_failed", "Final uploads that could never be made.", stats.failed),
            ("wedsync_ingest_uploads_consumed", "Parts whose bytes went into their final.", stats.consumed),
            (
                "wedsync_ingest_storage_free_bytes",
                "Free space where upload bytes are stored.",
                ingest.inner.store.free_space().unwrap_or(0),
            ),
        ],
    );
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert("Content-Type", HeaderValue::from_static("text/plain; version=0.0.4"));
    Ok(response)
}

/// GET /healthz: 200 when the state store and the bytes' storage answer and the storage
/// has room (the free bytes, or where the state and bytes are, in the body); 503 when one
/// fails, saying which.
pub(crate) async fn healthz(State(ingest): State<Ingest>) -> Response {
    if let Err(e) = ingest.inner.store.stats().await {
        tracing::error!(error = %e, "health check failed");
        return (StatusCode::SERVICE_UNAVAILABLE, "state store unavailable\n").into_response();
    }
    match ingest.inner.store.check_connections().await {
        Ok(None) => {}
        Ok(Some(connections)) => return (StatusCode::OK, format!("ok: {connections}\n")).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            return (StatusCode::SERVICE_UNAVAILABLE, "object store unavailable\n").into_response();
        }
    }
    match ingest.inner.store.free_space() {
        Some(free) if free < ingest.limits().min_free_space => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "storage full: {free} bytes free, new uploads refused below {}\n",
                ingest.limits().min_free_space
            ),
        )
            .into_response(),
        Some(free) => (StatusCode::OK, format!("ok: {free} bytes free\n")).into_response(),
        None => (StatusCode::OK, "ok\n").into_response(),
    }
}
