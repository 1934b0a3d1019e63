//! Files that appear whole or not at all: every output is written to a hidden temporary file
//! next to its final name (`.NAME.HOST-PID.tmp`), synced, renamed into place, and the
//! directory synced. Readers that list `*.parquet` or `*.json` never match a temporary file,
//! and query engines that skip dot-files (Spark, Hive) never list one. A process killed
//! mid-write leaves its temporary file behind; [`sweep_stale_temps`] removes the ones whose
//! writer on this host is gone.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// This host's name (for temporary-file names; `localhost` when unknown).
fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().replace(['/', '.'], "_"))
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// The hidden temporary name for `path` written by this process.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}-{}.tmp", host(), std::process::id()))
}

/// Writes a file through [`temp_path`]: `write` fills the temporary file, then it is synced,
/// renamed to `path` and the directory entry synced.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(File) -> std::io::Result<File>,
) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let result = File::create(&tmp)
        .and_then(write)
        .and_then(|file| publish(file, &tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Makes the temporary file `tmp` (written through `file`) durable and visible as `path`:
/// syncs it, renames it into place and syncs the directory entry. On an error the temporary
/// file is left for the caller to remove.
pub fn publish(file: File, tmp: &Path, path: &Path) -> std::io::Result<()> {
    file.sync_all()?;
    drop(file);
    std::fs::rename(tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Writes `bytes` to `path` atomically (see [`write_atomically`]).
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomically(path, |mut f| {
        f.write_all(bytes)?;
        Ok(f)
    })
}

/// Removes the temporary files in `dir` left by writers on this host that no longer run
/// (killed mid-write). Returns how many were removed. Temporary files of live processes and
/// of other hosts sharing the directory are left alone.
pub fn sweep_stale_temps(dir: &Path) -> std::io::Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let suffix_host = format!(".{}-", host());
    let mut removed = 0;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) else {
            continue;
        };
        let Some(at) = stem.rfind(&suffix_host) else {
            continue;
        };
        let Ok(pid) = stem[at + suffix_host.len()..].parse::<u32>() else {
            continue;
        };
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        if !alive {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_leave_no_temporary_and_stale_ones_are_swept() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("a.json");
        write_bytes_atomically(&path, b"{}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        let names = || -> Vec<String> {
            let mut n: Vec<String> = std::fs::read_dir(d.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            n.sort();
            n
        };
        assert_eq!(names(), ["a.json"]);

        // A failed write removes its temporary file and leaves the old content.
        let err = write_atomically(&path, |_| Err(std::io::Error::other("disk full")));
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        assert_eq!(names(), ["a.json"]);

        // Our own (live) temporary survives a sweep; a dead writer's does not; another
        // host's is not ours to judge.
        let live = temp_path(&d.path().join("b.parquet"));
        std::fs::write(&live, b"x").unwrap();
        let dead = live.with_file_name(format!(".c.parquet.{}-{}.tmp", host(), u32::MAX - 1));
        std::fs::write(&dead, b"x").unwrap();
        let other = d.path().join(".d.parquet.otherhost-1.tmp");
        std::fs::write(&other, b"x").unwrap();
        assert_eq!(sweep_stale_temps(d.path()).unwrap(), 1);
        assert!(live.exists() && other.exists() && !dead.exists());
        assert!(
            live.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".b.parquet.")
        );
    }
}
