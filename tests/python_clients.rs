//! A third-party Flickr client against the emulator: the Python `flickrapi`
//! 2.4.0 from PyPI drives it in XML and in JSON with OAuth in the
//! Authorization header, uploads, and does the OAuth dance
//! (tests/python/flickrapi_client.py).
//!
//! The library is installed by this test into a virtual environment under
//! Cargo's target folder (tests/common/python.rs), so a fresh machine needs
//! only Python 3 with venv and PyPI. When that cannot be done the test
//! fails and says why; it never skips.

use std::path::Path;
use std::process::Command;

use flickrfs::emulator::{Emulator, EmulatorConfig};

#[path = "common/python.rs"]
mod python;

fn jpeg(path: &Path) {
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 3, y as u8 * 5, 90]));
    img.save_with_format(path, image::ImageFormat::Jpeg)
        .expect("write jpeg");
}

#[test]
fn python_flickrapi_drives_the_emulator_in_xml_and_json_with_oauth_in_the_header() {
    let python = python::python_with("flickrapi==2.4.0", "flickrapi");
    let tmp = tempfile::tempdir().expect("tmp");
    let emu = Emulator::start(EmulatorConfig {
        state_dir: tmp.path().join("emu"),
        bind: "127.0.0.1:0".parse().expect("addr"),
        auto_approve: true,
        ..Default::default()
    })
    .expect("emulator");
    let key = emu.create_api_key().expect("key");
    let user = emu.create_user("pyuser").expect("user");
    let tok = emu
        .issue_token(&key.key, &user.nsid, "write")
        .expect("token");
    let photo = tmp.path().join("upload.jpg");
    jpeg(&photo);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/flickrapi_client.py");
    let out = Command::new(&python)
        .arg(&script)
        .env("EMU_BASE", emu.base_url())
        .env("EMU_KEY", &key.key)
        .env("EMU_SECRET", &key.secret)
        .env("EMU_TOKEN", &tok.token)
        .env("EMU_TOKEN_SECRET", &tok.secret)
        .env("EMU_NSID", &user.nsid)
        .env("EMU_USERNAME", &user.username)
        .env("EMU_JPEG", &photo)
        // flickrapi keeps a token cache in the home folder: keep it here.
        .env("HOME", tmp.path())
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "flickrapi against the emulator failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("checks passed"),
        "the script did not finish: {stdout}\n{stderr}"
    );
    // What the client did is on the emulator: two uploads, one set, the edit.
    let photos = emu.photos(&user.nsid);
    assert_eq!(photos.len(), 2, "{photos:?}");
    assert!(photos.iter().any(|p| p.title == "Renamed in XML"
        && p.tags == ["sea", "summer light"]
        && !p.visibility.is_public));
    let sets = emu.photosets(&user.nsid);
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].title, "XML set");
    assert_eq!(sets[0].photos.len(), 2);
    // Every call was signed and accepted: no OAuth failure in the log.
    let log = emu.request_log();
    assert!(
        !log.iter().any(|c| matches!(c.code, Some(95..=100))),
        "{:?}",
        log.iter().filter(|c| !c.ok).collect::<Vec<_>>()
    );
    assert!(log.iter().any(|c| c.method == "oauth.access_token" && c.ok));
}
