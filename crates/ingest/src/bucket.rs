//! The bytes in S3-compatible object storage (`--store s3://BUCKET?endpoint=URL`), for
//! several `wedsync serve` instances: opening the bucket from its URL, checking it
//! answers, and the store it is — `object_store`'s S3 client, whose multipart calls take
//! the upload id and part list the cluster store keeps in PostgreSQL — plus the one call
//! that client lacks, UploadPartCopy ([`Bucket::copy_part`]).

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, AwsAuthorizer};
use object_store::client::{HttpClient, HttpConnector, HttpRequestBody, ReqwestConnector};
use object_store::multipart::PartId;
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore};

use crate::error::{with_causes, Error, Result};

/// A bucket, opened and checked.
#[derive(Clone)]
pub struct Bucket {
    pub store: Arc<AmazonS3>,
    /// `s3://bucket at endpoint`, for messages.
    pub at: String,
    /// What requests of our own need: the bucket's name, the endpoint's base URL (path-style
    /// requests go to `BASE/BUCKET/KEY`), the region they are signed for, and a client.
    name: String,
    base: String,
    region: String,
    http: HttpClient,
}

/// Tries of a copy request that failed for a reason that may pass (a 5xx, a lost
/// connection), and the pause before the first retry (doubled each time).
const COPY_TRIES: u32 = 5;
const COPY_BACKOFF: Duration = Duration::from_millis(200);

impl Bucket {
    /// Opens `url`: `s3://BUCKET?endpoint=URL&region=REGION`. Credentials come from
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, the region from `region=`, else
    /// `AWS_REGION`, else `us-east-1`. An endpoint over plain http is allowed (a store on
    /// the same network); path-style requests, which every S3-compatible server takes.
    pub fn open(url: &str) -> Result<Bucket> {
        Bucket::open_with(url, AmazonS3Builder::from_env())
    }

    /// Opens `url` with these credentials rather than the environment's.
    pub fn open_as(url: &str, key_id: &str, secret: &str) -> Result<Bucket> {
        Bucket::open_with(
            url,
            AmazonS3Builder::new().with_access_key_id(key_id).with_secret_access_key(secret),
        )
    }

    fn open_with(url: &str, builder: AmazonS3Builder) -> Result<Bucket> {
        let bad = |why: String| Error::Store { at: "--store".into(), why };
        let parsed =
            url::Url::parse(url).map_err(|e| bad(format!("not a URL (s3://BUCKET?endpoint=URL): {e}")))?;
        if parsed.scheme() != "s3" {
            return Err(bad(format!("{url}: only s3:// stores are supported")));
        }
        let bucket =
            parsed.host_str().filter(|b| !b.is_empty()).ok_or_else(|| bad(format!("{url}: no bucket")))?;
        let mut builder = builder.with_bucket_name(bucket).with_virtual_hosted_style_request(false);
        let mut endpoint = None;
        for (key, value) in parsed.query_pairs() {
            match key.as_ref() {
                "endpoint" => endpoint = Some(value.to_string()),
                "region" => builder = builder.with_region(value.as_ref()),
                other => return Err(bad(format!("{url}: unknown parameter {other:?} (endpoint, region)"))),
            }
        }
        if let Some(endpoint) = &endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        let at = format!("s3://{bucket} at {}", endpoint.as_deref().unwrap_or("AWS"));
        let region =
            builder.get_config_value(&AmazonS3ConfigKey::Region).unwrap_or_else(|| "us-east-1".to_string());
        let base = match &endpoint {
            Some(endpoint) => endpoint.trim_end_matches('/').to_string(),
            None => format!("https://s3.{region}.amazonaws.com"),
        };
        let failed = |e: object_store::Error| Error::Store { at: at.clone(), why: e.to_string() };
        let options = ClientOptions::new().with_allow_http(base.starts_with("http://"));
        let http = ReqwestConnector::default().connect(&options).map_err(failed)?;
        let store = builder.build().map_err(failed)?;
        Ok(Bucket { store: Arc::new(store), at, name: bucket.to_string(), base, region, http })
    }

    /// Checks that the bucket answers with these credentials: a listing of a prefix that
    /// need not exist (a HEAD of a missing key cannot tell a missing bucket from a missing
    /// key: neither answer has a body). A missing bucket, refused credentials or an
    /// unreachable endpoint each come back as an error that says which, in the store's
    /// own words.
    pub async fn check(&self) -> Result<()> {
        let probe = Path::from("wedsync-check");
        self.store.list_with_delimiter(Some(&probe)).await.map(|_| ()).map_err(|e| self.error(e))
    }

    /// Copies bytes `range` of the object `from` into part `part` (counted from 0, as
    /// `object_store`'s multipart calls count) of the multipart upload `upload` of the
    /// object `to`, inside the bucket: S3's UploadPartCopy, which `object_store` lacks, as a
    /// request of our own signed with the store's credentials. Every part but the last of
    /// an upload must be at least 5 MiB. Retried where the failure may pass.
    pub async fn copy_part(
        &self,
        to: &str,
        upload: &str,
        part: usize,
        from: &str,
        range: Range<u64>,
    ) -> Result<PartId> {
        let mut url = url::Url::parse(&self.base).map_err(|e| self.failed(format!("endpoint: {e}")))?;
        url.path_segments_mut()
            .map_err(|_| self.failed("the endpoint cannot take a path".into()))?
            .pop_if_empty()
            .push(&self.name)
            .extend(to.split('/'));
        url.query_pairs_mut()
            .append_pair("partNumber", &(part + 1).to_string())
            .append_pair("uploadId", upload);
        let source = format!("{}/{from}", self.name);
        let source_range = format!("bytes={}-{}", range.start, range.end.saturating_sub(1));
        let mut pause = COPY_BACKOFF;
        for attempt in 1..=COPY_TRIES {
            match self.try_copy_part(&url, &source, &source_range).await {
                Ok(etag) => return Ok(PartId { content_id: etag }),
                Err((why, may_pass)) if may_pass && attempt < COPY_TRIES => {
                    tracing::debug!(bucket = %self.at, attempt, why, "copying a part failed; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
                Err((why, _)) => {
                    return Err(self.failed(format!("copying {from} into part {part} of {to}: {why}")))
                }
            }
        }
        Err(self.failed(format!("copying {from} into part {part} of {to}: no tries left")))
    }

    /// One UploadPartCopy request: the part's ETag, or why not and whether trying again
    /// may help.
    async fn try_copy_part(
        &self,
        url: &url::Url,
        source: &str,
        range: &str,
    ) -> Result<String, (String, bool)> {
        let credential = self
            .store
            .credentials()
            .get_credential()
            .await
            .map_err(|e| (format!("credentials: {e}"), false))?;
        let mut request = axum::http::Request::builder()
            .method("PUT")
            .uri(url.as_str())
            .header("x-amz-copy-source", source)
            .header("x-amz-copy-source-range", range)
            .body(HttpRequestBody::empty())
            .map_err(|e| (e.to_string(), false))?;
        AwsAuthorizer::new(&credential, "s3", &self.region).authorize(&mut request, None);
        let response = self.http.execute(request).await.map_err(|e| (with_causes(&e), true))?;
        let status = response.status();
        let body = response.into_body().bytes().await.map_err(|e| (with_causes(&e), true))?;
        let text = String::from_utf8_lossy(&body);
        // A copy can fail after S3 has answered 200: the error is then in the body.
        if !status.is_success() || text.contains("<Error>") {
            let may_pass = status.is_server_error() || status.is_success();
            return Err((format!("{status}: {}", text.trim()), may_pass));
        }
        let etag = text
            .split_once("<ETag>")
            .and_then(|(_, rest)| rest.split_once("</ETag>"))
            .map(|(etag, _)| etag.replace("&quot;", "\"").replace("&#34;", "\""))
            .ok_or_else(|| (format!("no ETag in the answer: {}", text.trim()), false))?;
        Ok(etag)
    }

    fn failed(&self, why: String) -> Error {
        Error::Store { at: self.at.clone(), why }
    }

    /// `e`, said of this bucket.
    pub fn error(&self, e: object_store::Error) -> Error {
        Error::Store { at: self.at.clone(), why: with_causes(&e) }
    }
}
