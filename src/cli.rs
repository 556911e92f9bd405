//! The command-line definitions (clap). Parsing only: `main.rs` dispatches
//! each command to the library.

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "flickrfs",
    version,
    about = "Your Flickr collection as a folder tree, kept in sync",
    long_about = "flickrfs mounts your Flickr photo collection as a folder tree (photosets are \
                  folders, files are references to real images on your disk) and keeps it in sync \
                  with Flickr, one-way or both ways, without ever deleting a photo.",
    after_help = "Exit codes: 0 success, 1 failure (the message says why), 2 bad usage, \
                  3 a sync finished with some items failed.\nLogs: RUST_LOG=flickrfs=debug."
)]
pub struct Cli {
    /// Print only errors.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more about what happens (repeat for more).
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, list or remove Flickr accounts (OAuth 1.0a).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Run the local Flickr API emulator (for tests, benchmarks and the demo).
    Emulator(flickrfs::emulator::EmulatorArgs),
    /// Read or change an account's preferences.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) generated from these definitions.
    Man,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print one preference of an account.
    Get {
        /// The account's name.
        account: String,
        /// The preference (collection_name, default_folder, resize, privacy, safety_level, sets, pools, identify, parallelism).
        key: String,
    },
    /// Change one preference of an account (the value is checked).
    Set {
        account: String,
        key: String,
        value: String,
    },
    /// Print every preference of an account (or of all accounts).
    Show {
        account: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Open config.toml in $EDITOR, and check it before keeping the change.
    Edit,
    /// Print where flickrfs keeps its files.
    Paths,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Authorise a Flickr account: opens the browser, then stores the token.
    Add(AccountAddArgs),
    /// List the configured accounts.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Forget an account's credentials (nothing on Flickr or on disk is deleted).
    Remove {
        /// The account's name (its Flickr username).
        name: String,
    },
}

/// Where the API key comes from, and which Flickr to talk to.
#[derive(Debug, Args, Clone, Default)]
pub struct ApiArgs {
    /// Flickr API key (or FLICKRFS_API_KEY, or [api] key in config.toml).
    #[arg(long, env = "FLICKRFS_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Flickr API secret (or FLICKRFS_API_SECRET, or [api] secret in config.toml).
    #[arg(long, env = "FLICKRFS_API_SECRET", hide_env_values = true)]
    pub api_secret: Option<String>,
    /// "flickr" (default) or an emulator's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long, env = "FLICKRFS_ENDPOINT")]
    pub endpoint: Option<String>,
}

#[derive(Debug, Args)]
pub struct AccountAddArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Paste the verifier shown by Flickr instead of running a local callback listener.
    #[arg(long)]
    pub paste: bool,
    /// Do not try to open a browser; only print the URL.
    #[arg(long)]
    pub no_browser: bool,
}
