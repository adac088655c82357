//! The queue's thumbnails, through the `thumb` URI scheme (`thumb://localhost/<asset>`,
//! `http://thumb.localhost/<asset>` on Windows): the webview names an asset, never a path,
//! and Rust reads the camera file the journal knows for it. Made once from the file's own
//! small rendering and kept in the cache (`<home>/cache/thumbs`).

use std::path::Path;

use tauri::http::{header, Response, StatusCode};

use crate::host::Host;

/// Long edge in pixels: twice the row's thumbnail, for high-density screens.
const EDGE: usize = 96;

/// The answer to a request for `path` (`/<asset>`).
pub fn answer(host: &Host, path: &str) -> Response<Vec<u8>> {
    match thumbnail(host, path) {
        Ok(jpeg) => Response::builder()
            .header(header::CONTENT_TYPE, "image/jpeg")
            .header(header::CACHE_CONTROL, "max-age=31536000, immutable")
            .body(jpeg),
        Err((status, why)) => Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/plain")
            .body(why.into_bytes()),
    }
    .unwrap_or_else(|_| Response::new(Vec::new()))
}

fn thumbnail(host: &Host, path: &str) -> Result<Vec<u8>, (StatusCode, String)> {
    let asset: i64 = path
        .trim_start_matches('/')
        .parse()
        .map_err(|_| (StatusCode::BAD_REQUEST, format!("{path}: not an asset number")))?;
    let cached = host.thumbnail_cache().map(|dir| dir.join(format!("{asset}.jpg")));
    if let Some(jpeg) = cached.as_deref().and_then(|c| std::fs::read(c).ok()) {
        return Ok(jpeg);
    }
    let file = host
        .with(|engine| engine.asset_path(asset).map_err(|e| e.to_string()))
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e))?
        .ok_or((StatusCode::NOT_FOUND, format!("asset {asset}: no file known")))?;
    let jpeg = wedsync_develop::thumbnail(&file, EDGE)
        .map_err(|e| (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    if let Some(cached) = cached {
        keep(&cached, &jpeg);
    }
    Ok(jpeg)
}

/// Writes the thumbnail to the cache; a cache that cannot be written only costs a redo.
fn keep(cached: &Path, jpeg: &[u8]) {
    if let Some(dir) = cached.parent() {
        let partial = cached.with_extension("partial");
        let _ = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&partial, jpeg))
            .and_then(|()| std::fs::rename(&partial, cached));
    }
}
