//! Locking a mutex that survives poisoning: a panic in one FUSE callback
//! (caught and answered with EIO by the adapter) must not take the whole
//! mount down with it.

use std::sync::{Mutex, MutexGuard};

pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
