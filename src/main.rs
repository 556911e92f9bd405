//! The `flickrfs` binary: parse the command line, call the library, print
//! errors for people. Nothing here is logic the tests cannot reach through
//! the library.

mod cli;

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, Parser};

use cli::{Cli, Command, ConfigCommand};
use flickrfs::config::{Config, Paths, PREF_KEYS};

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
        Command::Account(_) => bail!("not wired yet"),
    }
    Ok(ExitCode::SUCCESS)
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
