//! A local S3 endpoint for tests: moto's server (from the venv, `ops/requirements.txt`) with a
//! bucket, behind a fault-injecting HTTP proxy that passes requests through, answers them
//! with S3's throttling reply (503 SlowDown), or drops connections unanswered, as a test
//! switches it. Objects are read back with DuckDB through pyarrow's S3 filesystem.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

/// What the proxy does with the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward to moto.
    Pass = 0,
    /// Answer `503 Slow Down` with S3's `SlowDown` error document.
    Throttle = 1,
    /// Read the request, then close the connection without an answer.
    Drop = 2,
}

/// moto on a free port, a bucket in it, and the fault proxy in front.
pub struct S3 {
    /// moto itself (for readers that should not meet faults).
    pub endpoint: String,
    /// The proxy (for the code under test).
    pub proxy: String,
    pub bucket: String,
    moto: Child,
    mode: Arc<AtomicU8>,
    faults: Arc<AtomicU64>,
    passed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl S3 {
    pub fn start() -> S3 {
        let bucket = "bioner-test".to_owned();
        let (moto, endpoint) = super::start_moto(&bucket);
        let upstream = endpoint.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy port");
        let proxy = format!("http://{}", listener.local_addr().unwrap());
        let (mode, faults, passed, stop) = (
            Arc::new(AtomicU8::new(Mode::Pass as u8)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        {
            let (mode, faults, passed, stop) =
                (mode.clone(), faults.clone(), passed.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (mode, faults, passed, upstream) = (
                        mode.clone(),
                        faults.clone(),
                        passed.clone(),
                        upstream.clone(),
                    );
                    std::thread::spawn(move || {
                        let _ = serve(conn, &upstream, &mode, &faults, &passed);
                    });
                }
            });
        }
        S3 {
            endpoint,
            proxy,
            bucket,
            moto,
            mode,
            faults,
            passed,
            stop,
        }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Requests answered with a fault so far.
    pub fn faults(&self) -> u64 {
        self.faults.load(Ordering::SeqCst)
    }

    /// Requests passed through to moto so far.
    pub fn passed(&self) -> u64 {
        self.passed.load(Ordering::SeqCst)
    }

    /// A pipeline's `[storage]` table reaching the bucket through the proxy.
    pub fn storage_toml(&self, spool: &std::path::Path, extra: &str) -> String {
        format!(
            "[storage]\nendpoint = \"{}\"\nregion = \"us-east-1\"\naccess_key_id = \"test\"\n\
             secret_access_key = \"test\"\nspool_dir = \"{}\"\n{extra}",
            self.proxy,
            spool.display()
        )
    }

    /// Runs `sql` in DuckDB with `s3://` served by pyarrow's S3 filesystem on moto (DuckDB's
    /// own httpfs extension is downloaded at first use, which tests cannot do); prints the
    /// rows as JSON.
    pub fn duckdb_json(&self, sql: &str) -> serde_json::Value {
        let printed = super::run_python(
            r#"
import json, sys
import duckdb, pyarrow.fs
from fsspec.implementations.arrow import ArrowFSWrapper
class S3(ArrowFSWrapper):
    protocol = "s3"
host = sys.argv[1].split("://", 1)[1]
fs = S3(pyarrow.fs.S3FileSystem(endpoint_override=host, scheme="http", access_key="test",
                                secret_key="test", region="us-east-1"))
con = duckdb.connect()
con.register_filesystem(fs)
print(json.dumps([list(r) for r in con.sql(sys.argv[2]).fetchall()], default=str))
"#,
            &[&self.endpoint, sql],
        );
        serde_json::from_str(&printed).unwrap_or_else(|e| panic!("{e}: {printed}"))
    }

    /// The keys under `prefix` in the bucket (read from moto directly).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let printed = super::run_python(
            "import boto3, sys, json\n\
             c = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test',\n\
               aws_secret_access_key='test', region_name='us-east-1')\n\
             keys = []\n\
             for page in c.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[2], Prefix=sys.argv[3]):\n\
             \x20   keys += [o['Key'] for o in page.get('Contents', [])]\n\
             print(json.dumps(sorted(keys)))",
            &[&self.endpoint, &self.bucket, prefix],
        );
        serde_json::from_str(&printed).unwrap()
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect(self.proxy.trim_start_matches("http://"));
        let _ = self.moto.kill();
        let _ = self.moto.wait();
    }
}

/// One request on `conn`, handled as the mode says; the connection is closed after it.
fn serve(
    conn: TcpStream,
    upstream: &str,
    mode: &AtomicU8,
    faults: &AtomicU64,
    passed: &AtomicU64,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut head = Vec::new();
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            content_length = v.trim().parse().unwrap_or(0);
        }
        assert!(
            !lower.starts_with("transfer-encoding:"),
            "the proxy does not handle chunked requests: {line}"
        );
        if line == "\r\n" {
            break;
        }
        if !lower.starts_with("connection:") {
            head.extend_from_slice(line.as_bytes());
        }
    }
    let mut body = vec![0u8; content_length];
    reader.read_exact(&mut body)?;
    let mut conn = conn;
    match mode.load(Ordering::SeqCst) {
        m if m == Mode::Drop as u8 => {
            faults.fetch_add(1, Ordering::SeqCst);
            conn.shutdown(Shutdown::Both)
        }
        m if m == Mode::Throttle as u8 => {
            faults.fetch_add(1, Ordering::SeqCst);
            let doc = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>\
                       <Message>Please reduce your request rate.</Message></Error>";
            write!(
                conn,
                "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{doc}",
                doc.len()
            )?;
            conn.flush()
        }
        _ => {
            let mut up = TcpStream::connect(upstream)?;
            up.write_all(&head)?;
            up.write_all(b"Connection: close\r\n\r\n")?;
            up.write_all(&body)?;
            let mut response = Vec::new();
            up.read_to_end(&mut response)?;
            // The same response, announcing that this connection closes after it.
            let split = response
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .map(|p| p + 2)
                .unwrap_or(response.len());
            let head = String::from_utf8_lossy(&response[..split]);
            let mut out = String::new();
            for line in head.split_inclusive("\r\n") {
                if !line.to_ascii_lowercase().starts_with("connection:") {
                    out.push_str(line);
                }
            }
            out.push_str("Connection: close\r\n");
            conn.write_all(out.as_bytes())?;
            conn.write_all(&response[split..])?;
            conn.flush()?;
            passed.fetch_add(1, Ordering::SeqCst);
            conn.shutdown(Shutdown::Both)
        }
    }
}
