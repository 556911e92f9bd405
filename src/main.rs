//! The `flickrfs` binary: parse the command line, call the library, print
//! errors for people. Nothing here is logic the tests cannot reach through
//! the library.

mod cli;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, Parser};

use cli::{
    AccountCommand, ApiArgs, Cli, Command, CompleteWhat, ConfigCommand, MountArgs, PlanArgs,
    SetsAction, SyncArgs,
};
use flickrfs::accounts::{self, AddAccountOptions, VerifierSource};
use flickrfs::app::{self, ApiOverrides, LastSync, Session, SyncRun};
use flickrfs::config::{Config, Endpoint, Paths, PREF_KEYS};
use flickrfs::model::PhotoId;
use flickrfs::review;

/// Exit codes documented in `--help` and the README.
const EXIT_FAILURE: u8 = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.quiet, cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // One clear sentence, with the chain of causes on the same line.
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                msg.push_str(": ");
                msg.push_str(&cause.to_string());
            }
            eprintln!("flickrfs: {msg}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn init_logging(quiet: bool, verbose: u8) {
    use tracing_subscriber::EnvFilter;
    // fuser::session's only warning is a false one: fuser 0.18.0 unmounts
    // again when the session ends after an unmount from outside (flickrfs
    // unmount, fusermount3 -u, an eject) and warns "Failed to umount
    // filesystem: Invalid argument", because its is_mounted() reads POLLERR
    // as mounted (fixed upstream in cberner/fuser#703, not yet released).
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,fuser::session=error",
        (false, 1) => "flickrfs=info,warn,fuser::session=error",
        (false, _) => "flickrfs=debug,info,fuser::session=error",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .without_time()
        .try_init();
}

fn run(cli: Cli) -> Result<ExitCode> {
    let paths = Paths::from_env()?;
    match cli.command {
        Command::Config(cmd) => config_command(&paths, cmd)?,
        Command::Sets {
            account,
            action,
            names,
        } => sets_command(&paths, account, action, names)?,
        Command::Completions { shell } => {
            let mut out = std::io::stdout();
            clap_complete::generate(shell, &mut Cli::command(), "flickrfs", &mut out);
            if shell == clap_complete::Shell::Bash {
                out.write_all(BASH_DYNAMIC.as_bytes())
                    .context("writing the completion script")?;
            }
        }
        Command::Complete { what, account } => complete_command(&paths, what, account),
        Command::Man => {
            clap_mangen::Man::new(Cli::command())
                .render(&mut std::io::stdout())
                .context("writing the man page")?;
        }
        Command::Emulator(args) => {
            let cfg = args.into_config();
            runtime()?.block_on(flickrfs::emulator::serve_forever(cfg))?;
        }
        Command::Account(cmd) => account_command(&paths, cmd)?,
        Command::Demo { mountpoint, state } => {
            let opts = flickrfs::demo::DemoOptions { mountpoint, state };
            flickrfs::demo::run(opts, &mut std::io::stdout(), wait_for_stop_signal)?;
        }
        Command::Mount(args) => mount_command(&paths, args)?,
        Command::Unmount { mountpoint } => flickrfs::fs::unmount(&mountpoint)?,
        Command::Sync(args) => return sync_command(&paths, args),
        Command::Plan(args) => plan_command(&paths, args)?,
        Command::Status { json } => status_command(&paths, json)?,
        Command::Relocate { account, search } => relocate_command(&paths, account, search)?,
        cmd @ (Command::Ignore(_)
        | Command::Unignore(_)
        | Command::Restore(_)
        | Command::Ignored { .. }
        | Command::Identify { .. }
        | Command::Thumbnail(_)) => photo_command(&paths, cmd)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn overrides(args: &ApiArgs) -> ApiOverrides {
    ApiOverrides {
        api_key: args.api_key.clone(),
        api_secret: args.api_secret.clone(),
        endpoint: args.endpoint.clone(),
    }
}

fn account_command(paths: &Paths, cmd: AccountCommand) -> Result<()> {
    let store = paths.credentials_file();
    match cmd {
        AccountCommand::Add(args) => {
            paths.ensure()?;
            let mut session = Session::open(paths.clone(), &overrides(&args.api))?;
            let api = session.api()?.clone();
            let verifier = if args.paste {
                VerifierSource::Paste(Box::new(std::io::BufReader::new(std::io::stdin())))
            } else {
                VerifierSource::Callback
            };
            let mut opts = AddAccountOptions::default();
            if args.no_browser {
                opts.opener = Box::new(|_: &str| Ok(()));
            }
            let summary = runtime()?.block_on(accounts::add_account(
                &session.endpoints,
                &api,
                &store,
                verifier,
                opts,
            ))?;
            // Remember the endpoint and key that worked, so later commands
            // (mount, sync) talk to the same Flickr without repeating flags.
            let endpoint = session.endpoint.clone();
            let cfg = &mut session.config.api;
            if cfg.key.is_none() && cfg.secret.is_none() {
                cfg.key = Some(api.key.clone());
                cfg.secret = Some(api.secret.clone());
            }
            if cfg.endpoint.is_none() && endpoint != Endpoint::Flickr {
                cfg.endpoint = Some(endpoint.as_config_str().to_owned());
            }
            session.config.save(&paths.config_file())?;
            session.register(&accounts::load_account(&store, &summary.name)?)?;
            println!("Added {summary}.");
        }
        AccountCommand::List { json } => {
            let list = accounts::list_accounts(&store)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("No accounts yet: add one with `flickrfs account add`.");
            } else {
                for a in list {
                    println!("{a}");
                }
            }
        }
        AccountCommand::Remove { name } => {
            let removed = accounts::remove_account(&store, &name)?;
            println!(
                "Removed the credentials of {removed}. Nothing was deleted on Flickr or on disk."
            );
        }
    }
    Ok(())
}

fn mount_command(paths: &Paths, args: MountArgs) -> Result<()> {
    paths.ensure()?;
    std::fs::create_dir_all(paths.log_dir())
        .with_context(|| format!("creating {}", paths.log_dir().display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        // The log may name your photos: only you may read it.
        let _ = std::fs::set_permissions(paths.log_dir(), std::fs::Permissions::from_mode(0o700));
    }
    // Make sure every authorised account is in the catalog, so it shows.
    let session = Session::open(paths.clone(), &ApiOverrides::default())?;
    let targets = match session.targets(&[]) {
        Ok(t) => t,
        Err(app::AppError::NoAccounts) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let board = std::sync::Arc::new(std::sync::Mutex::new(flickrfs::fs::StatusBoard::default()));
    let mut opts = flickrfs::fs::MountOptions::new(args.mountpoint.clone(), paths.catalog_db());
    opts.log_file = Some(paths.log_dir().join("mount.log"));
    opts.foreground = args.foreground;
    opts.allow_other = args.allow_other;
    opts.force_pread = args.no_passthrough;
    let engine = flickrfs::daemon::SyncEngine::new(paths.clone(), board.clone());
    opts.sync_hook = Some(engine.hook());
    opts.libraries = flickrfs::daemon::libraries(&session, &targets, &args.mountpoint);
    opts.photo_pages = session.endpoint.photo_pages().to_owned();
    let libraries = opts.libraries.clone();
    // the thumbnails' URIs name the files by their absolute path
    let mountpoint = std::path::absolute(&args.mountpoint).unwrap_or(args.mountpoint.clone());
    let thumb_paths = paths.clone();
    let on_demand = flickrfs::daemon::OnDemand::new(paths.clone());
    opts.fetch_hook = Some(on_demand.hook());
    opts.on_serve = Some(std::sync::Arc::new(move || {
        flickrfs::daemon::warm_libraries(&libraries);
        flickrfs::daemon::start_thumbnails(thumb_paths.clone(), mountpoint.clone());
        if let Err(e) = on_demand.start() {
            tracing::warn!("photos on demand: {e}");
        }
        engine.start_autosync()
    }));
    opts.status = Some(board);
    flickrfs::fs::mount(opts)?;
    if !args.foreground {
        println!(
            "Mounted at {} (log: {}). Unmount with `flickrfs unmount {}`.",
            args.mountpoint.display(),
            paths.log_dir().join("mount.log").display(),
            args.mountpoint.display()
        );
    }
    Ok(())
}

/// Exit code 3: the sync ran but some items failed.
const EXIT_PARTIAL: u8 = 3;

fn sync_command(paths: &Paths, args: SyncArgs) -> Result<ExitCode> {
    for dir in &args.search {
        if !dir.is_dir() {
            bail!("--search {}: not a folder", dir.display());
        }
    }
    let session = Session::open(paths.clone(), &overrides(&args.api))?;
    session.api()?;
    let targets = session.targets(&args.accounts)?;
    let rt = runtime()?;
    let mut run = SyncRun {
        direction: args.direction.get(),
        accounts: args.accounts.clone(),
        dry_run: true,
        force: args.force,
        full: args.full,
        search: args.search.clone(),
        requester: app::Requester::Cli,
        skip_downloads: Default::default(),
    };
    let interactive =
        args.interactive || (!args.yes && !args.dry_run && std::io::stdin().is_terminal());
    if args.dry_run {
        let plan = rt.block_on(app::run_syncs(&session, &targets, &run, &mut |_| {
            Box::new(flickrfs::sync::NoProgress)
        }))?;
        print!("{}", plan.text());
        return Ok(ExitCode::SUCCESS);
    } else if interactive {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut stdout = std::io::stdout();
        let mut con = review::Console::new(&mut input, &mut stdout);
        match rt.block_on(review::review(&session, &targets, &mut run, &mut con))? {
            review::Outcome::Execute => {}
            review::Outcome::Saved | review::Outcome::Quit | review::Outcome::NothingToDo => {
                return Ok(ExitCode::SUCCESS)
            }
        }
    } else if !args.yes {
        bail!("not a terminal: pass --yes to execute the plan, or --dry-run to see it");
    }
    run.dry_run = false;
    let quiet = !std::io::stderr().is_terminal();
    let last = rt.block_on(app::run_syncs(&session, &targets, &run, &mut |t| {
        Box::new(BarProgress::new(&t.stored.name, quiet))
    }))?;
    print!("{}", last.text());
    // An account that stopped before executing (a refused plan, Flickr
    // unreachable) is a failure; items failing in a sync that ran, partial.
    let stopped: Vec<String> = last
        .accounts
        .iter()
        .filter_map(|a| a.error.as_ref().map(|e| format!("{}: {e}", a.account)))
        .collect();
    if !stopped.is_empty() {
        eprintln!("flickrfs: the sync stopped: {}", stopped.join("; "));
        return Ok(ExitCode::from(EXIT_FAILURE));
    }
    Ok(if last.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_PARTIAL)
    })
}

/// A progress bar per account, with rate and ETA.
struct BarProgress {
    bar: indicatif::ProgressBar,
}

impl BarProgress {
    fn new(account: &str, hidden: bool) -> BarProgress {
        let bar = if hidden {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(0)
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {wide_msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(account.to_owned());
        BarProgress { bar }
    }
}

impl flickrfs::sync::Progress for BarProgress {
    fn starting(
        &mut self,
        _index: usize,
        total: usize,
        _action: &flickrfs::sync::Action,
        what: &str,
    ) {
        self.bar.set_length(total as u64);
        self.bar.set_message(what.to_owned());
    }
    fn finished(
        &mut self,
        _action: &flickrfs::sync::Action,
        _result: std::result::Result<(), &flickrfs::sync::execute::ExecError>,
    ) {
        self.bar.inc(1);
    }
    fn failed(&mut self, line: &str) {
        self.bar.println(format!("failed: {line}"));
    }
}

fn plan_command(paths: &Paths, args: PlanArgs) -> Result<()> {
    let session = Session::open(paths.clone(), &overrides(&args.api))?;
    session.api()?;
    let targets = session.targets(&args.accounts)?;
    let run = SyncRun {
        direction: args.direction.get(),
        accounts: args.accounts.clone(),
        dry_run: true,
        ..Default::default()
    };
    let plan = runtime()?.block_on(app::run_syncs(&session, &targets, &run, &mut |_| {
        Box::new(flickrfs::sync::NoProgress)
    }))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
    } else {
        print!("{}", plan.text());
    }
    Ok(())
}

fn status_command(paths: &Paths, json: bool) -> Result<()> {
    let session = Session::open(paths.clone(), &ApiOverrides::default())?;
    let last = LastSync::load(&session.last_sync_file());
    let (problems, origins) = if paths.catalog_db().exists() {
        let cat = session.catalog()?;
        let mut origins = Vec::new();
        for a in cat.accounts()? {
            origins.push((
                a.collection_name.as_str().to_owned(),
                cat.file_origins(a.id)?,
            ));
        }
        (cat.problems(None)?, origins)
    } else {
        (Vec::new(), Vec::new())
    };
    if json {
        let files: serde_json::Map<String, serde_json::Value> = origins
            .iter()
            .map(|(name, o)| (name.clone(), serde_json::to_value(o).unwrap_or_default()))
            .collect();
        let mut v = serde_json::json!({
            "last_sync": last,
            "files": files,
            "problems": problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        });
        flickrfs::localtime::add_iso_times(&mut v);
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    match &last {
        Some(l) => {
            println!(
                "last sync finished at {}",
                flickrfs::localtime::iso8601(l.finished_at)
            );
            print!("{}", l.text())
        }
        None => println!("No sync has run yet."),
    }
    for (name, o) in &origins {
        println!("{name}: {o}");
    }
    if !problems.is_empty() {
        println!("problems ({}):", problems.len());
        for p in &problems {
            println!("  {p}");
        }
    }
    Ok(())
}

fn relocate_command(
    paths: &Paths,
    account: Option<String>,
    search: Vec<std::path::PathBuf>,
) -> Result<()> {
    for dir in &search {
        if !dir.is_dir() {
            bail!("--search {}: not a folder", dir.display());
        }
    }
    let session = Session::open(paths.clone(), &ApiOverrides::default())?;
    let names: Vec<String> = account.into_iter().collect();
    let targets = session.targets(&names)?;
    let cat = session.catalog()?;
    let mut lost = 0;
    for t in &targets {
        let mut folders = vec![t.account.default_folder.clone()];
        folders.extend(session.config.library_folders(paths, &t.stored.name));
        folders.extend(search.iter().cloned());
        let report = flickrfs::relocate::relocate_missing(&cat, t.account.id, &folders)
            .with_context(|| format!("relocating the files of {}", t.stored.name))?;
        let name = t.account.collection_name.as_str();
        if report.found.is_empty() && report.not_found.is_empty() {
            println!("{name}: no file is missing.");
            continue;
        }
        println!(
            "{name}: {} found, {} not found ({} files looked at, {} read)",
            report.found.len(),
            report.not_found.len(),
            report.files_seen,
            report.files_hashed
        );
        for f in &report.found {
            println!(
                "  found: '{}': {} (was {})",
                f.title,
                f.now.display(),
                f.was.display()
            );
        }
        for f in &report.not_found {
            println!("  not found: '{}' (was {})", f.title, f.was.display());
        }
        lost += report.not_found.len();
    }
    if lost > 0 {
        println!(
            "Searched: the default folder, the library folders{}. Name another folder with --search DIR.",
            if search.is_empty() { "" } else { " and --search" }
        );
    }
    Ok(())
}

/// The one account a photo command applies to.
fn single_target(session: &Session, account: Option<String>) -> Result<app::Target> {
    let names: Vec<String> = account.into_iter().collect();
    let mut targets = session.targets(&names)?;
    if targets.len() > 1 {
        bail!(
            "several accounts are configured ({}): say which with --account",
            targets
                .iter()
                .map(|t| t.stored.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    targets.pop().context("no account")
}

fn photo_command(paths: &Paths, cmd: Command) -> Result<()> {
    let session = Session::open(paths.clone(), &ApiOverrides::default())?;
    match cmd {
        Command::Ignore(a) => {
            let t = single_target(&session, a.account)?;
            let cat = session.catalog()?;
            let id = PhotoId::new(a.photo_id.clone());
            let photo = cat
                .photo_by_remote_id(t.account.id, &id)?
                .with_context(|| {
                    format!(
                        "photo {} is not in the catalog of {} (run a sync first)",
                        a.photo_id, t.stored.name
                    )
                })?;
            cat.ignore(photo.key)?;
            println!(
                "Photo {} will not be downloaded again (it stays on Flickr).",
                a.photo_id
            );
        }
        Command::Unignore(a) | Command::Restore(a) => {
            let t = single_target(&session, a.account)?;
            let cat = session.catalog()?;
            let id = PhotoId::new(a.photo_id.clone());
            let gone = cat
                .deleted_on_flickr(t.account.id)?
                .iter()
                .any(|p| p.deleted_on_flickr.as_ref() == Some(&id));
            let photo = cat.unignore(t.account.id, &id).with_context(|| {
                format!(
                    "photo {} is neither ignored nor deleted on Flickr in the catalog of {}",
                    a.photo_id, t.stored.name
                )
            })?;
            if gone {
                let file = photo
                    .local
                    .as_ref()
                    .map(|f| f.path.display().to_string())
                    .unwrap_or_default();
                println!(
                    "Photo {} (deleted on Flickr) is listed again as a local photo ({file}): the next sync uploads it.",
                    a.photo_id
                );
            } else {
                println!("Photo {} is no longer ignored.", a.photo_id);
            }
        }
        Command::Ignored { account } => {
            let t = single_target(&session, account)?;
            let cat = session.catalog()?;
            for p in cat.ignored(t.account.id)? {
                let id = p.remote_id().map(|i| i.to_string()).unwrap_or_default();
                let title = p
                    .remote
                    .as_ref()
                    .map(|r| r.title.clone())
                    .unwrap_or_default();
                println!("{id}\t{title}");
            }
        }
        Command::Identify {
            photo_id,
            file,
            account,
        } => {
            let t = single_target(&session, account)?;
            let cat = session.catalog()?;
            let photo = cat
                .photo_by_remote_id(t.account.id, &PhotoId::new(photo_id.clone()))?
                .with_context(|| {
                    format!("photo {photo_id} is not in the catalog (run a sync first)")
                })?;
            let facts = flickrfs::media::FileFacts::scan(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            cat.set_local_file(photo.key, &file, &facts)?;
            println!(
                "Photo {photo_id} is now {}; it will not be downloaded.",
                file.display()
            );
        }
        Command::Thumbnail(a) => {
            session.api()?;
            let t = single_target(&session, a.account)?;
            let client = session.client(&t.stored)?;
            let dir = paths.state_dir.join("thumbnails");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let id = PhotoId::new(a.photo_id.clone());
            let dest = dir.join(format!(
                "{}.jpg",
                a.photo_id
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
            ));
            runtime()?.block_on(async {
                let sizes = client.photo_sizes(&id).await?;
                let small = sizes
                    .iter()
                    .find(|s| s.label == "Small")
                    .or_else(|| sizes.iter().find(|s| s.label == "Thumbnail"))
                    .or_else(|| sizes.first())
                    .context("Flickr lists no sizes for this photo")?;
                if dest.exists() {
                    std::fs::remove_file(&dest).ok();
                }
                client.download_to(&small.source, &dest).await?;
                anyhow::Ok(())
            })?;
            println!("{}", dest.display());
            // Best effort: the path is printed above for a headless machine.
            let _ = opener::open(&dest);
        }
        _ => unreachable!("photo_command is only called for photo commands"),
    }
    Ok(())
}

/// Blocks until SIGINT (Ctrl-C) or SIGTERM.
fn wait_for_stop_signal() {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
}

/// A multi-threaded tokio runtime for the async parts (client, emulator).
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn config_command(paths: &Paths, cmd: ConfigCommand) -> Result<()> {
    let file = paths.config_file();
    let mut config = Config::load(&file)?;
    match cmd {
        ConfigCommand::Get { account, key } => {
            println!("{}", config.prefs(&account).get(&key)?);
        }
        ConfigCommand::Set {
            account,
            key,
            value,
        } => {
            let mut prefs = config.prefs(&account);
            prefs.set(&key, &value)?;
            config.accounts.insert(account.clone(), prefs);
            if key == "collection_name" || key == "default_folder" {
                // The catalog takes the change first (a name another account
                // uses is refused there), so a running mount renames the
                // folder or stores new files in the new default folder.
                let mut session = Session::open(paths.clone(), &ApiOverrides::default())?;
                session.config = config.clone();
                session
                    .apply_folder_prefs(&account)
                    .with_context(|| format!("applying {key} to account {account}"))?;
            }
            config.save(&file)?;
        }
        ConfigCommand::Show { account, json } => {
            let names: Vec<String> = match account {
                Some(a) => vec![a],
                None => config.accounts.keys().cloned().collect(),
            };
            let mut out = serde_json::Map::new();
            for name in &names {
                let prefs = config.prefs(name);
                let mut m = serde_json::Map::new();
                for (key, _) in PREF_KEYS {
                    m.insert((*key).into(), prefs.get(key)?.into());
                }
                out.insert(name.clone(), m.into());
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                let mut stdout = std::io::stdout().lock();
                for (name, prefs) in &out {
                    writeln!(stdout, "[{name}]")?;
                    for (k, v) in prefs.as_object().into_iter().flatten() {
                        writeln!(stdout, "{k} = {}", v.as_str().unwrap_or_default())?;
                    }
                }
            }
        }
        ConfigCommand::Edit => edit_config(&file, &config)?,
        ConfigCommand::Paths => {
            println!("config:      {}", paths.config_file().display());
            println!("credentials: {}", paths.credentials_file().display());
            println!("catalog:     {}", paths.catalog_db().display());
            println!("logs:        {}", paths.log_dir().display());
        }
    }
    Ok(())
}

/// `flickrfs sets`: each photoset and pool and whether it takes part;
/// with an action, changes that in the account's preferences first.
/// Appended to clap's bash script: account names, and the set and pool
/// titles after `flickrfs sets ACCOUNT include|exclude`, asked of flickrfs
/// (`flickrfs __complete`); everything else as clap generated it. Readline
/// quotes the titles (`-o filenames`): `Summer 2024` becomes `Summer\ 2024`.
const BASH_DYNAMIC: &str = r#"
# flickrfs: account names, and set and pool titles for
# `flickrfs sets ACCOUNT include|exclude NAME...`, from flickrfs itself.
_flickrfs_names() {
    local cur="${COMP_WORDS[COMP_CWORD]}" i at=-1
    for (( i = 1; i < COMP_CWORD; i++ )); do
        case "${COMP_WORDS[i]}" in
            -*) ;;
            sets) at=$i; break ;;
            *) break ;;
        esac
    done
    if (( at < 0 )); then
        _flickrfs "$@"
        return
    fi
    # the word typed so far, without an opening quote or backslashes
    local n=$(( COMP_CWORD - at )) word="${cur#[\"\']}" line
    word="${word//\\/}"
    local -a words=()
    if (( n == 1 )); then
        mapfile -t words < <("$1" __complete accounts 2>/dev/null)
    elif (( n == 2 )); then
        words=(include exclude)
    elif [[ "${COMP_WORDS[at+2]}" == include || "${COMP_WORDS[at+2]}" == exclude ]]; then
        mapfile -t words < <("$1" __complete sets "${COMP_WORDS[at+1]}" 2>/dev/null)
    fi
    COMPREPLY=()
    for line in "${words[@]}"; do
        [[ "$line" == "$word"* ]] && COMPREPLY+=("$line")
    done
    compopt -o filenames 2>/dev/null
    return 0
}
complete -F _flickrfs_names -o bashdefault -o default flickrfs
"#;

/// `flickrfs __complete`: one word a line; nothing (and success) when the
/// catalog cannot be read, so that a completion never prints an error.
fn complete_command(paths: &Paths, what: CompleteWhat, account: Option<String>) {
    let words = || -> Result<Vec<String>> {
        let session = Session::open(paths.clone(), &ApiOverrides::default())?;
        let mut out = Vec::new();
        match what {
            CompleteWhat::Accounts => {
                for t in session.targets(&[])? {
                    out.push(t.stored.name.clone());
                }
            }
            CompleteWhat::Sets => {
                let cat = session.catalog()?;
                for t in session.targets(account.as_slice())? {
                    for c in cat
                        .sets(t.account.id)?
                        .into_iter()
                        .chain(cat.pools(t.account.id)?)
                    {
                        out.push(c.title);
                    }
                }
                out.push("all".into());
            }
        }
        out.retain(|w| !w.is_empty() && !w.contains(['\n', '\r']));
        out.sort();
        out.dedup();
        Ok(out)
    };
    if let Ok(words) = words() {
        let mut out = std::io::stdout().lock();
        for w in words {
            if writeln!(out, "{w}").is_err() {
                break;
            }
        }
    }
}

fn sets_command(
    paths: &Paths,
    account: Option<String>,
    action: Option<SetsAction>,
    names: Vec<String>,
) -> Result<()> {
    let mut session = Session::open(paths.clone(), &ApiOverrides::default())?;
    let targets = session.targets(account.as_slice())?;
    let cat = session.catalog()?;
    if let Some(action) = action {
        let include = action == SetsAction::Include;
        if names.is_empty() {
            let verb = if include { "include" } else { "exclude" };
            bail!("name the photosets or pools to {verb} (or all)");
        }
        for t in &targets {
            let sets = cat.sets(t.account.id)?;
            let pools = cat.pools(t.account.id)?;
            let mut prefs = session.config.prefs(&t.stored.name);
            for name in &names {
                if name == "all" {
                    prefs.sets.change("all", include);
                    prefs.pools.change("all", include);
                    continue;
                }
                let named = |c: &&flickrfs::catalog::Collection| {
                    c.title == *name
                        || c.name.as_str() == name
                        || app::collection_remote_id(c).as_deref() == Some(name.as_str())
                };
                let set = sets.iter().find(named);
                let pool = pools.iter().find(named);
                if set.is_none() && pool.is_none() {
                    bail!(
                        "account {} has no photoset or pool titled {name:?} \
                         (`flickrfs sets {}` lists them; the list fills in at the first sync)",
                        t.stored.name,
                        t.stored.name
                    );
                }
                if let Some(c) = set {
                    prefs.sets.change(&c.title, include);
                }
                if let Some(c) = pool {
                    prefs.pools.change(&c.title, include);
                }
            }
            session.config.accounts.insert(t.stored.name.clone(), prefs);
        }
        session.config.save(&paths.config_file())?;
    }
    let mut out = std::io::stdout().lock();
    for t in &targets {
        let prefs = session.config.prefs(&t.stored.name);
        for line in app::set_list(&cat, &t.stored.name, t.account.id, &prefs)? {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

/// Opens a copy of config.toml in $EDITOR and keeps it only if it parses.
fn edit_config(file: &std::path::Path, config: &Config) -> Result<()> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
    let dir = tempfile::tempdir()?;
    let draft = dir.path().join("config.toml");
    std::fs::write(&draft, toml::to_string_pretty(config)?)?;
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&draft)
        .status()
        .with_context(|| format!("starting the editor {editor:?}"))?;
    if !status.success() {
        bail!("the editor exited with {status}; config.toml is unchanged");
    }
    let edited = Config::load(&draft)
        .context("the edited configuration is invalid; config.toml is unchanged")?;
    edited.save(file)?;
    Ok(())
}
