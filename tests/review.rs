//! The interactive `flickrfs sync` review, driven through the real binary
//! with a temporary HOME, piped stdin (`--interactive` forces the prompts
//! without a terminal) and the emulator over HTTP on 127.0.0.1.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use flickrfs::accounts::{CredentialStore, StoredAccount};
use flickrfs::catalog::{AccountId, Catalog, CollectionId, EntryName};
use flickrfs::config::Paths;
use flickrfs::emulator::{Emulator, EmulatorConfig, NewEmuPhoto};
use flickrfs::flickr::AccessToken;
use flickrfs::model::Nsid;

fn jpeg(rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(32, 24, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}

struct World {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    paths: Paths,
    emu: Emulator,
    nsid: String,
    key: String,
    secret: String,
    folder: PathBuf,
    account: AccountId,
    root: CollectionId,
}

impl World {
    /// The emulator with `alice`, her token in the credential store of a
    /// temporary HOME, and her account in the catalog.
    fn new() -> World {
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
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
        let paths = Paths {
            config_dir: home.join(".config/flickrfs"),
            data_dir: home.join(".local/share/flickrfs"),
            state_dir: home.join(".local/state/flickrfs"),
            home: home.clone(),
        };
        CredentialStore::new(paths.credentials_file())
            .upsert(StoredAccount {
                name: "alice".into(),
                nsid: Nsid::new(user.nsid.clone()),
                username: "alice".into(),
                fullname: String::new(),
                token: AccessToken {
                    token: tok.token,
                    secret: tok.secret,
                },
                api: None,
            })
            .expect("store the token");
        let folder = home.join("Pictures/Flickr/alice");
        std::fs::create_dir_all(&folder).expect("folder");
        let cat = Catalog::open(&paths.catalog_db()).expect("catalog");
        let acct = cat
            .add_account(&Nsid::new(user.nsid.clone()), "alice", "alice", &folder)
            .expect("account");
        World {
            _tmp: tmp,
            home,
            paths,
            emu,
            nsid: user.nsid,
            key: key.key,
            secret: key.secret,
            folder,
            account: acct.id,
            root: acct.root,
        }
    }

    fn cat(&self) -> Catalog {
        Catalog::open(&self.paths.catalog_db()).expect("catalog")
    }

    /// A local photo in the account's root, to upload.
    fn add_local(&self, file: &str, rgb: [u8; 3]) -> PathBuf {
        let path = self.folder.join(file);
        std::fs::write(&path, jpeg(rgb)).expect("write");
        self.cat()
            .add_file(self.root, &EntryName::new(file).expect("name"), &path, None)
            .expect("add file");
        path
    }

    fn add_remote(&self, title: &str, rgb: [u8; 3]) -> String {
        self.emu
            .add_photo(
                &self.nsid,
                NewEmuPhoto {
                    title: title.into(),
                    bytes: jpeg(rgb),
                    ..Default::default()
                },
            )
            .expect("add photo")
    }

    /// `flickrfs sync ARGS` with `stdin` piped in.
    fn sync(&self, args: &[&str], stdin: &str) -> Output {
        let base = self.emu.base_url();
        let mut all = vec![
            "sync",
            "--endpoint",
            &base,
            "--api-key",
            &self.key,
            "--api-secret",
            &self.secret,
        ];
        all.extend_from_slice(args);
        let mut child = Command::new(env!("CARGO_BIN_EXE_flickrfs"))
            .args(&all)
            .env("HOME", &self.home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_STATE_HOME")
            .env_remove("FLICKRFS_API_KEY")
            .env_remove("FLICKRFS_API_SECRET")
            .env_remove("FLICKRFS_ENDPOINT")
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("flickrfs sync");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "flickrfs {}: {}\n{}",
            all.join(" "),
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }

    fn uploads(&self) -> usize {
        self.emu
            .request_log()
            .iter()
            .filter(|c| c.method == "upload")
            .count()
    }

    fn titles_online(&self) -> Vec<String> {
        let mut t: Vec<String> = self
            .emu
            .photos(&self.nsid)
            .into_iter()
            .map(|p| p.title)
            .collect();
        t.sort();
        t
    }

    fn files_in_folder(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![self.folder.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(
                        p.strip_prefix(&self.folder)
                            .expect("under")
                            .display()
                            .to_string(),
                    );
                }
            }
        }
        out.sort();
        out
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Whether the photo backed by `path` has the `skip` setting.
fn skip_of(cat: &Catalog, path: &Path) -> bool {
    photo_of(cat, path).meta.skip
}

fn photo_of(cat: &Catalog, path: &Path) -> flickrfs::catalog::Photo {
    let account = cat.accounts().expect("accounts")[0].id;
    cat.photos(account)
        .expect("photos")
        .into_iter()
        .find(|p| p.local.as_ref().is_some_and(|l| l.path == path))
        .unwrap_or_else(|| panic!("no photo for {}", path.display()))
}

#[test]
fn skipping_an_upload_persists_and_a_later_yes_sync_honours_it() {
    let w = World::new();
    let a = w.add_local("a.jpg", [200, 10, 10]);
    let b = w.add_local("b.jpg", [10, 200, 10]);
    // Garbage first: every bad answer says why and asks again.
    let out = w.sync(
        &["--up", "--interactive"],
        "zz\ns 9\ns\ne 1 2\ns 1\n\nmaybe\nn\n",
    );
    let o = text(&out.stdout);
    assert!(
        o.contains("Step 1 of 5: accounts alice; direction up"),
        "{o}"
    );
    assert!(o.contains("Step 3 of 5: uploads"), "{o}");
    assert!(o.contains("\"zz\" is not a command here"), "{o}");
    assert!(o.contains("there is no item 9"), "{o}");
    assert!(o.contains("name the items by number"), "{o}");
    assert!(o.contains("Edit one item at a time"), "{o}");
    assert!(o.contains("[skip]"), "{o}");
    assert!(o.contains("\"maybe\": answer y or n"), "{o}");
    assert!(o.contains("1 uploads, 0 downloads"), "{o}");
    assert!(o.contains("Nothing executed."), "{o}");
    assert_eq!(w.uploads(), 0, "declining executes nothing");

    let cat = w.cat();
    let (skipped, kept) = if skip_of(&cat, &a) {
        (&a, &b)
    } else {
        (&b, &a)
    };
    assert!(skip_of(&cat, skipped), "one photo has the skip setting");
    assert!(!skip_of(&cat, kept));
    assert_eq!(
        cat.get_xattr(photo_of(&cat, skipped).key, flickrfs::catalog::Xattr::Skip)
            .expect("xattr")
            .as_deref(),
        Some("1"),
        "the skip is the same setting as user.flickr.skip"
    );

    // The saved selection: --yes uploads only the other photo.
    w.sync(&["--up", "--yes"], "");
    assert_eq!(w.uploads(), 1);
    let kept_title = kept
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("stem")
        .to_owned();
    assert_eq!(w.titles_online(), vec![kept_title]);
}

#[test]
fn editing_an_upload_changes_what_lands_on_flickr() {
    let w = World::new();
    w.add_local("beach.jpg", [10, 10, 200]);
    // e 1: title, description, tags, privacy (a bad one first), resize.
    let out = w.sync(
        &["--interactive"],
        "e 1\nSunset at the beach\nEvening light\nbeach sunset\nsecret\npublic\n\n\ny\n",
    );
    let o = text(&out.stdout);
    assert!(o.contains("unknown privacy \"secret\""), "{o}");
    assert!(o.contains("title \"Sunset at the beach\""), "{o}");
    let photos = w.emu.photos(&w.nsid);
    assert_eq!(photos.len(), 1, "{o}");
    let p = &photos[0];
    assert_eq!(p.title, "Sunset at the beach");
    assert_eq!(p.description, "Evening light");
    let mut tags = p.tags.clone();
    tags.sort();
    assert_eq!(tags, vec!["beach".to_string(), "sunset".to_string()]);
    assert!(
        format!("{:?}", p.visibility)
            .to_lowercase()
            .contains("public"),
        "{:?}",
        p.visibility
    );
}

#[test]
fn skipping_a_download_skips_it_for_this_sync_only() {
    let w = World::new();
    w.add_remote("One", [200, 200, 10]);
    w.add_remote("Two", [10, 200, 200]);
    let out = w.sync(&["--down", "--interactive"], "s 1\n\ny\n");
    let o = text(&out.stdout);
    assert!(o.contains("Step 4 of 5: downloads"), "{o}");
    assert!(o.contains("0 uploads, 1 downloads"), "{o}");
    assert!(out.status.success(), "{o}\n{}", text(&out.stderr));
    let files = w.files_in_folder();
    assert_eq!(files.len(), 1, "{files:?}\n{o}");
    // Not ignored: nothing was recorded, and the next sync downloads it.
    let cat = w.cat();
    assert!(cat.ignored(w.account).expect("ignored").is_empty());
    let out = w.sync(&["--down", "--yes"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(w.files_in_folder().len(), 2);
}

#[test]
fn quitting_changes_nothing() {
    let w = World::new();
    let a = w.add_local("a.jpg", [200, 10, 10]);
    w.add_remote("Online", [10, 200, 10]);
    // Skip the upload, edit nothing else, skip the download, then quit.
    let out = w.sync(&["--interactive"], "s 1\n\ns 1\nq\n");
    let o = text(&out.stdout);
    assert!(
        o.contains(
            "Quit: no choice was saved, nothing was sent to Flickr and no file was written."
        ),
        "{o}"
    );
    assert_eq!(w.uploads(), 0);
    assert_eq!(w.titles_online(), vec!["Online".to_string()]);
    let cat = w.cat();
    assert!(!skip_of(&cat, &a), "the skip made before q is not saved");
    assert!(cat.ignored(w.account).expect("ignored").is_empty());
    assert_eq!(w.files_in_folder(), vec!["a.jpg".to_string()]);
    // The end of the input is a quit too.
    let out = w.sync(&["--interactive"], "s 1\n");
    assert!(text(&out.stdout).contains(
        "Quit: no choice was saved, nothing was sent to Flickr and no file was written."
    ));
    assert!(!skip_of(&w.cat(), &a));
    assert_eq!(w.uploads(), 0);
}

#[test]
fn identify_step_lists_matches_and_settles_an_ambiguous_photo_by_number() {
    let w = World::new();
    let red = w.add_remote("Red", [200, 10, 10]);
    w.add_remote("Blue", [10, 10, 200]);
    // Blue has one local copy (found by name); Red has two identical ones.
    std::fs::write(w.folder.join("blue.jpg"), jpeg([10, 10, 200])).expect("write");
    std::fs::create_dir_all(w.folder.join("sub")).expect("mkdir");
    std::fs::write(w.folder.join("Red.jpg"), jpeg([200, 10, 10])).expect("write");
    std::fs::write(w.folder.join("sub/Red.jpg"), jpeg([200, 10, 10])).expect("write");
    let out = w.sync(
        &["--down", "--interactive"],
        "p 1\np 1 7\nx 1\np 1 2\n\ny\n",
    );
    let o = text(&out.stdout);
    assert!(o.contains("Step 2 of 5: identify"), "{o}");
    assert!(o.contains("blue.jpg (by name)"), "{o}");
    assert!(o.contains(&format!("photo {red} \"Red\"")), "{o}");
    assert!(o.contains("flickrfs identify PHOTO_ID FILE"), "{o}");
    assert!(o.contains("flickrfs thumbnail PHOTO_ID"), "{o}");
    assert!(o.contains("say which photo and which file"), "{o}");
    assert!(o.contains("there is no item 7"), "{o}");
    assert!(o.contains("[= 2]"), "{o}");
    // The second candidate as listed is now the photo's file.
    let listed: Vec<&str> = o
        .lines()
        .filter_map(|l| l.trim().strip_prefix("2) "))
        .collect();
    assert!(
        listed.len() >= 2,
        "the list is shown again after each answer:\n{o}"
    );
    let cat = w.cat();
    let p = cat
        .photo_by_remote_id(w.account, &flickrfs::model::PhotoId::new(red))
        .expect("catalog")
        .expect("red");
    assert_eq!(
        p.local.expect("a local file").path,
        PathBuf::from(listed[listed.len() - 1])
    );
    // Nothing was downloaded: both photos have local files.
    assert_eq!(
        w.files_in_folder(),
        vec![
            "Red.jpg".to_string(),
            "blue.jpg".to_string(),
            "sub/Red.jpg".to_string()
        ]
    );
}

#[test]
fn an_ambiguous_photo_left_unsettled_is_not_downloaded() {
    let w = World::new();
    w.add_remote("Red", [200, 10, 10]);
    std::fs::create_dir_all(w.folder.join("sub")).expect("mkdir");
    std::fs::write(w.folder.join("Red.jpg"), jpeg([200, 10, 10])).expect("write");
    std::fs::write(w.folder.join("sub/Red.jpg"), jpeg([200, 10, 10])).expect("write");
    // Enter at the identify step: the photo stays ambiguous.
    let out = w.sync(&["--down", "--interactive"], "\n\n\n\n");
    let o = text(&out.stdout);
    assert!(o.contains("Ambiguous"), "{o}");
    // The recomputed plan (step 5) holds its download back too.
    assert!(o.contains("0 downloads"), "{o}");
    assert!(o.contains("Nothing to do."), "{o}");
    assert_eq!(
        w.files_in_folder(),
        vec!["Red.jpg".to_string(), "sub/Red.jpg".to_string()]
    );
}

#[test]
fn ignoring_in_the_identify_step_lasts_beyond_this_sync() {
    let w = World::new();
    let red = w.add_remote("Red", [200, 10, 10]);
    std::fs::create_dir_all(w.folder.join("sub")).expect("mkdir");
    std::fs::write(w.folder.join("Red.jpg"), jpeg([200, 10, 10])).expect("write");
    std::fs::write(w.folder.join("sub/Red.jpg"), jpeg([200, 10, 10])).expect("write");
    // `i 1` at the identify step, then Enter through the other steps.
    let out = w.sync(&["--down", "--interactive"], "i 1\n\n\n\n");
    assert!(
        text(&out.stdout).contains("Ambiguous"),
        "{}",
        text(&out.stdout)
    );
    let ignored: Vec<String> = w
        .cat()
        .ignored(w.account)
        .expect("ignored")
        .iter()
        .filter_map(|p| p.remote_id().map(|i| i.to_string()))
        .collect();
    assert_eq!(ignored, vec![red]);
    // Unlike a skipped download, a later sync leaves it alone.
    let out = w.sync(&["--down", "--yes"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        w.files_in_folder(),
        vec!["Red.jpg".to_string(), "sub/Red.jpg".to_string()]
    );
    assert_eq!(w.cat().ignored(w.account).expect("ignored").len(), 1);
}

#[test]
fn step_one_shows_the_set_and_pool_list_filled_in_by_the_fetch() {
    let w = World::new();
    let id = w.add_remote("Shell", [200, 200, 200]);
    w.emu
        .add_photoset(
            &w.nsid,
            flickrfs::emulator::NewEmuSet {
                title: "Trip".into(),
                photo_ids: vec![id],
                ..Default::default()
            },
        )
        .expect("set");
    let out = w.sync(&["--down", "--interactive"], "q\n");
    let o = text(&out.stdout);
    let step1 = &o[o.find("Step 1 of 5").expect("step 1")..o.find("Step 2 of 5").expect("step 2")];
    assert!(
        step1.contains("alice: photosets created later take part"),
        "{o}"
    );
    assert!(
        step1.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() >= 3 && f[..3] == ["yes", "set", "Trip"]
        }),
        "{o}"
    );
    assert!(step1.contains("flickrfs sets alice include|exclude"), "{o}");
}

#[test]
fn step_five_warns_of_a_free_account_and_the_originals_it_is_not_served() {
    let w = World::new();
    w.emu.set_free_account(&w.nsid, true).expect("free account");
    let big = {
        let img = image::RgbImage::from_pixel(1500, 1000, image::Rgb([90, 120, 30]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg)
            .expect("encode");
        out.into_inner()
    };
    w.emu
        .add_photo(
            &w.nsid,
            NewEmuPhoto {
                title: "Panorama".into(),
                bytes: big,
                ..Default::default()
            },
        )
        .expect("add photo");
    w.add_remote("Small", [1, 2, 3]);
    let out = w.sync(&["--down", "--interactive"], "\ny\n");
    let o = text(&out.stdout);
    let step5 = &o[o.find("Step 5 of 5").expect("step 5")..];
    assert!(
        step5.contains(
            "warning: free Flickr account: 2 of 1,000 photos; 1 originals over 1,024 px it is not served"
        ),
        "{o}"
    );
    assert!(step5.contains("0 uploads, 1 downloads"), "{o}");
    assert!(out.status.success(), "{o}\n{}", text(&out.stderr));
    assert_eq!(w.files_in_folder(), vec!["Small.jpg".to_string()]);
}
