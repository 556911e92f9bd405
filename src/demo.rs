//! `flickrfs demo`: the whole product in one command, for anyone without a
//! Flickr API key. It starts the emulator with the demo account in a
//! temporary folder, authorises it through the real OAuth flow (the
//! emulator approves on its own), mounts, runs the first two-way sync and
//! waits; Ctrl-C unmounts and stops everything.
//!
//! It uses only the public pieces (`emulator`, `accounts`, `app`, `fs`), in
//! the order a person would, and keeps every file under one folder so that
//! it never touches the user's real configuration or catalog.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::accounts::{self, AddAccountOptions, VerifierSource};
use crate::app::{self, ApiOverrides, Session, SyncRun};
use crate::config::{Config, Paths};
use crate::emulator::{Emulator, EmulatorConfig};
use crate::fs::{MountOptions, StatusBoard};
use crate::model::Direction;

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Emulator(#[from] crate::emulator::EmulatorError),
    #[error(transparent)]
    Accounts(#[from] crate::accounts::AccountError),
    #[error(transparent)]
    App(#[from] crate::app::AppError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Mount(#[from] crate::fs::MountError),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DemoError {
    let context = context.into();
    move |source| DemoError::Io { context, source }
}

/// Where the demo keeps things and where it mounts.
pub struct DemoOptions {
    /// Mount here (created if missing); default: `<state>/mnt`.
    pub mountpoint: Option<PathBuf>,
    /// Keep the demo's files here instead of a temporary folder (kept afterwards).
    pub state: Option<PathBuf>,
}

/// Runs the demo until `stop` resolves (Ctrl-C in the CLI). Everything it
/// started is stopped and unmounted before it returns.
pub fn run(opts: DemoOptions, out: &mut dyn Write, stop: impl FnOnce()) -> Result<(), DemoError> {
    let temp;
    let root = match &opts.state {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
            dir.clone()
        }
        None => {
            temp = tempfile::Builder::new()
                .prefix("flickrfs-demo-")
                .tempdir()
                .map_err(io("creating a temporary folder"))?;
            temp.path().to_path_buf()
        }
    };

    // 1. The local Flickr, with the demo account.
    let emu = Emulator::start(EmulatorConfig {
        state_dir: root.join("emulator"),
        auto_approve: true,
        seed_demo: true,
        ..Default::default()
    })?;
    let base = emu.base_url();
    let key = emu.default_api_key();

    // 2. flickrfs's own folders, all under the demo folder.
    let paths = Paths::under(&root.join("home"));
    paths.ensure()?;
    let mut config = Config::load(&paths.config_file())?;
    config.api.key = Some(key.key.clone());
    config.api.secret = Some(key.secret.clone());
    config.api.endpoint = Some(base.clone());
    config.save(&paths.config_file())?;

    // 3. The real OAuth dance; the "browser" is a plain HTTP client that
    //    follows the emulator's auto-approval back to our callback listener.
    let session = Session::open(paths.clone(), &ApiOverrides::default())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io("starting the async runtime"))?;
    let store = paths.credentials_file();
    if accounts::list_accounts(&store)?.is_empty() {
        let add = AddAccountOptions {
            opener: Box::new(|url: &str| {
                let url = url.to_owned();
                std::thread::spawn(move || {
                    if let Err(e) = follow(&url) {
                        tracing::warn!("demo browser: {e}");
                    }
                });
                Ok(())
            }),
            prompt: Box::new(std::io::sink()),
            callback_timeout: Duration::from_secs(60),
            client_options: session.client_options(),
            ..Default::default()
        };
        let api = session.api()?.clone();
        let summary = rt.block_on(accounts::add_account(
            &session.endpoints,
            &api,
            &store,
            VerifierSource::Callback,
            add,
        ))?;
        writeln!(out, "Authorised {summary} through OAuth (auto-approved).").ok();
    }
    let targets = session.targets(&[])?;

    // 4. Mount, with the sync engine attached to .flickrfs/sync.
    let mountpoint = opts.mountpoint.clone().unwrap_or_else(|| root.join("mnt"));
    let created_mountpoint = !mountpoint.exists();
    std::fs::create_dir_all(&mountpoint)
        .map_err(io(format!("creating {}", mountpoint.display())))?;
    let board = Arc::new(Mutex::new(StatusBoard::default()));
    let mut mopts = MountOptions::new(mountpoint.clone(), paths.catalog_db());
    mopts.foreground = true;
    let engine = crate::daemon::SyncEngine::new(paths.clone(), board.clone());
    mopts.sync_hook = Some(engine.hook());
    mopts.libraries = crate::daemon::libraries(&session, &targets, &mountpoint);
    mopts.photo_pages = session.endpoint.photo_pages().to_owned();
    let libraries = mopts.libraries.clone();
    mopts.on_serve = Some(std::sync::Arc::new(move || {
        crate::daemon::warm_libraries(&libraries);
        engine.start_autosync()
    }));
    mopts.fetch_hook = Some(crate::daemon::OnDemand::new(paths.clone()).hook());
    mopts.status = Some(board);
    let mount = crate::fs::spawn_mount(mopts)?;

    // 5. The first two-way sync.
    let run = SyncRun {
        direction: Direction::Both,
        ..Default::default()
    };
    writeln!(out, "Running the first two-way sync…").ok();
    let last = rt.block_on(app::run_syncs(&session, &targets, &run, &mut |_| {
        Box::new(crate::sync::NoProgress)
    }))?;
    write!(out, "{}", last.text()).ok();

    let acct = targets
        .first()
        .map(|t| t.account.collection_name.to_string())
        .unwrap_or_else(|| "demo".into());
    let m = mountpoint.display();
    let folder = config_default_folder(&session, targets.first());
    writeln!(
        out,
        "\nflickrfs demo is running.\n\
         \x20 the mount     {m}\n\
         \x20 your files    {folder}\n\
         \x20 \"Flickr\"      {base}/people/demo/   (the emulator's web page: open it in a browser)\n\
         \nTry, in another terminal:\n\
         \x20 ls -R \"{m}/{acct}\"\n\
         \x20 cp \"{m}/{acct}/Garden/Tomatoes.jpg\" \"{m}/{acct}/Winter/\"      # the same photo in one more set\n\
         \x20 mkdir \"{m}/{acct}/My new set\" && cp ~/some-photo.jpg \"{m}/{acct}/My new set/\"\n\
         \x20 mv \"{m}/{acct}/Garden/Roses.jpg\" \"{m}/{acct}/\"                 # out of every set\n\
         \x20 echo both > \"{m}/.flickrfs/sync\"; cat \"{m}/.flickrfs/status\"\n\
         \x20 then reload the web page to see what the sync did.\n\
         To use the CLI on the demo's catalog: export XDG_CONFIG_HOME={} XDG_DATA_HOME={} XDG_STATE_HOME={}\n\
         \nPress Ctrl-C to stop: it unmounts and stops the emulator.",
        parent(&paths.config_dir).display(),
        parent(&paths.data_dir).display(),
        parent(&paths.state_dir).display(),
    )
    .ok();
    out.flush().ok();

    stop();

    writeln!(out, "\nStopping: unmounting {m} and stopping the emulator…").ok();
    let unmounted = mount.unmount();
    emu.stop();
    drop(rt);
    if created_mountpoint {
        let _ = std::fs::remove_dir(&mountpoint);
    }
    unmounted?;
    writeln!(out, "Stopped.").ok();
    Ok(())
}

fn parent(p: &Path) -> &Path {
    p.parent().unwrap_or(p)
}

fn config_default_folder(session: &Session, target: Option<&app::Target>) -> String {
    target
        .map(|t| t.account.default_folder.display().to_string())
        .unwrap_or_else(|| {
            session
                .config
                .default_folder(&session.paths, "demo")
                .display()
                .to_string()
        })
}

/// A minimal browser: GET `url` over plain HTTP, following redirects (the
/// demo "clicks" the emulator's auto-approving authorise page with it).
pub fn follow(url: &str) -> std::io::Result<()> {
    let mut url = url.to_owned();
    for _ in 0..5 {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| std::io::Error::other(format!("not an http URL: {url}")))?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let mut stream = TcpStream::connect(host)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )?;
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status)?;
        let mut location = None;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("location") {
                    location = Some(v.trim().to_owned());
                }
            }
        }
        let mut body = Vec::new();
        let _ = reader.read_to_end(&mut body);
        let code = status.split_whitespace().nth(1).unwrap_or("");
        match (code.starts_with('3'), location) {
            (true, Some(next)) => url = next,
            _ => return Ok(()),
        }
    }
    Ok(())
}
