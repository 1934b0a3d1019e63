#![cfg(unix)]
//! The `bioner` command line behaves like a Unix filter.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

/// `bioner info | head -0`: the reader is gone before bioner writes its first line. bioner
/// must end quietly (killed by SIGPIPE, as `cat` would be), not panic on the write.
#[test]
fn a_closed_stdout_ends_bioner_quietly() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let mut child = Command::new(env!("CARGO_BIN_EXE_bioner"))
        .args(["info", "--encoder", "no-such-encoder"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start bioner info");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "bioner panicked: {stderr}");
    assert_eq!(
        status.signal(),
        Some(libc::SIGPIPE),
        "{status:?}, stderr: {stderr}"
    );
}
