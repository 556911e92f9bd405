//! Copying into the mount: a copy of a file under a library folder becomes
//! a reference to that original (no second copy at rest), a copy from
//! anywhere else is kept in the default folder, and the per-file cost does
//! not grow with the catalog.
//!
//! Also the copy-in benchmark (`bench_copy_in`, ignored; run by
//! `scripts/bench-mount.sh copy`).

#[path = "common/mount.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use flickrfs::catalog::{Catalog, EntryName};
use flickrfs::library::Library;
use flickrfs::media::{Checksum, FileFacts, MediaKind};
use harness::*;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `n` JPEG-looking files of `len` bytes into `dir` (content
/// distinct per `seed`); returns their paths.
fn make_files(dir: &Path, prefix: &str, n: usize, len: usize, seed: u64) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).expect("mkdir");
    (0..n)
        .map(|i| {
            let p = dir.join(format!("{prefix}{i:05}.jpg"));
            std::fs::write(&p, jpeg_bytes(len, seed + i as u64)).expect("write");
            p
        })
        .collect()
}

/// Seeds `photos` photos in sets of 1,000 straight into the catalog.
fn seed_catalog(cat: &Catalog, w: &World, account: flickrfs::catalog::AccountId, photos: usize) {
    let per_set = 1000;
    let mut n = 0;
    let mut s = 0;
    while n < photos {
        let dir = w.photos.join(format!("seed{s:04}"));
        std::fs::create_dir_all(&dir).unwrap();
        let set = cat
            .mkdir(account, &EntryName::new(&format!("Seed {s:04}")).unwrap())
            .unwrap();
        for _ in 0..per_set.min(photos - n) {
            let name = format!("IMG_{n:06}.jpg");
            let p = dir.join(&name);
            std::fs::write(&p, format!("photo {n}")).unwrap();
            let facts = FileFacts {
                size: 0,
                mtime_ns: 0,
                checksum: Checksum(format!("{:040x}", n + 1)),
                kind: MediaKind::Jpeg,
                exif: Default::default(),
            };
            cat.add_file(set.id, &EntryName::new(&name).unwrap(), &p, Some(facts))
                .unwrap();
            n += 1;
        }
        s += 1;
    }
}

/// Seconds a shell command takes.
fn time_sh(w: &World, script: &str) -> f64 {
    let t = Instant::now();
    w.ok(script);
    t.elapsed().as_secs_f64()
}

/// Bytes of regular files under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    fn walk(d: &Path, sum: &mut u64) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                walk(&e.path(), sum);
            } else if m.is_file() {
                *sum += m.len();
            }
        }
    }
    let mut sum = 0;
    walk(dir, &mut sum);
    sum
}

/// A mount whose account `alice` has `w.photos` as its library folder.
fn mount_with_library(w: &World) -> (flickrfs::catalog::Account, Mounted) {
    let a = w.add_alice();
    let mut o = w.options();
    o.libraries.insert(
        a.id,
        Arc::new(Library::new(vec![w.photos.clone()], vec![w.mnt.clone()])),
    );
    (a, w.mount_with(o))
}

fn source_of(p: &Path) -> PathBuf {
    let v = xattr_get(p, "user.flickrfs.source")
        .unwrap_or_else(|| panic!("{}: no source", p.display()));
    PathBuf::from(v)
}

fn xattr_get(p: &Path, name: &str) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid C strings and a buffer of the given length.
    let len = unsafe { libc::getxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (len >= 0).then(|| String::from_utf8_lossy(&buf[..len as usize]).into_owned())
}

#[test]
fn copies_from_a_library_folder_become_references_by_every_common_tool() {
    let w = World::new();
    let lib = w.photos.join("2024/Trip");
    let originals = make_files(&lib, "IMG_", 4, 30_000, 11);
    make_files(&lib.join("day2"), "DSC_", 2, 25_000, 21);
    let (_a, m) = mount_with_library(&w);
    let acct = w.mnt.join("alice");
    w.ok(&format!(
        "mkdir $M/alice/Cp $M/alice/CpR $M/alice/Rsync $M/alice/Py && \
         cp {0}/IMG_00000.jpg {0}/IMG_00001.jpg $M/alice/Cp/ && \
         cp -r {0}/day2 $M/alice/CpR/ 2>/dev/null || cp {0}/day2/* $M/alice/CpR/ ; \
         rsync -a {0}/IMG_00002.jpg $M/alice/Rsync/ && \
         python3 -c 'import shutil,sys; shutil.copy2(sys.argv[1], sys.argv[2])' {0}/IMG_00003.jpg $M/alice/Py/IMG_00003.jpg",
        lib.display()
    ));
    let checks = [
        (acct.join("Cp/IMG_00000.jpg"), originals[0].clone()),
        (acct.join("Cp/IMG_00001.jpg"), originals[1].clone()),
        (acct.join("Rsync/IMG_00002.jpg"), originals[2].clone()),
        (acct.join("Py/IMG_00003.jpg"), originals[3].clone()),
        (
            acct.join("CpR/DSC_00000.jpg"),
            lib.join("day2/DSC_00000.jpg"),
        ),
    ];
    for (entry, original) in &checks {
        assert_eq!(
            &source_of(entry),
            original,
            "{} refers to its original",
            entry.display()
        );
        assert_eq!(
            std::fs::read(entry).unwrap(),
            std::fs::read(original).unwrap(),
            "{} reads the original's bytes",
            entry.display()
        );
    }
    assert_eq!(bytes_under(&w.default_folder), 0, "no copy is kept");
    let status = m.status();
    assert!(
        status.contains("alice: 6 photos refer to your own files")
            && status.contains("0 copies are kept in the default folder"),
        "the status counts references and copies: {status}"
    );
    m.unmount();
    // the originals are untouched
    for (i, o) in originals.iter().enumerate() {
        assert_eq!(std::fs::read(o).unwrap(), jpeg_bytes(30_000, 11 + i as u64));
    }
}

/// The file managers' own copy: GIO's (GNOME Files, Thunar, Nemo) and
/// KIO's (Dolphin) from a library folder end as references too; GIO's
/// rename, its move between sets and its copy between sets keep the one
/// photo; GIO lists what the set holds.
#[test]
fn file_managers_copies_become_references_and_their_moves_keep_the_photo() {
    let w = World::new();
    let lib = w.photos.join("2024/Walk");
    let originals = make_files(&lib, "IMG_", 3, 30_000, 31);
    let (_a, m) = mount_with_library(&w);
    let acct = w.mnt.join("alice");
    let kio =
        "export QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR=$HOME/run QT_LOGGING_RULES='*=false'; \
               mkdir -p -m 700 $HOME/run; ";
    w.ok(&format!(
        "mkdir $M/alice/Gio $M/alice/Kio $M/alice/Other && \
         gio copy {0}/IMG_00000.jpg {0}/IMG_00001.jpg $M/alice/Gio/ && \
         {kio} kioclient5 --noninteractive copy {0}/IMG_00002.jpg $M/alice/Kio/",
        lib.display()
    ));
    let checks = [
        (acct.join("Gio/IMG_00000.jpg"), &originals[0]),
        (acct.join("Gio/IMG_00001.jpg"), &originals[1]),
        (acct.join("Kio/IMG_00002.jpg"), &originals[2]),
    ];
    for (entry, original) in &checks {
        assert_eq!(&&source_of(entry), original, "{}", entry.display());
        assert_eq!(
            std::fs::read(entry).unwrap(),
            std::fs::read(original).unwrap()
        );
    }
    assert_eq!(bytes_under(&w.default_folder), 0, "no copy is kept");
    let listed = w.ok("gio list $M/alice/Gio $M/alice/Kio");
    let mut listed: Vec<&str> = listed.split_whitespace().collect();
    listed.sort();
    assert_eq!(
        listed,
        ["IMG_00000.jpg", "IMG_00001.jpg", "IMG_00002.jpg"],
        "nothing else left behind (no .part file)"
    );

    w.ok("gio rename $M/alice/Gio/IMG_00000.jpg First.jpg && gio move $M/alice/Gio/First.jpg $M/alice/Other/ && gio copy $M/alice/Other/First.jpg $M/alice/Kio/");
    assert_eq!(w.ok("gio list $M/alice/Gio").trim(), "IMG_00001.jpg");
    let mut kio_set: Vec<String> = w
        .ok("gio list $M/alice/Kio")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    kio_set.sort();
    assert_eq!(kio_set, ["First.jpg", "IMG_00002.jpg"]);
    for entry in [acct.join("Other/First.jpg"), acct.join("Kio/First.jpg")] {
        assert_eq!(source_of(&entry), originals[0], "{}", entry.display());
    }
    let cat = w.catalog();
    let photos = cat.photos(_a.id).unwrap();
    assert_eq!(photos.len(), 3, "one photo per original: {photos:?}");
    assert_eq!(bytes_under(&w.default_folder), 0, "still no copy");
    m.unmount();
}

#[test]
fn a_copy_from_outside_the_library_is_kept_and_same_sized_strangers_are_never_confused() {
    let w = World::new();
    let outside = w.tmp.path().join("card/DCIM");
    let from_card = make_files(&outside, "CARD_", 2, 40_000, 31);
    // in the library: a file of the same size with other bytes, and one
    // with the card's second file's bytes under another name
    let lib = w.photos.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("CARD_00000.jpg"), jpeg_bytes(40_000, 99)).unwrap();
    std::fs::write(lib.join("renamed.jpg"), jpeg_bytes(40_000, 32)).unwrap();
    let (_a, m) = mount_with_library(&w);
    w.ok(&format!(
        "mkdir $M/alice/S && cp {}/* $M/alice/S/",
        outside.display()
    ));
    let first = source_of(&w.mnt.join("alice/S/CARD_00000.jpg"));
    assert!(
        first.starts_with(&w.default_folder),
        "same size, other bytes: the copy is kept ({})",
        first.display()
    );
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&from_card[0]).unwrap()
    );
    assert_eq!(
        source_of(&w.mnt.join("alice/S/CARD_00001.jpg")),
        lib.join("renamed.jpg"),
        "the same bytes under another name are found"
    );
    assert_eq!(bytes_under(&w.default_folder), 40_000, "one copy kept");
    assert!(
        m.status().contains("1 copy is kept in the default folder"),
        "{}",
        m.status()
    );
    m.unmount();
}

#[test]
fn a_library_file_saved_while_mounted_is_found_and_a_deleted_original_is_reported_missing() {
    let w = World::new();
    let (_a, m) = mount_with_library(&w);
    std::fs::create_dir_all(w.mnt.join("alice/S")).unwrap();
    // saved after the index was built (inotify brings it in)
    let lib = w.photos.join("new");
    let files = make_files(&lib, "N_", 1, 22_000, 41);
    w.ok(&format!("cp {} $M/alice/S/", files[0].display()));
    let entry = w.mnt.join("alice/S/N_00000.jpg");
    assert_eq!(source_of(&entry), files[0]);
    std::fs::remove_file(&files[0]).unwrap();
    assert!(
        eventually(std::time::Duration::from_secs(20), || {
            std::fs::read(&entry).is_err() || m.status().contains("missing")
        }),
        "a deleted original is reported as for ln -s: {}",
        m.status()
    );
    m.unmount();
}

struct Row {
    what: String,
    ours: String,
    peer: String,
    ratio: String,
}

struct Unmount(PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
        if is_mounted(&self.0) {
            let _ = std::process::Command::new("fusermount3")
                .arg("-u")
                .arg(&self.0)
                .status();
        }
    }
}

#[test]
#[ignore]
fn bench_copy_in() {
    let big_catalog = env_num("BENCH_PHOTOS", 100_000);
    let small_n = env_num("BENCH_SMALL_FILES", 1000);
    let small_len = 20 * 1024;
    let big_n = 20;
    let big_len = 3 * 1024 * 1024;
    let mut rows = Vec::new();
    let ms_per = |s: f64, n: usize| format!("{:.3} ms/file", s * 1000.0 / n as f64);

    // the peers, once: direct ext4 and bindfs over ext4
    let peer = World::new();
    let outside = peer.tmp.path().join("outside");
    make_files(&outside.join("small"), "s", small_n, small_len, 1);
    make_files(&outside.join("big"), "b", big_n, big_len, 100_000);
    let best = |f: &dyn Fn(usize) -> f64| (0..3).map(f).fold(f64::MAX, f64::min);
    let direct_small = best(&|i| {
        time_sh(
            &peer,
            &format!("mkdir -p d{i} && cp {}/small/* d{i}/", outside.display()),
        )
    });
    let direct_big = best(&|i| {
        time_sh(
            &peer,
            &format!("mkdir -p e{i} && cp {}/big/* e{i}/", outside.display()),
        )
    });
    let bind_back = peer.tmp.path().join("bindback");
    let bind_mnt = peer.tmp.path().join("bindmnt");
    std::fs::create_dir_all(&bind_back).unwrap();
    std::fs::create_dir_all(&bind_mnt).unwrap();
    peer.ok(&format!(
        "bindfs --no-allow-other {} {}",
        bind_back.display(),
        bind_mnt.display()
    ));
    let _b = Unmount(bind_mnt.clone());
    let bind_small = best(&|i| {
        time_sh(
            &peer,
            &format!(
                "mkdir -p {m}/d{i} && cp {}/small/* {m}/d{i}/",
                outside.display(),
                m = bind_mnt.display()
            ),
        )
    });
    let bind_big = best(&|i| {
        time_sh(
            &peer,
            &format!(
                "mkdir -p {m}/e{i} && cp {}/big/* {m}/e{i}/",
                outside.display(),
                m = bind_mnt.display()
            ),
        )
    });
    drop(_b);

    for photos in [0, big_catalog] {
        let w = World::new();
        let cat = w.catalog();
        let a = w.add_alice();
        let t = Instant::now();
        seed_catalog(&cat, &w, a.id, photos);
        let seeded = t.elapsed().as_secs_f64();
        drop(cat);
        // the library is the user's photo folder, holding the seeded
        // catalog's files too (as large a library as the catalog)
        let library = Arc::new(Library::new(vec![w.photos.clone()], vec![w.mnt.clone()]));
        let t = Instant::now();
        library.warm();
        let indexed = t.elapsed().as_secs_f64();
        let mut o = w.options();
        // the daemon's own polling interval, not the tests' faster one
        o.poll_interval = flickrfs::fs::MountOptions::new(&w.mnt, &w.catalog_path).poll_interval;
        o.libraries.insert(a.id, library.clone());
        let m = w.mount_with(o);
        let acct = w.mnt.join("alice");
        let src = outside.display();
        let new_small = time_sh(
            &w,
            &format!("mkdir {0}/A && cp {src}/small/* {0}/A/", acct.display()),
        );
        let dup_small = time_sh(
            &w,
            &format!("mkdir {0}/B && cp {src}/small/* {0}/B/", acct.display()),
        );
        let new_big = time_sh(
            &w,
            &format!("mkdir {0}/C && cp {src}/big/* {0}/C/", acct.display()),
        );
        let lib = w.photos.join("library");
        make_files(&lib, "l", small_n, small_len, 500_000);
        let lib_big = w.photos.join("library-big");
        make_files(&lib_big, "L", big_n, big_len, 600_000);
        let before = bytes_under(&w.default_folder);
        let lib_small = time_sh(
            &w,
            &format!(
                "mkdir {0}/L && cp {1}/* {0}/L/",
                acct.display(),
                lib.display()
            ),
        );
        let kept = bytes_under(&w.default_folder) - before;
        let lib_big_t = time_sh(
            &w,
            &format!(
                "mkdir {0}/LB && cp {1}/* {0}/LB/",
                acct.display(),
                lib_big.display()
            ),
        );
        let kept_big = bytes_under(&w.default_folder) - before - kept;
        let label = format!("catalog of {photos} photos");
        rows.push(Row {
            what: format!("cp {small_n} files of 20 KB into a set, new content ({label}; seeded in {seeded:.0} s)"),
            ours: ms_per(new_small, small_n),
            peer: format!("direct {} / bindfs {}", ms_per(direct_small, small_n), ms_per(bind_small, small_n)),
            ratio: format!("{:.1}x / {:.1}x", new_small / direct_small, new_small / bind_small),
        });
        rows.push(Row {
            what: format!("  the same files into a second set (content the catalog has; {label})"),
            ours: ms_per(dup_small, small_n),
            peer: format!("direct {}", ms_per(direct_small, small_n)),
            ratio: format!("{:.1}x", dup_small / direct_small),
        });
        rows.push(Row {
            what: format!("cp {big_n} files of 3 MB into a set ({label})"),
            ours: ms_per(new_big, big_n),
            peer: format!(
                "direct {} / bindfs {}",
                ms_per(direct_big, big_n),
                ms_per(bind_big, big_n)
            ),
            ratio: format!("{:.2}x / {:.2}x", new_big / direct_big, new_big / bind_big),
        });
        rows.push(Row {
            what: format!("cp {small_n} files of 20 KB from a library folder ({label})"),
            ours: ms_per(lib_small, small_n),
            peer: format!("direct {}", ms_per(direct_small, small_n)),
            ratio: format!(
                "{:.1}x; {} bytes kept of {}",
                lib_small / direct_small,
                kept,
                small_n * small_len
            ),
        });
        rows.push(Row {
            what: format!("cp {big_n} files of 3 MB from a library folder ({label}; library of {} files indexed in {indexed:.2} s)", library.len()),
            ours: ms_per(lib_big_t, big_n),
            peer: format!("direct {}", ms_per(direct_big, big_n)),
            ratio: format!(
                "{:.2}x; {} bytes kept of {}",
                lib_big_t / direct_big,
                kept_big,
                big_n * big_len
            ),
        });
        m.unmount();
    }
    println!();
    println!("flickrfs copy-in benchmark");
    println!("| measurement | flickrfs | comparison (same run) | ratio |");
    println!("|---|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} |", r.what, r.ours, r.peer, r.ratio);
    }
}
