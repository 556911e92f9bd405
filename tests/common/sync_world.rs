//! The world of the sync tests: an emulator on 127.0.0.1, a client signed
//! for one user, a real SQLite catalog and a photo folder in a temporary
//! directory. Shared by `tests/sync.rs` and `tests/incremental.rs`.

use std::path::PathBuf;

use flickrfs::catalog::{AccountId, Catalog, CollectionId};
use flickrfs::emulator::{Emulator, EmulatorConfig};
use flickrfs::flickr::{AccessToken, ApiCredentials, Client, ClientOptions, Endpoints};

pub struct World {
    pub _tmp: tempfile::TempDir,
    pub emu: Emulator,
    pub nsid: String,
    pub client: Client,
    pub cat: Catalog,
    pub account: AccountId,
    pub folder: PathBuf,
    pub root: CollectionId,
}

pub fn world(demo: bool) -> World {
    world_with(demo, |c| c)
}

pub fn world_with(demo: bool, cfg: impl FnOnce(EmulatorConfig) -> EmulatorConfig) -> World {
    let tmp = tempfile::tempdir().expect("tempdir");
    let emu = Emulator::start(cfg(EmulatorConfig {
        state_dir: tmp.path().join("emu"),
        bind: "127.0.0.1:0".parse().expect("addr"),
        auto_approve: true,
        seed_demo: demo,
        ..Default::default()
    }))
    .expect("emulator");
    let (key, nsid, tok) = if demo {
        let user = emu.demo_user().expect("demo user");
        (
            emu.default_api_key(),
            user.nsid,
            emu.demo_token().expect("demo token"),
        )
    } else {
        let key = emu.create_api_key().expect("key");
        let user = match emu.user_by_name("alice").expect("user") {
            Some(u) => u,
            None => emu.create_user("alice").expect("user"),
        };
        let tok = emu
            .issue_token(&key.key, &user.nsid, "write")
            .expect("token");
        (key, user.nsid, tok)
    };
    let client = Client::new(
        Endpoints::local(&emu.base_url()),
        ApiCredentials {
            key: key.key,
            secret: key.secret,
        },
        Some(AccessToken {
            token: tok.token,
            secret: tok.secret,
        }),
        fast_retries(),
    )
    .expect("client");
    let folder = tmp.path().join("Pictures");
    std::fs::create_dir_all(&folder).expect("folder");
    let cat = Catalog::open(&tmp.path().join("catalog.db")).expect("catalog");
    let acct = cat
        .add_account(
            &flickrfs::model::Nsid::new(nsid.clone()),
            "alice",
            "alice",
            &folder,
        )
        .expect("account");
    World {
        _tmp: tmp,
        emu,
        nsid,
        client,
        cat,
        account: acct.id,
        folder,
        root: acct.root,
    }
}

/// Retries as the client does them, with short pauses (the tests inject faults).
pub fn fast_retries() -> ClientOptions {
    ClientOptions {
        retry: flickrfs::flickr::RetryPolicy {
            max_attempts: 6,
            base_delay: std::time::Duration::from_millis(5),
            max_delay: std::time::Duration::from_millis(50),
            max_retry_after: std::time::Duration::from_millis(100),
        },
        // The emulator is not Flickr: no need to pace calls at 1 a second.
        rate_limit: flickrfs::flickr::RateLimit {
            calls_per_hour: 36_000_000,
            burst: 10_000,
        },
        ..ClientOptions::default()
    }
}
