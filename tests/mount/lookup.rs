//! Names: bad names get clear errnos, odd titles list as safe names.

use super::*;

#[test]
fn bad_names_get_clear_errnos_and_status_lines() {
    let w = World::new();
    w.add_alice();
    let m = w.mount();
    let long = "a".repeat(256);
    let r = std::fs::write(m.mnt.join("alice").join(&long), b"x");
    assert_eq!(errno(r), libc::ENAMETOOLONG);
    let bad = OsStr::from_bytes(b"caf\xe9.jpg");
    let r = std::fs::write(m.mnt.join("alice").join(bad), b"x");
    assert_eq!(errno(r), libc::EILSEQ);
    let r = std::fs::create_dir(m.mnt.join("alice").join(bad));
    assert_eq!(errno(r), libc::EILSEQ);
    assert!(m.status().contains("not valid UTF-8"), "{}", m.status());
    assert!(m.status().contains("longer than 255"), "{}", m.status());
    // nothing was written anywhere
    assert!(w.ok("ls -A $M/alice").trim() == "Pools");
}

#[test]
fn titles_with_slashes_dots_and_control_chars_list_as_safe_names() {
    let w = World::new();
    let a = w.add_alice();
    let cat = w.catalog();
    let remote = |id: &str, title: &str| flickrfs::catalog::RemotePhoto {
        id: flickrfs::model::PhotoId::new(id),
        title: title.into(),
        description: String::new(),
        tags: vec![],
        visibility: Default::default(),
        date_taken: None,
        granularity: Default::default(),
        original_format: Some("jpg".into()),
        original_secret: None,
        secret: None,
        server: None,
        url_original: None,
        lastupdate: 1,
        media_video: false,
        checksum_tag: None,
    };
    cat.upsert_remote_photos(
        a.id,
        &[
            remote("1", "a/b"),
            remote("2", ".."),
            remote("3", "bell\u{7}\nline"),
            remote("4", ""),
            remote("5", "same"),
            remote("6", "same"),
        ],
    )
    .unwrap();
    let _m = w.mount();
    let listing = w.ok("ls -A $M/alice");
    let names: Vec<&str> = listing.lines().collect();
    assert_eq!(names.len(), 7, "{names:?}"); // 6 photos + Pools
    for n in &names {
        assert!(
            !n.contains('/') && *n != ".." && !n.chars().any(|c| c.is_control()),
            "{n:?}"
        );
    }
    // every listed name resolves
    for n in names {
        w.ok(&format!("stat \"$M/alice/{n}\" >/dev/null"));
    }
}
