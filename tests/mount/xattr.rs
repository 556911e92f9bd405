//! `user.flickr.*` extended attributes: upload settings and read-only facts.

use super::*;

#[test]
fn xattrs_carry_upload_settings_and_read_only_facts() {
    let w = World::new();
    let a = w.add_alice();
    let src = w.user_photo("x.jpg", 20_000, 14);
    w.catalog()
        .add_file(a.root, &EntryName::new("x.jpg").unwrap(), &src, None)
        .unwrap();
    let _m = w.mount();
    let f = "$M/alice/x.jpg";
    w.ok(&format!(
        "setfattr -n user.flickr.privacy -v friends+family {f}"
    ));
    w.ok(&format!("setfattr -n user.flickr.tags -v 'sea sunset' {f}"));
    w.ok(&format!(
        "setfattr -n user.flickr.description -v 'At the beach' {f}"
    ));
    w.ok(&format!("setfattr -n user.flickr.resize -v 2048 {f}"));
    assert_eq!(
        w.ok(&format!(
            "getfattr --only-values -n user.flickr.privacy {f}"
        )),
        "friends+family"
    );
    let e = photo_of(&w, a.root, "x.jpg");
    let meta = w.catalog().photo(e.photo).unwrap().meta;
    assert_eq!(meta.description.as_deref(), Some("At the beach"));
    let err = w.fails(&format!("setfattr -n user.flickr.privacy -v everyone {f}"));
    assert!(err.contains("Invalid argument"), "{err}");
    let err = w.fails(&format!("setfattr -n user.flickr.id -v 123 {f}"));
    assert!(
        err.contains("not permitted") || err.contains("Permission denied"),
        "{err}"
    );
    let src_attr = w.ok(&format!(
        "getfattr --only-values -n user.flickrfs.source {f}"
    ));
    assert_eq!(Path::new(&src_attr), std::fs::canonicalize(&src).unwrap());
    let listed = w.ok(&format!("getfattr -d -m - {f}"));
    for n in [
        "user.flickr.privacy",
        "user.flickr.tags",
        "user.flickrfs.source",
        "user.flickr.state",
    ] {
        assert!(listed.contains(n), "{n} missing in {listed}");
    }
    // an unknown user.* name is merely absent; namespaces the mount never
    // holds (labels, ACLs) are "not supported", which `ls -l` remembers
    // per device instead of asking for every file
    let err = w.fails(&format!("getfattr -n user.nothere {f}"));
    assert!(err.contains("No such attribute"), "{err}");
    for n in ["security.selinux", "system.posix_acl_access", "trusted.x"] {
        let err = w.fails(&format!("getfattr -n {n} {f}"));
        assert!(err.contains("Operation not supported"), "{n}: {err}");
    }
    let err = w.fails(&format!("setfattr -n security.selinux -v x {f}"));
    assert!(err.contains("Operation not supported"), "{err}");
    let long = w.ok("ls -l $M/alice 2>&1");
    assert!(long.contains("x.jpg") && !long.contains("ls:"), "{long}");
}
