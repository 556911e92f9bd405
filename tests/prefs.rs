//! Preferences that take effect (issue 12): an account's folder name and
//! default folder changed with `flickrfs config set` while the mount daemon
//! runs (a real child process, the account added through the real OAuth
//! flow); and the set and pool list that the first contact with Flickr
//! fills in, as `flickrfs sets` prints it.

use std::path::Path;

#[path = "common/proc.rs"]
mod proc;
use proc::*;
#[path = "common/world.rs"]
mod world;
use world::*;

fn ok(w: &World, args: &[&str]) -> String {
    let out = w.flickrfs(args, OP_DEADLINE);
    assert!(
        out.status.success(),
        "flickrfs {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The files directly in `dir` whose bytes are `bytes`.
fn files_with(dir: &Path, bytes: &[u8]) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter(|e| std::fs::read(e.path()).is_ok_and(|b| b == bytes))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn folder_name_and_default_folder_changed_while_mounted_take_effect() {
    let w = World::new(None);
    w.add_account();
    w.seed_online("Old", 1);
    let old_bytes = std::fs::read(w.photos.join("Old.jpg")).expect("Old.jpg");
    let d = w.mount();
    let state = w.control_sync();
    assert!(state.starts_with("done"), "first sync: {state}");
    assert_eq!(files_with(&w.default_folder, &old_bytes), vec!["Old.jpg"]);

    // The default folder first, then the name: once the mount shows the
    // new name it has seen both changes (one catalog, one change log).
    let new_folder = w.tmp.path().join("new-default");
    ok(
        &w,
        &[
            "config",
            "set",
            "alice",
            "default_folder",
            &new_folder.to_string_lossy(),
        ],
    );
    assert!(
        new_folder.is_dir(),
        "config set creates the new default folder"
    );
    ok(&w, &["config", "set", "alice", "collection_name", "Photos"]);
    let renamed = w.mnt.join("Photos");
    wait_for("the mount to rename alice/ to Photos/", OP_DEADLINE, || {
        renamed.is_dir() && !w.acct().exists()
    });
    assert_eq!(
        ok(&w, &["config", "get", "alice", "collection_name"]).trim(),
        "Photos"
    );

    // The existing entry keeps its file in the old default folder.
    assert_eq!(
        std::fs::read(renamed.join("Old.jpg")).expect("Photos/Old.jpg"),
        old_bytes
    );
    assert_eq!(files_with(&w.default_folder, &old_bytes), vec!["Old.jpg"]);
    assert!(files_with(&new_folder, &old_bytes).is_empty());

    // A copy from outside the library folders is stored in the new one.
    let copied = w.original("Card.jpg", 2, 40);
    std::fs::copy(w.photos.join("Card.jpg"), renamed.join("Card.jpg")).expect("cp into Photos/");
    assert_eq!(files_with(&new_folder, &copied).len(), 1, "the copy's file");
    assert!(files_with(&w.default_folder, &copied).is_empty());

    // The new default folder is a library folder now, as after a remount:
    // a copy of a file saved there refers to it, no second file is kept.
    let saved = jpeg(4, 40);
    std::fs::write(new_folder.join("Saved.jpg"), &saved).expect("save into the new folder");
    std::fs::write(renamed.join("Saved.jpg"), &saved).expect("cp into Photos/");
    let source = xattr(&renamed.join("Saved.jpg"), "user.flickrfs.source");
    assert_eq!(
        Path::new(&source),
        std::fs::canonicalize(new_folder.join("Saved.jpg")).expect("canonical"),
        "the entry refers to the file in the new default folder"
    );
    assert_eq!(files_with(&new_folder, &saved), vec!["Saved.jpg"]);

    // A new download goes there too.
    w.seed_online("Later", 3);
    let later = std::fs::read(w.photos.join("Later.jpg")).expect("Later.jpg");
    let state = w.control_sync();
    assert!(state.starts_with("done"), "second sync: {state}");
    assert_eq!(files_with(&new_folder, &later), vec!["Later.jpg"]);
    assert!(files_with(&w.default_folder, &later).is_empty());
    assert_eq!(files_with(&w.default_folder, &old_bytes), vec!["Old.jpg"]);

    // A name another account's folder would clash with is refused, and the
    // preference is left as it was.
    let out = w.flickrfs(
        &["config", "set", "alice", "collection_name", ".flickrfs"],
        OP_DEADLINE,
    );
    assert!(!out.status.success(), "a reserved name is refused");
    assert_eq!(
        ok(&w, &["config", "get", "alice", "collection_name"]).trim(),
        "Photos"
    );
    d.unmount();
}

/// An extended attribute's value, as text.
fn xattr(p: &Path, name: &str) -> String {
    let out = std::process::Command::new("getfattr")
        .args(["--only-values", "-n", name])
        .arg(p)
        .output()
        .expect("getfattr");
    assert!(
        out.status.success(),
        "getfattr {name}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The mount's names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn the_set_and_pool_list_fills_in_on_first_contact() {
    let w = World::new(None);
    w.add_account();
    let out = ok(&w, &["sets", "alice"]);
    assert!(out.contains("no photosets or pools yet"), "{out}");
    // Nothing known yet: a name is refused, `all` is not.
    let out = w.flickrfs(&["sets", "alice", "exclude", "Work"], OP_DEADLINE);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("\"Work\""),
        "{}",
        text(&out.stderr)
    );
    ok(&w, &["sets", "alice", "exclude", "all"]);

    let a = w.seed_online("Beach", 1);
    let b = w.seed_online("Desk", 2);
    w.seed_set("Holiday", std::slice::from_ref(&a));
    w.seed_set("Work", std::slice::from_ref(&b));
    let cats = w.emu.create_group("Cats").expect("group");
    w.emu.join_group(&cats.nsid, &w.nsid).expect("join");
    w.emu.add_to_pool(&cats.nsid, &a).expect("pool");

    let out = w.cli_sync(&[]);
    assert!(out.status.success(), "sync: {}", text(&out.stderr));
    let list = ok(&w, &["sets", "alice"]);
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].contains("photosets created later do not take part"),
        "{list}"
    );
    let row = |takes: &str, kind: &str, title: &str| {
        lines.iter().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 3 && f[0] == takes && f[1] == kind && f[2] == title
        })
    };
    assert!(row("no", "set", "Holiday"), "{list}");
    assert!(row("no", "set", "Work"), "{list}");
    assert!(row("no", "pool", "Cats"), "{list}");
    assert_eq!(ok(&w, &["config", "get", "alice", "sets"]).trim(), "none");

    ok(&w, &["sets", "alice", "include", "Holiday", "Cats"]);
    let list = ok(&w, &["sets", "alice"]);
    let lines: Vec<&str> = list.lines().collect();
    let row = |takes: &str, kind: &str, title: &str| {
        lines.iter().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 3 && f[0] == takes && f[1] == kind && f[2] == title
        })
    };
    assert!(row("yes", "set", "Holiday"), "{list}");
    assert!(row("no", "set", "Work"), "{list}");
    assert!(row("yes", "pool", "Cats"), "{list}");
    let out = w.cli_sync(&[]);
    assert!(out.status.success(), "sync: {}", text(&out.stderr));

    // In the mount: a set that does not take part is shown, empty.
    let d = w.mount();
    let acct = w.acct();
    assert_eq!(names(&acct.join("Holiday")), vec!["Beach.jpg"]);
    assert!(names(&acct.join("Work")).is_empty(), "Work/ takes no part");
    // Its photo is in no set that takes part: listed in the account
    // folder, never downloaded by a sync.
    assert!(
        names(&acct).contains(&"Desk.jpg".to_owned()),
        "{:?}",
        names(&acct)
    );
    let desk = std::fs::read(w.photos.join("Desk.jpg")).expect("Desk.jpg");
    let beach = std::fs::read(w.photos.join("Beach.jpg")).expect("Beach.jpg");
    assert_eq!(
        files_with(&w.default_folder.join("Holiday"), &beach).len(),
        1
    );
    assert!(files_with(&w.default_folder, &desk).is_empty());
    assert!(files_with(&w.default_folder.join("Work"), &desk).is_empty());
    assert_eq!(names(&acct.join("Pools/Cats")), vec!["Beach.jpg"]);

    // `include all`: every set, and the ones created later.
    ok(&w, &["sets", "alice", "include", "all"]);
    assert_eq!(ok(&w, &["config", "get", "alice", "sets"]).trim(), "all");
    let list = ok(&w, &["sets", "alice"]);
    assert!(list.contains("photosets created later take part"), "{list}");
    // `exclude` one of them keeps the default for later ones.
    ok(&w, &["sets", "alice", "exclude", "Work"]);
    assert_eq!(
        ok(&w, &["config", "get", "alice", "sets"]).trim(),
        "all except Work"
    );
    let list = ok(&w, &["sets", "alice"]);
    assert!(list.contains("photosets created later take part"), "{list}");
    d.unmount();
}

/// Bash completion of `flickrfs sets ACCOUNT include|exclude NAME…`: the
/// script `flickrfs completions bash` prints, sourced into a real bash,
/// its completion function called as readline calls it (COMP_WORDS,
/// COMP_CWORD); the titles come from the catalog through `flickrfs
/// __complete`. Readline itself quotes them (`-o filenames`), which a
/// non-interactive bash cannot show: the test checks the words offered.
#[test]
fn bash_completes_account_names_and_set_and_pool_titles() {
    let w = World::new(None);
    w.add_account();
    let a = w.seed_online("Beach", 1);
    let b = w.seed_online("Desk", 2);
    w.seed_set("Holiday", std::slice::from_ref(&a));
    w.seed_set("Summer 2024", std::slice::from_ref(&b));
    let cats = w.emu.create_group("Cats").expect("group");
    w.emu.join_group(&cats.nsid, &w.nsid).expect("join");
    let out = w.cli_sync(&[]);
    assert!(out.status.success(), "sync: {}", text(&out.stderr));
    let script = w.tmp.path().join("flickrfs.bash");
    std::fs::write(&script, ok(&w, &["completions", "bash"])).expect("write the script");

    let exe = env!("CARGO_BIN_EXE_flickrfs");
    let complete = |words: &[&str]| -> Vec<String> {
        let q = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let all: Vec<String> = std::iter::once(exe)
            .chain(words.iter().copied())
            .map(q)
            .collect();
        let cur = words.last().copied().unwrap_or("");
        let prev = if words.len() >= 2 {
            words[words.len() - 2]
        } else {
            exe
        };
        let line = format!(
            "source {}; COMP_WORDS=({}); COMP_CWORD={}; _flickrfs_names {} {} {}; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            q(&script.to_string_lossy()),
            all.join(" "),
            words.len(),
            q(exe),
            q(cur),
            q(prev)
        );
        let out = std::process::Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &line])
            .env("HOME", &w.home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_STATE_HOME")
            .env("LC_ALL", "C")
            .output()
            .expect("bash");
        assert!(out.status.success(), "bash: {}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(complete(&["sets", ""]), vec!["alice"]);
    assert_eq!(complete(&["sets", "alice", ""]), vec!["include", "exclude"]);
    assert_eq!(
        complete(&["sets", "alice", "include", ""]),
        vec!["Cats", "Holiday", "Summer 2024", "all"]
    );
    assert_eq!(
        complete(&["sets", "alice", "exclude", "Su"]),
        vec!["Summer 2024"]
    );
    // As typed with an escaped space, or after an opening quote.
    assert_eq!(
        complete(&["sets", "alice", "exclude", r"Summer\ 2"]),
        vec!["Summer 2024"]
    );
    assert_eq!(
        complete(&["sets", "alice", "include", "\"Hol"]),
        vec!["Holiday"]
    );
    // Further names, and a global option before the subcommand.
    assert_eq!(
        complete(&["-v", "sets", "alice", "include", "Holiday", "C"]),
        vec!["Cats"]
    );
    // An unknown account offers nothing (and prints no error).
    assert!(complete(&["sets", "nobody", "include", ""]).is_empty());
    // Elsewhere, clap's completion as generated.
    assert!(complete(&["sync", "--"]).contains(&"--yes".to_owned()));
}
