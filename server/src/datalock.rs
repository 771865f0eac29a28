//! One process per cluster database: `emroam server` takes an exclusive OS lock on
//! `<data-dir>/<id>.lock` before it opens `<id>.db`, and writes its PID there so a second
//! process refused the lock can say who holds it.
//!
//! The lock is `flock`-style ([`std::fs::File::try_lock`]): the OS drops it when the process
//! ends, however it ends (`kill -9` included), so a stale lock file never blocks a restart. The
//! PID in the file is only a hint for the message; the lock itself is what counts.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use crate::error::ServerError;

/// The lock on one cluster database; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct DataLock {
    _file: File,
}

/// The lock file of cluster `id` in `dir`.
pub fn path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.lock"))
}

impl DataLock {
    /// Takes the lock on cluster `id`'s database in `dir` at once, or says who holds it.
    ///
    /// # Errors
    /// [`ServerError::Locked`] when another process (or another cluster of this process with
    /// the same ID and data directory) holds it; [`ServerError::DataDir`] when the lock file
    /// cannot be opened or written.
    pub fn acquire(dir: &Path, id: &str) -> Result<DataLock, ServerError> {
        let path = path(dir, id);
        let unusable = |source| ServerError::DataDir {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(unusable)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(ServerError::Locked {
                    path,
                    holder: text.trim().parse().ok(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(unusable(e)),
        }
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush())
            .map_err(unusable)?;
        Ok(DataLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_database_is_refused_and_names_the_holder() {
        let dir = std::env::temp_dir().join(format!("emroam-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let held = DataLock::acquire(&dir, "c1").unwrap();
        let err = DataLock::acquire(&dir, "c1").unwrap_err().to_string();
        assert!(
            err.contains(&format!("held by process {}", std::process::id()))
                && err.contains("c1.lock"),
            "{err}"
        );
        // Another cluster's database in the same directory is its own lock.
        let other = DataLock::acquire(&dir, "c2").unwrap();
        drop(held);
        let again = DataLock::acquire(&dir, "c1").unwrap();
        drop((again, other));
        let _ = std::fs::remove_dir_all(dir);
    }
}
