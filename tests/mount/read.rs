//! Reads pass through to the backing file (kernel passthrough or pread); a vanished backing file.

use super::*;

fn reads_equal_backing(force_pread: bool) {
    let w = World::new();
    let a = w.add_alice();
    let src = w.user_photo("big.jpg", 9 * MB + 123, 7);
    let set = w
        .catalog()
        .mkdir(a.id, &EntryName::new("Trip").unwrap())
        .unwrap();
    w.catalog()
        .add_file(set.id, &EntryName::new("big.jpg").unwrap(), &src, None)
        .unwrap();
    let mut o: MountOptions = w.options();
    o.force_pread = force_pread;
    let m = w.mount_with(o);
    if !force_pread {
        assert!(
            m.handle().passthrough(),
            "running as root on a 6.9+ kernel: reads must use passthrough"
        );
    } else {
        assert!(!m.handle().passthrough());
    }
    w.ok("cmp $P/big.jpg $M/alice/Trip/big.jpg");
    // twice: the second open may keep the page cache, bytes must still match
    w.ok("cmp $P/big.jpg $M/alice/Trip/big.jpg");
    w.ok("dd if=$M/alice/Trip/big.jpg bs=1M skip=3 count=2 status=none | cmp - <(dd if=$P/big.jpg bs=1M skip=3 count=2 status=none)");
    // the file changes behind the mount (shrinks, then grows): the next
    // open sees the new bytes and the new size, with no waiting
    std::fs::write(&src, jpeg_bytes(2 * MB, 99)).unwrap();
    w.ok("cmp $P/big.jpg $M/alice/Trip/big.jpg");
    std::fs::write(&src, jpeg_bytes(12 * MB + 5, 98)).unwrap();
    w.ok("cmp $P/big.jpg $M/alice/Trip/big.jpg");
    assert_eq!(
        std::fs::metadata(m.mnt.join("alice/Trip/big.jpg"))
            .unwrap()
            .len(),
        12 * MB as u64 + 5
    );
    let st = std::fs::metadata(m.mnt.join("alice/Trip/big.jpg")).unwrap();
    assert!(st.file_type().is_file(), "entries are plain files");
    // the reads really went through the kernel (no fallback to pread)
    assert_eq!(m.handle().passthrough(), !force_pread);
    assert!(
        !m.status().contains("passthrough unavailable"),
        "{}",
        m.status()
    );
}

#[test]
fn reads_pass_through_to_the_backing_file_with_kernel_passthrough() {
    reads_equal_backing(false);
}

#[test]
fn reads_pass_through_to_the_backing_file_with_pread() {
    reads_equal_backing(true);
}

#[test]
fn a_backing_file_deleted_behind_the_mount_gives_eio_and_a_status_line() {
    let w = World::new();
    let a = w.add_alice();
    let src = w.user_photo("gone.jpg", 10_000, 1);
    w.catalog()
        .add_file(a.root, &EntryName::new("gone.jpg").unwrap(), &src, None)
        .unwrap();
    let m = w.mount();
    std::fs::remove_file(&src).unwrap();
    let r = std::fs::read(m.mnt.join("alice/gone.jpg"));
    assert_eq!(errno(r), libc::EIO);
    assert!(m.status().contains("gone.jpg"), "{}", m.status());
    // the mount is still alive
    w.ok("ls $M/alice >/dev/null");
}
