//! Where output files go: a local directory, or a prefix in an S3-compatible bucket
//! (`s3://bucket/prefix`, through the arrow ecosystem's `object_store` crate). Either way a
//! file appears whole or not at all: local files are renamed into place after a sync
//! ([`crate::fsutil`]); an object appears with its single PUT, or with the completion of its
//! multipart upload. A file written again under its name replaces the old one, so a unit
//! that is redone (after a crash, on another worker) overwrites instead of duplicating.
//!
//! Files bound for a bucket are first written to a local spool directory
//! ([`StorageConfig::spool_dir`]) and uploaded when complete, so a unit's tables take disk,
//! not memory, however large they grow.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
    WriteMultipart,
};
use serde::{Deserialize, Serialize};

/// A directory as pipeline files name it: a local path, or `s3://bucket/prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl Location {
    /// `s3://bucket[/prefix]` or a local path; other URL schemes are an error.
    pub fn parse(text: &str) -> Result<Location, String> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("{text:?}: no bucket name after s3://"));
            }
            let prefix = prefix.trim_matches('/');
            if prefix
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
                && !prefix.is_empty()
            {
                return Err(format!(
                    "{text:?}: the prefix has an empty, `.` or `..` component"
                ));
            }
            Ok(Location::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            })
        } else if let Some((scheme, _)) = text.split_once("://") {
            Err(format!(
                "{text:?}: {scheme}:// is not supported; use a local path or s3://bucket/prefix"
            ))
        } else if text.is_empty() {
            Err("an empty path".into())
        } else {
            Ok(Location::Local(PathBuf::from(text)))
        }
    }

    /// `self/name`, `name` a relative path with `/` separators.
    pub fn join(&self, name: &str) -> Location {
        match self {
            Location::Local(dir) => Location::Local(dir.join(name)),
            Location::S3 { bucket, prefix } => Location::S3 {
                bucket: bucket.clone(),
                prefix: join_key(prefix, name),
            },
        }
    }

    /// The location of the directory holding this file, and the file's name.
    pub fn split_name(&self) -> Option<(Location, String)> {
        match self {
            Location::Local(path) => {
                let name = path.file_name()?.to_string_lossy().into_owned();
                let dir = path
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                Some((Location::Local(dir.to_path_buf()), name))
            }
            Location::S3 { bucket, prefix } => {
                let (dir, name) = prefix.rsplit_once('/').unwrap_or(("", prefix));
                (!name.is_empty()).then(|| {
                    (
                        Location::S3 {
                            bucket: bucket.clone(),
                            prefix: dir.to_owned(),
                        },
                        name.to_owned(),
                    )
                })
            }
        }
    }

    pub fn is_remote(&self) -> bool {
        matches!(self, Location::S3 { .. })
    }
}

fn join_key(prefix: &str, name: &str) -> String {
    match prefix.is_empty() {
        true => name.to_owned(),
        false => format!("{prefix}/{name}"),
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl From<PathBuf> for Location {
    fn from(p: PathBuf) -> Self {
        Location::Local(p)
    }
}

impl Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Location::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `[storage]` of a pipeline file: how `s3://` locations are reached. Each connection setting
/// left out is taken from the environment as AWS's own tools read it (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` or `AWS_DEFAULT_REGION`,
/// `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`); keep secrets in the environment rather than in
/// pipeline files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// The S3-compatible endpoint (MinIO, Ceph, a cloud's S3 API), e.g.
    /// `http://127.0.0.1:9000`; default: AWS S3 in `region`.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<String>,
    #[serde(default)]
    pub session_token: Option<String>,
    /// Allow an `http://` endpoint (default: when `endpoint` starts with `http://`).
    #[serde(default)]
    pub allow_http: Option<bool>,
    /// Address buckets as `https://BUCKET.endpoint/` (AWS's style) rather than
    /// `endpoint/BUCKET/` (path style, what most S3-compatible servers expect). Default: path
    /// style with an `endpoint`, AWS's style without.
    #[serde(default)]
    pub virtual_hosted_style: Option<bool>,
    /// Local directory for a unit's tables while they are written, before upload
    /// (default: the system's temporary directory).
    #[serde(default)]
    pub spool_dir: Option<PathBuf>,
    /// Retries of a request that met throttling (503 SlowDown, 429), a server error, a
    /// timeout or a broken connection, with exponential backoff (0.1 s doubling to 15 s).
    #[serde(default = "default_retries")]
    pub max_retries: usize,
    /// A request is given up (and the run stops with its error) after this many seconds of
    /// retrying.
    #[serde(default = "default_retry_seconds")]
    pub retry_timeout_s: u64,
    /// One attempt of a request is abandoned after this many seconds.
    #[serde(default = "default_request_seconds")]
    pub request_timeout_s: u64,
}

fn default_retries() -> usize {
    10
}
fn default_retry_seconds() -> u64 {
    180
}
fn default_request_seconds() -> u64 {
    60
}

impl Default for StorageConfig {
    fn default() -> Self {
        toml::from_str("").expect("defaults")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{location}: {source}")]
    Io {
        location: String,
        source: std::io::Error,
    },
    #[error("{location}: {source}")]
    Object {
        location: String,
        source: object_store::Error,
    },
    #[error("{location}: {message}")]
    Setup { location: String, message: String },
    #[error("{location}: cannot write files there: {source}")]
    NotWritable {
        location: String,
        source: std::io::Error,
    },
}

/// Objects at most this large are uploaded with one PUT; larger ones in parts of this size.
const PART_BYTES: usize = 16 << 20;

/// One bucket of an S3-compatible store. The pipeline's stages are threads, object_store's
/// clients are async: each bucket drives its requests on a small runtime of its own.
pub struct Bucket {
    name: String,
    store: Arc<dyn ObjectStore>,
    runtime: tokio::runtime::Runtime,
}

impl Bucket {
    /// A client for bucket `name` (no request is made yet).
    pub fn connect(name: &str, config: &StorageConfig) -> Result<Bucket, StorageError> {
        let setup = |message: String| StorageError::Setup {
            location: format!("s3://{name}"),
            message,
        };
        let env_flag = |key: &str| {
            std::env::var(key)
                .ok()
                .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        };
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(name);
        let endpoint = config.endpoint.clone().or_else(|| {
            ["AWS_ENDPOINT_URL", "AWS_ENDPOINT"]
                .iter()
                .find_map(|k| std::env::var(k).ok())
        });
        if let Some(e) = &config.endpoint {
            builder = builder.with_endpoint(e);
        }
        if let Some(r) = &config.region {
            builder = builder.with_region(r);
        } else if std::env::var("AWS_REGION").is_err()
            && std::env::var("AWS_DEFAULT_REGION").is_err()
        {
            builder = builder.with_region("us-east-1");
        }
        if let Some(k) = &config.access_key_id {
            builder = builder.with_access_key_id(k);
        }
        if let Some(k) = &config.secret_access_key {
            builder = builder.with_secret_access_key(k);
        }
        if let Some(t) = &config.session_token {
            builder = builder.with_token(t);
        }
        if let Some(v) = config.virtual_hosted_style {
            builder = builder.with_virtual_hosted_style_request(v);
        }
        let allow_http = config
            .allow_http
            .or_else(|| env_flag("AWS_ALLOW_HTTP"))
            .unwrap_or_else(|| {
                endpoint
                    .as_deref()
                    .is_some_and(|e| e.starts_with("http://"))
            });
        let timeout = Duration::from_secs(config.request_timeout_s.max(1));
        builder = builder
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(allow_http)
                    .with_timeout(timeout)
                    .with_connect_timeout(timeout.min(Duration::from_secs(10))),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(15),
                    base: 2.0,
                },
                max_retries: config.max_retries,
                retry_timeout: Duration::from_secs(config.retry_timeout_s),
            });
        let store = builder.build().map_err(|e| setup(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| setup(format!("no runtime for the S3 client: {e}")))?;
        Ok(Bucket {
            name: name.to_owned(),
            store: Arc::new(store),
            runtime,
        })
    }

    fn location(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.name)
    }

    fn object_err(&self, key: &str) -> impl Fn(object_store::Error) -> StorageError + '_ {
        let location = self.location(key);
        move |source| StorageError::Object {
            location: location.clone(),
            source,
        }
    }

    /// Lists (at most a page of) `prefix`: fails when the endpoint, the bucket or the
    /// credentials are wrong, so a run stops at start-up rather than at its first upload.
    pub fn check(&self, prefix: &str) -> Result<(), StorageError> {
        let p = ObjectPath::from(prefix);
        self.runtime
            .block_on(self.store.list_with_delimiter(Some(&p)))
            .map(|_| ())
            .map_err(self.object_err(prefix))
    }

    /// The keys directly under `prefix` (one level, as a directory is listed), sorted.
    pub fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let p = ObjectPath::from(prefix);
        let mut keys: Vec<String> = self
            .runtime
            .block_on(self.store.list_with_delimiter(Some(&p)))
            .map_err(self.object_err(prefix))?
            .objects
            .into_iter()
            .map(|o| o.location.to_string())
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// The object `key`, or `None` when there is none.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        let p = ObjectPath::from(key);
        self.runtime.block_on(async {
            match self.store.get(&p).await {
                Ok(r) => r
                    .bytes()
                    .await
                    .map(|b| Some(b.to_vec()))
                    .map_err(self.object_err(key)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.object_err(key)(e)),
            }
        })
    }

    /// Writes `bytes` as object `key` with one PUT (it replaces any object of that name).
    pub fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        let p = ObjectPath::from(key);
        self.runtime
            .block_on(self.store.put(&p, PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(self.object_err(key))
    }

    /// Uploads the local file `local` as object `key`: one PUT up to [`PART_BYTES`], else a
    /// multipart upload that is aborted (leaving nothing) if any part fails.
    pub fn put_file(&self, local: &Path, key: &str) -> Result<(), StorageError> {
        let io = |source| StorageError::Io {
            location: local.display().to_string(),
            source,
        };
        let mut file = File::open(local).map_err(io)?;
        let size = file.metadata().map_err(io)?.len() as usize;
        if size <= PART_BYTES {
            let mut bytes = Vec::with_capacity(size);
            file.read_to_end(&mut bytes).map_err(io)?;
            return self.put(key, bytes);
        }
        let p = ObjectPath::from(key);
        self.runtime.block_on(async {
            let upload = self
                .store
                .put_multipart(&p)
                .await
                .map_err(self.object_err(key))?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
            let mut buf = vec![0u8; PART_BYTES];
            loop {
                let n = match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) => {
                        let _ = writer.abort().await;
                        return Err(io(e));
                    }
                };
                if let Err(e) = writer.wait_for_capacity(4).await {
                    let _ = writer.abort().await;
                    return Err(self.object_err(key)(e));
                }
                writer.write(&buf[..n]);
            }
            writer
                .finish()
                .await
                .map(|_| ())
                .map_err(self.object_err(key))
        })
    }
}

/// The objects directly under `subdirs` of the bucket location `location` (a run's
/// `documents/` and `entities/`, say) copied into `dest` under the same relative paths, for
/// readers of local files; returns how many. A local `location` is an error: read it in place.
pub fn download_dirs(
    location: &Location,
    config: Option<&StorageConfig>,
    subdirs: &[&str],
    dest: &Path,
) -> Result<usize, StorageError> {
    let Location::S3 { bucket, prefix } = location else {
        return Err(StorageError::Setup {
            location: location.to_string(),
            message: "a local directory: read it in place".into(),
        });
    };
    let default = StorageConfig::default();
    let b = Bucket::connect(bucket, config.unwrap_or(&default))?;
    let mut n = 0;
    for sub in subdirs {
        let dir = dest.join(sub);
        std::fs::create_dir_all(&dir).map_err(|source| StorageError::Io {
            location: dir.display().to_string(),
            source,
        })?;
        for key in b.list(&join_key(prefix, sub))? {
            let name = key.rsplit('/').next().unwrap_or(&key);
            // Objects that vanish between listing and reading are skipped, as a directory
            // entry removed meanwhile would be.
            let Some(bytes) = b.get(&key)? else { continue };
            let path = dir.join(name);
            std::fs::write(&path, bytes).map_err(|source| StorageError::Io {
                location: path.display().to_string(),
                source,
            })?;
            n += 1;
        }
    }
    Ok(n)
}

/// A location opened for writing files whole.
pub enum Store {
    Local(PathBuf),
    Bucket {
        bucket: Bucket,
        prefix: String,
        /// Where files are written before upload: `SPOOL_DIR/bioner-spool/BUCKET/PREFIX`.
        spool: PathBuf,
    },
}

impl Store {
    /// Opens `location`: a local directory is created when missing and must be writable; a
    /// bucket is checked (endpoint, bucket and credentials) with one listing.
    pub fn open(
        location: &Location,
        config: Option<&StorageConfig>,
    ) -> Result<Store, StorageError> {
        match location {
            Location::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| StorageError::Io {
                    location: dir.display().to_string(),
                    source,
                })?;
                // A read-only directory stops the run here, before any input is read.
                let probe = crate::fsutil::temp_path(&dir.join("write-probe"));
                std::fs::File::create(&probe)
                    .and_then(|_| std::fs::remove_file(&probe))
                    .map_err(|source| StorageError::NotWritable {
                        location: dir.display().to_string(),
                        source,
                    })?;
                Ok(Store::Local(dir.clone()))
            }
            Location::S3 { bucket, prefix } => {
                let default;
                let config = match config {
                    Some(c) => c,
                    None => {
                        default = StorageConfig::default();
                        &default
                    }
                };
                let b = Bucket::connect(bucket, config)?;
                b.check(prefix)?;
                let spool = config
                    .spool_dir
                    .clone()
                    .unwrap_or_else(std::env::temp_dir)
                    .join("bioner-spool")
                    .join(bucket)
                    .join(prefix);
                std::fs::create_dir_all(&spool).map_err(|source| StorageError::Io {
                    location: spool.display().to_string(),
                    source,
                })?;
                Ok(Store::Bucket {
                    bucket: b,
                    prefix: prefix.clone(),
                    spool,
                })
            }
        }
    }

    /// Where file `name` (a relative path) ends up, for messages and summaries.
    pub fn describe(&self, name: &str) -> String {
        match self {
            Store::Local(dir) => dir.join(name).display().to_string(),
            Store::Bucket { bucket, prefix, .. } => bucket.location(&join_key(prefix, name)),
        }
    }

    /// The local directory files of subdirectory `sub` are written in before they are
    /// published (created when missing).
    pub fn staging_dir(&self, sub: &str) -> Result<PathBuf, StorageError> {
        let dir = match self {
            Store::Local(dir) => dir.join(sub),
            Store::Bucket { spool, .. } => spool.join(sub),
        };
        std::fs::create_dir_all(&dir).map_err(|source| StorageError::Io {
            location: dir.display().to_string(),
            source,
        })?;
        Ok(dir)
    }

    /// The hidden temporary file that file `name` is written to before [`Store::publish`].
    pub fn temp_path(&self, name: &str) -> PathBuf {
        let local = match self {
            Store::Local(dir) => dir.join(name),
            Store::Bucket { spool, .. } => spool.join(name),
        };
        crate::fsutil::temp_path(&local)
    }

    /// Makes the temporary file `tmp` (written through `file`) durable and visible as `name`
    /// and returns its location. The temporary file is gone afterwards, on success and on an
    /// error alike.
    pub fn publish(&self, file: File, tmp: &Path, name: &str) -> Result<String, StorageError> {
        let result = match self {
            Store::Local(dir) => {
                let path = dir.join(name);
                crate::fsutil::publish(file, tmp, &path).map_err(|source| StorageError::Io {
                    location: path.display().to_string(),
                    source,
                })
            }
            Store::Bucket { bucket, prefix, .. } => {
                drop(file);
                bucket.put_file(tmp, &join_key(prefix, name))
            }
        };
        let _ = std::fs::remove_file(tmp);
        result.map(|()| self.describe(name))
    }

    /// The whole of file `name`, or `None` when there is none.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, StorageError> {
        match self {
            Store::Local(dir) => {
                let path = dir.join(name);
                match std::fs::read(&path) {
                    Ok(b) => Ok(Some(b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(StorageError::Io {
                        location: path.display().to_string(),
                        source,
                    }),
                }
            }
            Store::Bucket { bucket, prefix, .. } => bucket.get(&join_key(prefix, name)),
        }
    }

    /// Writes file `name` whole (replacing it).
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), StorageError> {
        match self {
            Store::Local(dir) => {
                let path = dir.join(name);
                crate::fsutil::write_bytes_atomically(&path, bytes).map_err(|source| {
                    StorageError::Io {
                        location: path.display().to_string(),
                        source,
                    }
                })
            }
            Store::Bucket { bucket, prefix, .. } => {
                bucket.put(&join_key(prefix, name), bytes.to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_join_and_print() {
        let s3 = Location::parse("s3://bucket/some/prefix/").unwrap();
        assert_eq!(
            s3,
            Location::S3 {
                bucket: "bucket".into(),
                prefix: "some/prefix".into()
            }
        );
        assert_eq!(s3.to_string(), "s3://bucket/some/prefix");
        assert_eq!(
            s3.join("_manifest.json").to_string(),
            "s3://bucket/some/prefix/_manifest.json"
        );
        let (dir, name) = s3.join("_manifest.json").split_name().unwrap();
        assert_eq!((dir, name.as_str()), (s3.clone(), "_manifest.json"));
        let bare = Location::parse("s3://bucket").unwrap();
        assert_eq!(bare.join("x.json").to_string(), "s3://bucket/x.json");
        assert!(bare.is_remote());
        let local = Location::parse("out/entities").unwrap();
        assert_eq!(local, Location::Local("out/entities".into()));
        assert_eq!(
            local.join("_manifest.json").split_name().unwrap(),
            (local.clone(), "_manifest.json".to_owned())
        );
        for bad in [
            "s3://",
            "s3:///x",
            "gs://bucket/x",
            "s3://b/a//c",
            "s3://b/../c",
            "",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad:?} accepted");
        }
        let e = Location::parse("gs://bucket/x").unwrap_err();
        assert!(e.contains("gs:// is not supported"), "{e}");
    }

    #[test]
    fn a_local_store_publishes_whole_files() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(&Location::Local(d.path().join("out")), None).unwrap();
        assert_eq!(store.read("m.json").unwrap(), None);
        store.write("m.json", b"{}").unwrap();
        assert_eq!(store.read("m.json").unwrap().as_deref(), Some(&b"{}"[..]));
        store.staging_dir("t").unwrap();
        let tmp = store.temp_path("t/a.parquet");
        std::fs::write(&tmp, b"x").unwrap();
        let at = store
            .publish(File::open(&tmp).unwrap(), &tmp, "t/a.parquet")
            .unwrap();
        assert!(at.ends_with("out/t/a.parquet"), "{at}");
        assert!(!tmp.exists());
        assert_eq!(
            std::fs::read(d.path().join("out/t/a.parquet")).unwrap(),
            b"x"
        );
    }
}
