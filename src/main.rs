//! The `flickrfs` binary: parse the command line, call the library, print
//! errors for people. Nothing here is logic the tests cannot reach through
//! the library.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, Parser};

use cli::{AccountCommand, ApiArgs, Cli, Command, ConfigCommand};
use flickrfs::accounts::{self, AddAccountOptions, VerifierSource};
use flickrfs::catalog::Catalog;
use flickrfs::config::{resolve_api_key, Config, Endpoint, Paths, PREF_KEYS};
use flickrfs::flickr::{ApiCredentials, Endpoints};

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
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "flickrfs=info,warn",
        (false, _) => "flickrfs=debug,info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .try_init();
}

fn run(cli: Cli) -> Result<ExitCode> {
    let paths = Paths::from_env()?;
    match cli.command {
        Command::Config(cmd) => config_command(&paths, cmd)?,
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "flickrfs",
                &mut std::io::stdout(),
            );
        }
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
    }
    Ok(ExitCode::SUCCESS)
}

/// The endpoint and API key a command uses: flags, then the environment,
/// then config.toml.
struct ApiSetup {
    config: Config,
    endpoint: Endpoint,
    endpoints: Endpoints,
    api: ApiCredentials,
}

fn api_setup(paths: &Paths, args: &ApiArgs) -> Result<ApiSetup> {
    let config = Config::load(&paths.config_file())?;
    let endpoint = match &args.endpoint {
        Some(e) => Endpoint::parse(e)?,
        None => config.endpoint()?,
    };
    let endpoints = match &endpoint {
        Endpoint::Flickr => Endpoints::flickr(),
        Endpoint::Local(base) => Endpoints::local(base),
    };
    let Some(api) = resolve_api_key(args.api_key.as_deref(), args.api_secret.as_deref(), &config)
    else {
        bail!(
            "no Flickr API key: pass --api-key and --api-secret, set FLICKRFS_API_KEY and \
             FLICKRFS_API_SECRET, or put key and secret under [api] in {}",
            paths.config_file().display()
        );
    };
    Ok(ApiSetup {
        config,
        endpoint,
        endpoints,
        api,
    })
}

fn account_command(paths: &Paths, cmd: AccountCommand) -> Result<()> {
    let store = paths.credentials_file();
    match cmd {
        AccountCommand::Add(args) => {
            paths.ensure()?;
            let mut setup = api_setup(paths, &args.api)?;
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
                &setup.endpoints,
                &setup.api,
                &store,
                verifier,
                opts,
            ))?;
            // Remember the endpoint and key that worked, so later commands
            // (mount, sync) talk to the same Flickr without repeating flags.
            let api = &mut setup.config.api;
            if api.key.is_none() && api.secret.is_none() {
                api.key = Some(setup.api.key.clone());
                api.secret = Some(setup.api.secret.clone());
            }
            if api.endpoint.is_none() && setup.endpoint != Endpoint::Flickr {
                api.endpoint = Some(setup.endpoint.as_config_str().to_owned());
            }
            setup.config.save(&paths.config_file())?;
            register_in_catalog(paths, &setup.config, &summary)?;
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

/// Makes a newly authorised account appear in the catalog (and so in the mount).
fn register_in_catalog(
    paths: &Paths,
    config: &Config,
    summary: &accounts::AccountSummary,
) -> Result<()> {
    let prefs = config.prefs(&summary.name);
    let folder_name = prefs
        .collection_name
        .clone()
        .unwrap_or_else(|| summary.name.clone());
    let default_folder = config.default_folder(paths, &summary.name);
    std::fs::create_dir_all(&default_folder)
        .with_context(|| format!("creating the default folder {}", default_folder.display()))?;
    let catalog = Catalog::open(&paths.catalog_db())?;
    catalog.add_account(
        &summary.nsid,
        &summary.username,
        &folder_name,
        &default_folder,
    )?;
    Ok(())
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
            config.accounts.insert(account, prefs);
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
