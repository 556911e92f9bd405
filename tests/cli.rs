//! The command line as people meet it: every subcommand's `--help` renders,
//! and every error path prints one clear sentence on stderr and exits
//! non-zero, without touching anything outside its own folders.

use std::path::Path;
use std::process::{Command, Output};

fn flickrfs(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flickrfs"))
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_STATE_HOME")
        .env_remove("FLICKRFS_API_KEY")
        .env_remove("FLICKRFS_API_SECRET")
        .env_remove("FLICKRFS_ENDPOINT")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running flickrfs")
}

/// Exits non-zero with one line on stderr that starts with `flickrfs:` and
/// contains `needle`.
fn assert_clear_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected a failure, got {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{err}");
    assert!(lines[0].starts_with("flickrfs: "), "{err}");
    assert!(lines[0].contains(needle), "{err:?} lacks {needle:?}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn help_of_every_subcommand_renders() {
    let home = tempfile::tempdir().unwrap();
    let subcommands: &[&[&str]] = &[
        &[],
        &["account"],
        &["account", "add"],
        &["account", "list"],
        &["account", "remove"],
        &["emulator"],
        &["demo"],
        &["mount"],
        &["unmount"],
        &["sync"],
        &["plan"],
        &["status"],
        &["ignore"],
        &["unignore"],
        &["ignored"],
        &["identify"],
        &["thumbnail"],
        &["relocate"],
        &["config"],
        &["config", "get"],
        &["config", "set"],
        &["config", "show"],
        &["config", "edit"],
        &["config", "paths"],
        &["sets"],
        &["completions"],
        &["man"],
    ];
    for sub in subcommands {
        let mut args = sub.to_vec();
        args.push("--help");
        let out = flickrfs(home.path(), &args);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{args:?} --help failed");
        assert!(text.contains("Usage:"), "{args:?} --help: {text}");
    }
}

#[test]
fn man_page_and_completions_are_generated_from_the_cli() {
    let home = tempfile::tempdir().unwrap();
    let man = flickrfs(home.path(), &["man"]);
    assert!(man.status.success());
    let man = String::from_utf8_lossy(&man.stdout);
    assert!(
        man.contains(".TH flickrfs") && man.contains("sync"),
        "{man}"
    );
    for shell in ["bash", "zsh", "fish"] {
        let out = flickrfs(home.path(), &["completions", shell]);
        assert!(out.status.success(), "{shell}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("flickrfs"));
    }
}

#[test]
fn error_paths_print_one_clear_sentence_and_exit_non_zero() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    assert_clear_error(&flickrfs(h, &["sync", "--yes"]), "no Flickr API key");
    assert_clear_error(
        &flickrfs(h, &["sync", "--yes", "--api-key", "k", "--api-secret", "s"]),
        "no accounts yet",
    );
    assert_clear_error(&flickrfs(h, &["account", "remove", "nobody"]), "nobody");
    assert_clear_error(
        &flickrfs(h, &["config", "set", "alice", "privacy", "everyone"]),
        "friends+family",
    );
    assert_clear_error(
        &flickrfs(h, &["config", "set", "alice", "colour", "red"]),
        "colour",
    );
    assert_clear_error(
        &flickrfs(h, &["config", "get", "alice", "colour"]),
        "colour",
    );
    let missing = h.join("no-such-dir");
    assert_clear_error(
        &flickrfs(h, &["mount", "--foreground", missing.to_str().unwrap()]),
        "does not exist",
    );
    let full = h.join("full");
    std::fs::create_dir_all(&full).unwrap();
    std::fs::write(full.join("a-file"), b"x").unwrap();
    assert_clear_error(
        &flickrfs(h, &["mount", "--foreground", full.to_str().unwrap()]),
        "not empty",
    );
    assert_clear_error(
        &flickrfs(
            h,
            &[
                "account",
                "add",
                "--endpoint",
                "ftp://x",
                "--api-key",
                "k",
                "--api-secret",
                "s",
            ],
        ),
        "api.endpoint",
    );
    // A broken config file is named in the error, and left as it was.
    let cfg = h.join(".config/flickrfs/config.toml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(&cfg, "this is [not toml").unwrap();
    assert_clear_error(&flickrfs(h, &["config", "show"]), "config.toml");
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "this is [not toml");
    std::fs::remove_file(&cfg).unwrap();
    // With a config but no catalog, photo commands say what to do.
    let out = flickrfs(h, &["status"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("No sync has run yet"));
    assert_clear_error(&flickrfs(h, &["ignore", "123"]), "no accounts yet");
    // Bad usage is clap's job: exit code 2 and a usage line.
    let out = flickrfs(h, &["sync", "--up", "--down"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn config_set_get_round_trip_through_the_cli() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let out = flickrfs(h, &["config", "set", "alice", "resize", "2048"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = flickrfs(h, &["config", "get", "alice", "resize"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2048");
    let out = flickrfs(h, &["config", "show", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["alice"]["resize"], "2048");
    let cfg = h.join(".config/flickrfs/config.toml");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&cfg).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn status_shows_times_as_local_iso_8601_and_json_keeps_the_seconds() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let state = h.join(".local/state/flickrfs");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(
        state.join("last-sync.json"),
        r#"{"finished_at": 1700000000, "accounts": []}"#,
    )
    .unwrap();
    let run = |tz: &str, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_flickrfs"))
            .args(args)
            .env("HOME", h)
            .env("TZ", tz)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_STATE_HOME")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("running flickrfs");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let text = run("UTC0", &["status"]);
    assert!(
        text.contains("last sync finished at 2023-11-14T22:13:20+00:00"),
        "{text}"
    );
    assert!(!text.contains("1700000000"), "{text}");
    // The zone is the user's: the same instant in Paris.
    let text = run("Europe/Paris", &["status"]);
    assert!(
        text.contains("last sync finished at 2023-11-14T23:13:20+01:00"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&run("Europe/Paris", &["status", "--json"])).unwrap();
    assert_eq!(json["last_sync"]["finished_at"], 1_700_000_000u64);
    assert_eq!(
        json["last_sync"]["finished_at_iso"],
        "2023-11-14T23:13:20+01:00"
    );
}
