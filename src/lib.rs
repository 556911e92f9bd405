//! flickrfs: a Flickr collection as a FUSE filesystem of references, plus a
//! safe, resumable two-way sync. See ARCHITECTURE.md for the map.
//!
//! Dependencies flow one way:
//! `model` ← `media`, `flickr`, `catalog` ← `library` ← `fs`, `sync` ← CLI (`main.rs`).
//! The `emulator` stands alone: it speaks Flickr's wire format from its own
//! state and shares no types with the client.

pub mod accounts;
pub mod app;
pub mod catalog;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod emulator;
pub mod flickr;
pub mod fs;
pub mod library;
pub mod localtime;
pub mod media;
pub mod model;
pub mod relocate;
pub mod review;
pub mod sync;
pub mod thumbs;
