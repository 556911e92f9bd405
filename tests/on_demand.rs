//! Photos on demand, end to end: an account with `download = on-demand`,
//! the mount daemon as a child process, its sync bringing down no original;
//! the photos listed with their dates taken, and fetched from the emulator
//! (20 ms latency) when opened: by `cp -r` of a set, by Pillow, through
//! `mmap`. Offline, an open fails within seconds with a status line.

use std::path::Path;
use std::time::{Duration, Instant};

#[path = "common/proc.rs"]
mod proc;
use proc::*;
#[path = "common/world.rs"]
mod world;
use world::*;

fn files_under(dir: &Path) -> usize {
    tree_sums(dir).len()
}

#[test]
fn photos_on_flickr_are_readable_entries_fetched_when_opened() {
    let w = World::new(None);
    let ids: Vec<String> = (0..4)
        .map(|i| w.seed_online(&format!("photo_{i}"), 900 + i))
        .collect();
    w.seed_set("Trip", &ids);
    w.add_account();
    let out = w.flickrfs(
        &["config", "set", "alice", "download", "on-demand"],
        OP_DEADLINE,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let daemon = w.mount();
    let state = w.control_sync();
    assert!(state.starts_with("done"), "{state}");
    assert_eq!(
        files_under(&w.default_folder),
        0,
        "on-demand: the sync downloads no original"
    );

    // listed with a date (the date taken), not 1970, and no download yet
    let listing = run(
        w.sh("ls -l --time-style=+%Y \"$M/Trip\""),
        "ls",
        OP_DEADLINE,
    );
    let listing = text(&listing.stdout);
    assert_eq!(
        listing.lines().filter(|l| l.contains("photo_")).count(),
        4,
        "{listing}"
    );
    assert!(!listing.contains(" 1970 "), "{listing}");
    assert_eq!(files_under(&w.default_folder), 0, "listing fetches nothing");
    // with the size Flickr announces (the sync asked, once per photo): a
    // file manager that copies st_size bytes (KIO) copies the whole photo
    for i in 0..4 {
        let name = format!("photo_{i}.jpg");
        assert_eq!(
            std::fs::metadata(w.acct().join("Trip").join(&name))
                .expect("stat")
                .len(),
            std::fs::metadata(w.photos.join(&name)).expect("stat").len(),
            "{name}'s size before it is downloaded"
        );
    }

    // cp -r of the set, with Flickr 20 ms away: every byte right
    w.emu.set_faults(flickrfs::emulator::FaultConfig {
        latency_ms: 20,
        ..Default::default()
    });
    let copy = w.tmp.path().join("copy");
    let out = run(
        w.sh(&format!("cp -r \"$M/Trip\" '{}'", copy.display())),
        "cp -r",
        OP_DEADLINE,
    );
    assert!(out.status.success(), "cp -r: {}", text(&out.stderr));
    for i in 0..4 {
        let name = format!("photo_{i}.jpg");
        assert_eq!(
            sha1_of(&copy.join(&name)),
            sha1_of(&w.photos.join(&name)),
            "{name} as copied out of the mount"
        );
    }
    assert_eq!(
        files_under(&w.default_folder),
        4,
        "fetched into the default folder"
    );

    // the file managers' copy: GIO's and KIO's, of photos not downloaded yet
    let fm: Vec<String> = (0..2)
        .map(|i| w.seed_online(&format!("fm_{i}"), 940 + i))
        .collect();
    w.seed_set("Fm", &fm);
    let state = w.control_sync();
    assert!(state.starts_with("done"), "{state}");
    let out = run(
        w.sh(&format!(
            "export QT_QPA_PLATFORM=offscreen QT_LOGGING_RULES='*=false' XDG_RUNTIME_DIR='{0}/run'; \
             mkdir -p -m 700 '{0}/run' '{0}/fm' && \
             gio copy \"$M/Fm/fm_0.jpg\" '{0}/fm/' && \
             kioclient5 --noninteractive copy \"$M/Fm/fm_1.jpg\" '{0}/fm/'",
            w.tmp.path().display()
        )),
        "gio copy and kioclient5 copy",
        OP_DEADLINE,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    for i in 0..2 {
        let name = format!("fm_{i}.jpg");
        assert_eq!(
            sha1_of(&w.tmp.path().join("fm").join(&name)),
            sha1_of(&w.photos.join(&name)),
            "{name} as a file manager copied it out of the mount"
        );
    }

    // a program opening one more: Pillow, and a memory map
    let extra = w.seed_online("late", 950);
    w.seed_set("Late", &[extra]);
    let state = w.control_sync();
    assert!(state.starts_with("done"), "{state}");
    let py = "import sys, mmap\nfrom PIL import Image\nim = Image.open(sys.argv[1]); im.load(); print(im.size[0])\nwith open(sys.argv[1], 'rb') as f:\n    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)\n    print(m[:2].hex())\n";
    let out = run(
        w.sh(&format!(
            "/usr/bin/python3 -c \"{py}\" \"$M/Late/late.jpg\""
        )),
        "python3 Pillow",
        OP_DEADLINE,
    );
    assert!(out.status.success(), "Pillow: {}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.lines().nth(1) == Some("ffd8"), "{said}");

    // the first bytes come before the rest: with the body held after 256 bytes,
    // a read of the first 16 bytes is answered while the download waits
    let held = w.seed_online("held", 970);
    w.seed_set("Held", &[held]);
    let state = w.control_sync();
    assert!(state.starts_with("done"), "{state}");
    w.emu.set_faults(flickrfs::emulator::FaultConfig {
        hold_file_bodies_after: 256,
        ..Default::default()
    });
    let out = run(
        w.sh("timeout 60 dd if=\"$M/Held/held.jpg\" bs=16 count=1 status=none | od -An -tx1"),
        "dd of the first bytes",
        OP_DEADLINE,
    );
    assert!(
        text(&out.stdout).trim().starts_with("ff d8"),
        "the first bytes while the rest is held: {} {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let placed = run(
        w.sh(&format!(
            "find '{}' -name 'held*'",
            w.default_folder.display()
        )),
        "find",
        OP_DEADLINE,
    );
    assert_eq!(
        text(&placed.stdout).trim(),
        "",
        "the download is not over (its body is held)"
    );
    w.emu.set_faults(flickrfs::emulator::FaultConfig::default());
    let copied = w.tmp.path().join("held-copy.jpg");
    let out = run(
        w.sh(&format!("cp \"$M/Held/held.jpg\" '{}'", copied.display())),
        "cp of the whole file",
        OP_DEADLINE,
    );
    assert!(out.status.success(), "cp: {}", text(&out.stderr));
    assert_eq!(sha1_of(&copied), sha1_of(&w.photos.join("held.jpg")));

    // offline: Flickr unreachable; an open fails fast, and says why
    let offline = w.seed_online("offline", 960);
    w.seed_set("Away", &[offline]);
    let state = w.control_sync();
    assert!(state.starts_with("done"), "{state}");
    let (target, status_file) = (
        w.acct().join("Away/offline.jpg"),
        w.mnt.join(".flickrfs/status"),
    );
    w.emu.stop();
    let t = Instant::now();
    let err = std::fs::read(&target).expect_err("offline");
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "an offline open took {:?}",
        t.elapsed()
    );
    let status = std::fs::read_to_string(&status_file).expect("status");
    assert!(
        status.contains("offline.jpg: fetching the original from Flickr"),
        "{status}"
    );
    daemon.unmount();
}

/// Flickr's own small size fills the freedesktop.org thumbnail cache: GIO
/// (GNOME Files, Thunar, Nemo) finds a valid thumbnail for every name of a
/// photo on Flickr, in every folder it is in, while no original has been
/// downloaded.
#[test]
fn flickrs_small_sizes_fill_the_thumbnail_cache_without_downloading_originals() {
    use std::os::unix::fs::MetadataExt;
    let w = World::new(None);
    let ids: Vec<String> = (0..3)
        .map(|i| w.seed_online(&format!("thumb_{i}"), 700 + i))
        .collect();
    w.seed_set("Trip", &ids);
    w.seed_set("Best", &ids[..1]);
    w.add_account();
    let out = w.flickrfs(
        &["config", "set", "alice", "download", "on-demand"],
        OP_DEADLINE,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let daemon = w.mount();
    let state = w.control_sync();
    assert!(state.starts_with("done"), "{state}");

    let cache = w.home.join(".cache/thumbnails");
    let names = [
        "Trip/thumb_0.jpg",
        "Trip/thumb_1.jpg",
        "Trip/thumb_2.jpg",
        "Best/thumb_0.jpg",
    ];
    for name in names {
        let entry = w.acct().join(name);
        let uri = flickrfs::thumbs::file_uri(&entry);
        let mtime = std::fs::metadata(&entry).expect("stat").mtime();
        let t0 = Instant::now();
        while !flickrfs::thumbs::ThumbSize::ALL
            .iter()
            .all(|s| flickrfs::thumbs::is_fresh(&cache, *s, &uri, mtime))
        {
            if t0.elapsed() > Duration::from_secs(60) {
                let log =
                    std::fs::read_to_string(w.tmp.path().join("mount.out")).unwrap_or_default();
                panic!("no thumbnail of {name} after 60 s; mount log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        for size in flickrfs::thumbs::ThumbSize::ALL {
            let png = flickrfs::thumbs::thumb_path(&cache, size, &uri);
            let img = image::open(&png).expect("a PNG");
            assert!(img.width() <= size.pixels() && img.height() <= size.pixels());
        }
        // what GNOME Files asks: GIO finds it, and it is valid for the file
        let out = std::process::Command::new("gio")
            .args(["info", "-a", "thumbnail::path,thumbnail::is-valid"])
            .arg(&entry)
            .env("HOME", &w.home)
            .env_remove("XDG_CACHE_HOME")
            .output()
            .expect("gio");
        let said = text(&out.stdout);
        assert!(out.status.success(), "gio: {}", text(&out.stderr));
        assert!(said.contains("thumbnail::path: "), "{name}: {said}");
        assert!(said.contains("thumbnail::is-valid: TRUE"), "{name}: {said}");
    }
    // with the thumbnails made, listing the folders as a file manager does
    // (names, sizes, dates, thumbnails) asks Flickr nothing
    w.emu.reset_request_log();
    let out = run(
        w.sh("ls -l \"$M/Trip\" \"$M/Best\" && gio list -a standard::size,time::modified,thumbnail::path \"$M/Trip\""),
        "ls and gio list",
        OP_DEADLINE,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).matches("thumb_").count(), 7);
    let asked = w.emu.request_log();
    assert!(asked.is_empty(), "listing made requests: {asked:?}");
    // a name made in the mount (a move to another set) gets its thumbnail
    // from a pass over that photo alone
    std::fs::rename(
        w.acct().join("Trip/thumb_1.jpg"),
        w.acct().join("Best/thumb_1.jpg"),
    )
    .expect("mv");
    let entry = w.acct().join("Best/thumb_1.jpg");
    let uri = flickrfs::thumbs::file_uri(&entry);
    let mtime = std::fs::metadata(&entry).expect("stat").mtime();
    wait_for(
        "the moved entry's thumbnail",
        Duration::from_secs(60),
        || {
            flickrfs::thumbs::ThumbSize::ALL
                .iter()
                .all(|s| flickrfs::thumbs::is_fresh(&cache, *s, &uri, mtime))
        },
    );
    assert_eq!(
        files_under(&w.default_folder),
        0,
        "thumbnails download no original"
    );
    daemon.unmount();
}

/// Benchmark (ignored; `scripts/bench-mount.sh on-demand`), Flickr 20 ms
/// away, each figure next to its peer measured in the same run:
/// - opening a photo not downloaded yet (about 5 MB): first byte and whole
///   file, against `curl` fetching the same original;
/// - thumbnails of a 500-photo set: the cache filled from Flickr's small
///   size, and GIO listing the set with every thumbnail valid, against
///   making the thumbnails from the originals already on disk (Pillow).
#[test]
#[ignore]
fn bench_on_demand() {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let n = std::env::var("BENCH_THUMB_PHOTOS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500usize);
    let w = World::new(None);
    let big = {
        let bytes = w.original("big.jpg", 5, 1800);
        w.emu
            .add_photo(
                &w.nsid,
                flickrfs::emulator::NewEmuPhoto {
                    title: "big".into(),
                    bytes,
                    ..Default::default()
                },
            )
            .expect("add")
    };
    w.seed_set("Big", &[big]);
    let ids: Vec<String> = (0..n)
        .map(|i| {
            let bytes = w.original(&format!("t{i:04}.jpg"), 10_000 + i as u64, 400);
            w.emu
                .add_photo(
                    &w.nsid,
                    flickrfs::emulator::NewEmuPhoto {
                        title: format!("t{i:04}"),
                        bytes,
                        ..Default::default()
                    },
                )
                .expect("add")
        })
        .collect();
    w.seed_set("Many", &ids);
    w.add_account();
    let out = w.flickrfs(
        &["config", "set", "alice", "download", "on-demand"],
        OP_DEADLINE,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    w.emu.set_faults(flickrfs::emulator::FaultConfig {
        latency_ms: 20,
        ..Default::default()
    });
    let daemon = w.mount();
    let synced = Instant::now();
    let state = w.control_sync();
    assert!(state.starts_with("done"), "{state}");

    // thumbnails: from the end of the sync until every one is in the cache
    let cache = w.home.join(".cache/thumbnails");
    let many = w.acct().join("Many");
    let entries: Vec<(String, i64)> = (0..n)
        .map(|i| {
            let e = many.join(format!("t{i:04}.jpg"));
            let m = std::fs::metadata(&e).expect("stat").mtime();
            (flickrfs::thumbs::file_uri(&e), m)
        })
        .collect();
    let t0 = Instant::now();
    while !entries.iter().all(|(uri, m)| {
        flickrfs::thumbs::ThumbSize::ALL
            .iter()
            .all(|s| flickrfs::thumbs::is_fresh(&cache, *s, uri, *m))
    }) {
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "thumbnails not made"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let filled = t0.elapsed().as_secs_f64();
    let _ = synced;
    // a file manager opening the set: GIO lists it with its thumbnails
    let t0 = Instant::now();
    let out = std::process::Command::new("gio")
        .args(["list", "-a", "thumbnail::path,thumbnail::is-valid"])
        .arg(&many)
        .env("HOME", &w.home)
        .env_remove("XDG_CACHE_HOME")
        .output()
        .expect("gio");
    let listed = t0.elapsed().as_secs_f64();
    let said = text(&out.stdout);
    assert_eq!(
        said.matches("thumbnail::is-valid=TRUE").count(),
        n,
        "{said}"
    );
    // the peer: thumbnails made from originals already on disk
    let py = "import sys, glob\nfrom PIL import Image\nfor f in sorted(glob.glob(sys.argv[1] + '/t*.jpg')):\n    for s in (128, 256):\n        im = Image.open(f); im.thumbnail((s, s)); im.save(sys.argv[2] + '/%d-%s.png' % (s, f.split('/')[-1]))\n";
    let peer_dir = w.tmp.path().join("peer-thumbs");
    std::fs::create_dir_all(&peer_dir).unwrap();
    let t0 = Instant::now();
    let out = std::process::Command::new("/usr/bin/python3")
        .args(["-c", py])
        .arg(&w.photos)
        .arg(&peer_dir)
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let pil = t0.elapsed().as_secs_f64();

    // one photo not downloaded yet: first byte, whole file
    let entry = w.acct().join("Big/big.jpg");
    let t0 = Instant::now();
    let mut f = std::fs::File::open(&entry).expect("open");
    let mut one = [0u8; 1];
    f.read_exact(&mut one).expect("first byte");
    let first = t0.elapsed().as_secs_f64();
    let mut rest = Vec::new();
    f.read_to_end(&mut rest).expect("read");
    let whole = t0.elapsed().as_secs_f64();
    drop(f);
    let size = rest.len() + 1;
    let url: String = {
        let cat = rusqlite::Connection::open(w.home.join(".local/share/flickrfs/catalog.sqlite"))
            .expect("catalog");
        cat.query_row("SELECT r_url FROM photos WHERE r_title = 'big'", [], |r| {
            r.get(0)
        })
        .expect("url")
    };
    let curl_out = w.tmp.path().join("curl.jpg");
    let t0 = Instant::now();
    let out = std::process::Command::new("curl")
        .args(["-sf", "-o"])
        .arg(&curl_out)
        .arg(&url)
        .output()
        .expect("curl");
    let curl = t0.elapsed().as_secs_f64();
    assert!(out.status.success(), "curl {url}");
    assert_eq!(std::fs::metadata(&curl_out).unwrap().len() as usize, size);
    daemon.unmount();

    println!("| measurement (Flickr 20 ms away) | flickrfs | comparison (same run) | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| open a photo not downloaded yet ({:.1} MB): first byte | {:.0} ms | curl of the original, whole: {:.0} ms | {:.2}x |",
        size as f64 / 1e6,
        first * 1e3,
        curl * 1e3,
        first / curl
    );
    println!(
        "| the same: whole file | {:.0} ms | curl {:.0} ms | {:.2}x |",
        whole * 1e3,
        curl * 1e3,
        whole / curl
    );
    println!(
        "| thumbnails of a {n}-photo set: cache filled from Flickr's small size | {filled:.1} s | Pillow from the originals on disk: {pil:.1} s | {:.2}x |",
        filled / pil
    );
    println!(
        "| the same set listed by GIO with every thumbnail valid | {:.0} ms | (no generation) | |",
        listed * 1e3
    );
}
