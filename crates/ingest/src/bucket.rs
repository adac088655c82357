//! The bytes in S3-compatible object storage (`--store s3://BUCKET?endpoint=URL`), for
//! several `wedsync serve` instances: opening the bucket from its URL, checking it
//! answers, and the store it is — `object_store`'s S3 client, whose multipart calls take
//! the upload id and part list the cluster store keeps in PostgreSQL.

use std::sync::Arc;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::ObjectStore;

use crate::error::{with_causes, Error, Result};

/// A bucket, opened and checked.
#[derive(Clone)]
pub struct Bucket {
    pub store: Arc<AmazonS3>,
    /// `s3://bucket at endpoint`, for messages.
    pub at: String,
}

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
        let store = builder.build().map_err(|e| Error::Store { at: at.clone(), why: e.to_string() })?;
        Ok(Bucket { store: Arc::new(store), at })
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

    /// `e`, said of this bucket.
    pub fn error(&self, e: object_store::Error) -> Error {
        Error::Store { at: self.at.clone(), why: with_causes(&e) }
    }
}
