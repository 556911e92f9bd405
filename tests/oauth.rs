//! The OAuth dance of `flickrfs account add` against the emulator over real
//! HTTP: with the 127.0.0.1 callback listener and with a pasted verifier; the
//! stored credentials file is 0600 and its secrets are never shown.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flickrfs::accounts::{
    add_account, list_accounts, load_account, remove_account, AccountError, AddAccountOptions,
    VerifierSource,
};
use flickrfs::emulator::{Emulator, EmulatorConfig};
use flickrfs::flickr::{ApiCredentials, ClientOptions, Endpoints, RetryPolicy};

struct World {
    dir: tempfile::TempDir,
    emu: Emulator,
    api: ApiCredentials,
    nsid: String,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let emu = Emulator::start(EmulatorConfig {
            state_dir: dir.path().join("emu"),
            bind: "127.0.0.1:0".parse().unwrap(),
            auto_approve: true,
            ..Default::default()
        })
        .unwrap();
        let key = emu.create_api_key().unwrap();
        let user = emu.create_user("alice").unwrap();
        World {
            dir,
            emu,
            api: ApiCredentials::new(key.key, key.secret),
            nsid: user.nsid,
        }
    }

    fn endpoints(&self) -> Endpoints {
        Endpoints::local(&self.emu.base_url())
    }

    fn store(&self) -> std::path::PathBuf {
        self.dir
            .path()
            .join("config")
            .join("flickrfs")
            .join("credentials.toml")
    }
}

/// Collects what `add_account` tells the user.
#[derive(Clone, Default)]
struct Transcript(Arc<Mutex<Vec<u8>>>);

impl Write for Transcript {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Transcript {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// What the user types, arriving when the "browser" has shown it.
struct Keyboard(mpsc::Receiver<Vec<u8>>, Vec<u8>);

impl Read for Keyboard {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.1.is_empty() {
            match self.0.recv() {
                Ok(bytes) => self.1 = bytes,
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.1.len());
        out[..n].copy_from_slice(&self.1[..n]);
        self.1.drain(..n);
        Ok(n)
    }
}

/// A "browser" on its own thread: GETs the authorise URL (as `alice`, the
/// emulator approving at once) and hands the final page to `then`.
fn browser(
    seen: Arc<Mutex<Vec<String>>>,
    then: impl Fn(String) + Send + Sync + Clone + 'static,
) -> Box<dyn flickrfs::accounts::UrlOpener> {
    Box::new(move |url: &str| {
        seen.lock().unwrap().push(url.to_owned());
        let url = format!("{url}&user=alice");
        let then = then.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let page =
                rt.block_on(async { reqwest::get(&url).await.unwrap().text().await.unwrap() });
            then(page);
        });
        Ok(())
    })
}

fn fast_client() -> ClientOptions {
    ClientOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(10),
            max_retry_after: Duration::from_millis(100),
        },
        ..ClientOptions::default()
    }
}

fn options(opener: Box<dyn flickrfs::accounts::UrlOpener>, out: Transcript) -> AddAccountOptions {
    AddAccountOptions {
        opener,
        prompt: Box::new(out),
        callback_timeout: Duration::from_secs(20),
        client_options: fast_client(),
        ..AddAccountOptions::default()
    }
}

fn assert_stored_privately(w: &World, transcript: &str) {
    let path = w.store();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "credentials file mode {mode:o}");
    let account = load_account(&path, "alice").unwrap();
    let shown = format!(
        "{account:?}\n{account}\n{:?}\n{transcript}",
        list_accounts(&path).unwrap()
    );
    assert!(!shown.contains(&account.token.secret), "token secret shown");
    assert!(!shown.contains(&account.token.token), "token shown");
    assert!(!shown.contains(&w.api.secret), "API secret shown");
    // The file does hold them (it is the store).
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(&account.token.secret));
}

#[tokio::test]
async fn dance_with_callback_listener_stores_a_working_account() {
    let w = World::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let out = Transcript::default();
    let pages = Arc::new(Mutex::new(Vec::new()));
    let pages2 = pages.clone();
    let summary = add_account(
        &w.endpoints(),
        &w.api,
        &w.store(),
        VerifierSource::Callback,
        options(
            browser(seen.clone(), move |p| pages2.lock().unwrap().push(p)),
            out.clone(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(summary.name, "alice");
    assert_eq!(summary.nsid.as_str(), w.nsid);

    // The user was shown the authorise URL, which asks for write, not delete.
    let urls = seen.lock().unwrap().clone();
    assert_eq!(urls.len(), 1);
    assert!(urls[0].contains("perms=write"), "{}", urls[0]);
    assert!(!urls[0].contains("delete"));
    assert!(out.text().contains(&urls[0]));
    // The browser landed on our listener's page.
    for _ in 0..100 {
        if !pages.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(pages.lock().unwrap()[0].contains("You can close this window"));

    // The stored token works, and was confirmed with flickr.test.login.
    let counts = w.emu.call_counts();
    for step in [
        "oauth.request_token",
        "oauth.access_token",
        "flickr.test.login",
    ] {
        assert_eq!(counts.get(step), Some(&1), "{step}: {counts:?}");
    }
    let account = load_account(&w.store(), "alice").unwrap();
    let client = account
        .client(w.endpoints(), w.api.clone(), fast_client())
        .unwrap();
    assert_eq!(client.test_login().await.unwrap().nsid.as_str(), w.nsid);
    assert_eq!(
        client.check_token().await.unwrap().perms,
        flickrfs::flickr::Perms::Write
    );
    assert_stored_privately(&w, &out.text());
}

#[tokio::test]
async fn dance_with_pasted_verifier() {
    let w = World::new();
    let (keys, keyboard) = mpsc::channel::<Vec<u8>>();
    let keys = Arc::new(Mutex::new(keys));
    let out = Transcript::default();
    // The user reads the code off the page and types it.
    let typist = move |page: String| {
        let code = page
            .split("id=\"verifier\">")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap_or("")
            .to_owned();
        let _ = keys
            .lock()
            .unwrap()
            .send(format!("  {code}\n").into_bytes());
    };
    let input = std::io::BufReader::new(Keyboard(keyboard, Vec::new()));
    let summary = add_account(
        &w.endpoints(),
        &w.api,
        &w.store(),
        VerifierSource::Paste(Box::new(input)),
        options(browser(Arc::default(), typist), out.clone()),
    )
    .await
    .unwrap();
    assert_eq!(summary.nsid.as_str(), w.nsid);
    assert!(out.text().contains("Paste the code"));
    assert_stored_privately(&w, &out.text());

    // Adding the same user again replaces the entry; removing it works.
    assert_eq!(list_accounts(&w.store()).unwrap().len(), 1);
    let err = remove_account(&w.store(), "bob").unwrap_err().to_string();
    assert!(err.contains("bob") && err.contains("alice"), "{err}");
    remove_account(&w.store(), "alice").unwrap();
    assert!(list_accounts(&w.store()).unwrap().is_empty());
}

#[tokio::test]
async fn wrong_api_secret_fails_at_the_first_step_and_stores_nothing() {
    let w = World::new();
    let bad = ApiCredentials::new(w.api.key.clone(), "wrong-secret");
    let err = add_account(
        &w.endpoints(),
        &bad,
        &w.store(),
        VerifierSource::Callback,
        options(browser(Arc::default(), |_| {}), Transcript::default()),
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("signature"), "{text}");
    assert!(!text.contains("wrong-secret"), "{text}");
    assert!(!w.store().exists());
}

#[tokio::test]
async fn empty_paste_and_unanswered_callback_are_clear_errors() {
    let w = World::new();
    let err = add_account(
        &w.endpoints(),
        &w.api,
        &w.store(),
        VerifierSource::Paste(Box::new(std::io::Cursor::new(b"\n".to_vec()))),
        options(Box::new(|_: &str| Ok(())), Transcript::default()),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AccountError::EmptyVerifier), "{err:?}");

    let mut opts = options(
        Box::new(|_: &str| Err(std::io::Error::other("no display"))),
        Transcript::default(),
    );
    opts.callback_timeout = Duration::from_millis(200);
    let err = add_account(
        &w.endpoints(),
        &w.api,
        &w.store(),
        VerifierSource::Callback,
        opts,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, AccountError::CallbackTimeout(_)), "{err:?}");
    assert!(!w.store().exists());
}
