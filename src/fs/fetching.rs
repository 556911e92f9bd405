//! A photo's original coming down for an open (photos on demand): the
//! temporary file the download writes, how many bytes are in it so far,
//! and how it ended. The open returns as soon as Flickr has answered, and
//! each read waits only for the bytes it asks for, so a program sees the
//! first bytes one round trip after it opened the photo instead of after
//! the whole download, its fsync and the catalog's update.
//!
//! The producer (the daemon's fetcher, through the download's watch) calls
//! [`Fetching::started`] for every attempt, [`Fetching::wrote`] as bytes
//! land, [`Fetching::complete`] once the body is whole and its length
//! checked, and [`Fetching::finished`] when the file is in place and in
//! the catalog (or the fetch failed).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// One photo's download, shared by every open that waits on it.
#[derive(Debug, Default)]
pub struct Fetching {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// The current attempt's file (the temporary file, renamed into place
    /// once complete: the descriptor stays valid).
    file: Option<Arc<File>>,
    written: u64,
    expected: Option<u64>,
    /// Every byte is in `file`.
    complete: bool,
    /// How the fetch ended: the file is in place and in the catalog, or why not.
    end: Option<Result<(), String>>,
}

/// What a read found.
#[derive(Debug)]
pub enum FetchError {
    /// The download failed before the bytes asked for arrived.
    Failed(String),
    Io(std::io::Error),
}

impl Fetching {
    pub fn new() -> Arc<Fetching> {
        Arc::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new attempt writes `file` (the whole body again), `expected`
    /// bytes long when the server said so.
    pub fn started(&self, file: File, expected: Option<u64>) {
        let mut s = self.state();
        s.file = Some(Arc::new(file));
        s.written = 0;
        s.expected = expected;
        s.complete = false;
        drop(s);
        self.changed.notify_all();
    }

    /// `total` bytes of the current attempt are in its file.
    pub fn wrote(&self, total: u64) {
        self.state().written = total;
        self.changed.notify_all();
    }

    /// The current attempt's body is whole (and as long as announced).
    pub fn complete(&self) {
        let mut s = self.state();
        s.complete = true;
        s.expected = Some(s.written);
        drop(s);
        self.changed.notify_all();
    }

    /// The fetch is over: its file is in place and in the catalog, or it failed.
    pub fn finished(&self, result: Result<(), String>) {
        self.state().end = Some(result);
        self.changed.notify_all();
    }

    /// Waits until Flickr has answered with the body (or the fetch ended),
    /// at most `limit`.
    pub fn wait_started(&self, limit: Duration) -> Result<(), String> {
        let s = self.state();
        let (s, timeout) = self
            .changed
            .wait_timeout_while(s, limit, |s| s.file.is_none() && s.end.is_none())
            .unwrap_or_else(|p| p.into_inner());
        match &s.end {
            Some(Err(why)) if !s.complete => Err(why.clone()),
            _ if timeout.timed_out() => Err(format!("Flickr did not answer within {limit:?}")),
            _ => Ok(()),
        }
    }

    /// Waits until the fetch is over.
    pub fn wait_end(&self) -> Result<(), String> {
        let s = self.state();
        let s = self
            .changed
            .wait_while(s, |s| s.end.is_none())
            .unwrap_or_else(|p| p.into_inner());
        s.end.clone().unwrap_or(Ok(()))
    }

    /// Whether a download is writing (or wrote) the file: a fetch that
    /// found the photo already on disk ends without one.
    pub fn streams(&self) -> bool {
        self.state().file.is_some()
    }

    /// The size to report while downloading: the announced length, or
    /// what has arrived.
    pub fn size(&self) -> u64 {
        let s = self.state();
        s.expected.unwrap_or(s.written)
    }

    /// Up to `size` bytes at `offset`, once they have arrived (fewer at the
    /// end of the file).
    pub fn read_at(&self, offset: u64, size: u32) -> Result<Vec<u8>, FetchError> {
        let want = offset.saturating_add(u64::from(size));
        let s = self.state();
        let s = self
            .changed
            .wait_while(s, |s| {
                s.end.is_none() && !s.complete && (s.file.is_none() || s.written < want)
            })
            .unwrap_or_else(|p| p.into_inner());
        if let (Some(Err(why)), false) = (&s.end, s.complete) {
            return Err(FetchError::Failed(why.clone()));
        }
        let file = s
            .file
            .clone()
            .ok_or_else(|| FetchError::Failed("no download".into()))?;
        // never past what is written: the rest of the file may be a hole
        let size = want.min(s.written).saturating_sub(offset) as usize;
        drop(s);
        let mut buf = vec![0; size];
        file.read_exact_at(&mut buf, offset)
            .map_err(FetchError::Io)?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_read_waits_for_its_bytes_and_not_for_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part");
        let mut w = File::create(&path).unwrap();
        let f = Fetching::new();
        f.started(File::open(&path).unwrap(), Some(8));
        assert_eq!(f.size(), 8);
        w.write_all(b"abcd").unwrap();
        f.wrote(4);
        // the first four bytes are there: no wait
        assert_eq!(f.read_at(0, 4).unwrap(), b"abcd");
        let reader = {
            let f = f.clone();
            std::thread::spawn(move || f.read_at(2, 100).unwrap())
        };
        w.write_all(b"efgh").unwrap();
        f.wrote(8);
        f.complete();
        assert_eq!(reader.join().unwrap(), b"cdefgh");
        assert!(f.read_at(8, 10).unwrap().is_empty(), "end of file");
        f.finished(Ok(()));
        assert_eq!(f.wait_end(), Ok(()));
    }

    #[test]
    fn a_failed_fetch_fails_the_waiting_reads_and_the_open() {
        let f = Fetching::new();
        let reader = {
            let f = f.clone();
            std::thread::spawn(move || f.read_at(0, 10))
        };
        f.finished(Err("offline".into()));
        assert!(matches!(reader.join().unwrap(), Err(FetchError::Failed(w)) if w == "offline"));
        assert_eq!(
            f.wait_started(Duration::from_secs(5)),
            Err("offline".to_string())
        );
    }
}
