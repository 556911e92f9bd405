//! End-to-end sync against the emulator over real HTTP, with a real SQLite
//! catalog and real files in a temporary folder.

use std::path::Path;

use flickrfs::catalog::{Catalog, EntryName};
use flickrfs::emulator::{Emulator, EmulatorConfig, NewEmuPhoto};
use flickrfs::flickr::{AccessToken, ApiCredentials, Client, ClientOptions, Endpoints};
use flickrfs::model::Direction;
use flickrfs::sync::{run_sync, NoProgress, PlanOptions, SyncOptions};

fn jpeg(rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(32, 24, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}

fn sha1_hex(path: &Path) -> String {
    flickrfs::media::sha1_file(path).expect("sha1").to_string()
}

struct World {
    _tmp: tempfile::TempDir,
    emu: Emulator,
    nsid: String,
    client: Client,
    cat: Catalog,
    account: flickrfs::catalog::AccountId,
    folder: std::path::PathBuf,
}

fn world() -> World {
    let tmp = tempfile::tempdir().expect("tempdir");
    let emu = Emulator::start(EmulatorConfig {
        state_dir: tmp.path().join("emu"),
        bind: "127.0.0.1:0".parse().expect("addr"),
        auto_approve: true,
        ..Default::default()
    })
    .expect("emulator");
    let key = emu.create_api_key().expect("key");
    let user = emu.create_user("alice").expect("user");
    let tok = emu
        .issue_token(&key.key, &user.nsid, "write")
        .expect("token");
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
        ClientOptions::default(),
    )
    .expect("client");
    let folder = tmp.path().join("Pictures");
    std::fs::create_dir_all(&folder).expect("folder");
    let cat = Catalog::open(&tmp.path().join("catalog.db")).expect("catalog");
    let acct = cat
        .add_account(
            &flickrfs::model::Nsid::new(user.nsid.clone()),
            "alice",
            "alice",
            &folder,
        )
        .expect("account");
    World {
        _tmp: tmp,
        emu,
        nsid: user.nsid,
        client,
        cat,
        account: acct.id,
        folder,
    }
}

fn sync(w: &World) -> flickrfs::sync::SyncReport {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let opts = SyncOptions {
        plan: PlanOptions {
            direction: Direction::Both,
            ..PlanOptions::default()
        },
        ..SyncOptions::default()
    };
    rt.block_on(run_sync(
        &w.cat,
        &w.client,
        w.account,
        &opts,
        &mut NoProgress,
    ))
    .expect("sync")
}

#[test]
fn two_way_sync_uploads_downloads_and_then_has_nothing_to_do() {
    let w = world();
    // On Flickr only.
    let remote_bytes = jpeg([200, 10, 10]);
    let remote_id = w
        .emu
        .add_photo(
            &w.nsid,
            NewEmuPhoto {
                title: "Red square".into(),
                bytes: remote_bytes,
                ..Default::default()
            },
        )
        .expect("add photo");
    // On disk only, added to the account folder.
    let local_path = w.folder.join("Blue square.jpg");
    std::fs::write(&local_path, jpeg([10, 10, 200])).expect("write");
    let root = w.cat.account(w.account).expect("account").root;
    w.cat
        .add_file(
            root,
            &EntryName::new("Blue square.jpg").unwrap(),
            &local_path,
            None,
        )
        .expect("add file");

    let report = sync(&w);
    let exec = report.executed.expect("executed");
    assert!(
        exec.failed.is_empty(),
        "failures: {:?}\nplan:\n{}",
        exec.failed,
        report.plan
    );
    assert_eq!(report.plan.summary.uploads, 1, "{}", report.plan);
    assert_eq!(report.plan.summary.downloads, 1, "{}", report.plan);

    // The upload landed with its checksum machine tag.
    let online = w.emu.photos(&w.nsid);
    assert_eq!(online.len(), 2);
    let blue = online
        .iter()
        .find(|p| p.title == "Blue square")
        .expect("uploaded");
    assert_eq!(blue.sha1, sha1_hex(&local_path));
    assert!(
        blue.machine_tags
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&format!("flickrfs:sha1={}", blue.sha1))),
        "{:?}",
        blue.machine_tags
    );

    // The download is the original, byte for byte, in the default folder.
    let red = w
        .cat
        .photo_by_remote_id(w.account, &flickrfs::model::PhotoId::new(remote_id.clone()))
        .expect("query")
        .expect("record");
    let file = red.local.expect("downloaded file");
    assert!(file.path.starts_with(&w.folder), "{}", file.path.display());
    let emu_red = online.iter().find(|p| p.id == remote_id).expect("red");
    assert_eq!(sha1_hex(&file.path), emu_red.sha1);

    // Nothing left to do, and nothing uploaded twice.
    let again = sync(&w);
    assert!(again.plan.is_empty(), "second plan:\n{}", again.plan);
    assert_eq!(w.emu.photos(&w.nsid).len(), 2);
}
