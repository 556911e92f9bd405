//! The command-line definitions (clap). Parsing only: `main.rs` dispatches
//! each command to the library.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "flickrfs",
    version,
    about = "Your Flickr collection as a folder tree, kept in sync",
    long_about = "flickrfs mounts your Flickr photo collection as a folder tree (photosets are \
                  folders, files are references to real images on your disk) and keeps it in sync \
                  with Flickr, one-way or both ways, without ever deleting a photo.",
    after_help = "Exit codes: 0 success, 1 failure (the message says why; also a plan the \
                  big-removal guard refused), 2 bad usage, 3 a sync finished with some items \
                  failed.\nLogs: RUST_LOG=flickrfs=debug."
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

/// What `flickrfs sets ACCOUNT ACTION NAME…` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SetsAction {
    Include,
    Exclude,
}

/// What `flickrfs __complete` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CompleteWhat {
    Sets,
    Accounts,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, list or remove Flickr accounts (OAuth 1.0a).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Run the local Flickr API emulator (for tests, benchmarks and the demo).
    Emulator(flickrfs::emulator::EmulatorArgs),
    /// Try flickrfs against the built-in emulator: OAuth, mount, first sync. Ctrl-C stops it.
    Demo {
        /// Where to mount (created if missing; default: a temporary folder).
        mountpoint: Option<PathBuf>,
        /// Keep the demo's files (emulator state, catalog, photos) in this folder.
        #[arg(long, value_name = "DIR")]
        state: Option<PathBuf>,
    },
    /// Mount the catalog at MOUNTPOINT (an empty folder).
    Mount(MountArgs),
    /// Unmount a flickrfs mount (same as `fusermount3 -u`).
    Unmount { mountpoint: PathBuf },
    /// Sync the catalog with Flickr: plan, show the summary, then execute.
    Sync(SyncArgs),
    /// Print what a sync would do now, changing nothing.
    Plan(PlanArgs),
    /// Print the last sync's result (when it finished, in local ISO 8601) and
    /// the problems the catalog knows of.
    Status {
        /// Print JSON (times in seconds since the epoch, `*_iso` beside them).
        #[arg(long)]
        json: bool,
    },
    /// Never download this online photo again (it stays on Flickr).
    Ignore(PhotoArgs),
    /// Take a photo off the ignored list (for a photo deleted on Flickr:
    /// the same as restore).
    Unignore(PhotoArgs),
    /// Upload again a photo deleted on Flickr whose file was kept: it is
    /// listed again as a local photo, queued for the next sync.
    Restore(PhotoArgs),
    /// List the ignored photos (not the ones deleted on Flickr: `flickrfs status` lists those).
    Ignored {
        #[arg(long)]
        account: Option<String>,
    },
    /// Tell flickrfs that FILE is the local copy of the online photo PHOTO_ID.
    Identify {
        photo_id: String,
        file: PathBuf,
        #[arg(long)]
        account: Option<String>,
    },
    /// Save the small image of an online photo and print its path.
    Thumbnail(PhotoArgs),
    /// List each photoset and group pool and whether it takes part in sync,
    /// or change that.
    ///
    /// The list fills in at the first contact with Flickr (the first sync).
    /// A set or pool that does not take part is left alone on both sides; its
    /// folder stays in the mount. Sets created later take part or not as the
    /// account's default says (the first line of the list); `include all`
    /// makes every one and every later one take part, `exclude all` none.
    Sets {
        /// The account (every account when omitted).
        account: Option<String>,
        /// Make the named sets and pools take part (include) or not (exclude).
        #[arg(value_enum, requires = "account")]
        action: Option<SetsAction>,
        /// Titles or ids of sets and pools, as listed; `all`: every one, and
        /// the default for the ones created later.
        #[arg(requires = "action", num_args = 1..)]
        names: Vec<String>,
    },
    /// Find files moved or deleted outside the mount by their content, in the
    /// default folder, the library folders and each --search DIR; list what
    /// was found and what was not, and point the catalog at the new places.
    Relocate {
        /// The account (its name, username or collection name); default: all.
        account: Option<String>,
        /// Also look in this folder and its subfolders (repeatable).
        #[arg(long = "search", value_name = "DIR")]
        search: Vec<PathBuf>,
    },
    /// Read or change an account's preferences.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// The bash script also completes account names and, after `flickrfs
    /// sets ACCOUNT include|exclude`, the account's photoset and pool titles
    /// (asked of flickrfs itself, from the catalog). Load it with
    /// `source <(flickrfs completions bash)`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Words for the shell's completion, one a line (the bash script calls it).
    #[command(name = "__complete", hide = true)]
    Complete {
        /// `sets`: ACCOUNT's photoset and pool titles and `all`; `accounts`:
        /// the account names.
        what: CompleteWhat,
        account: Option<String>,
    },
    /// Print the man page (roff) generated from these definitions.
    Man,
}

#[derive(Debug, Args)]
pub struct MountArgs {
    /// An existing, empty folder.
    pub mountpoint: PathBuf,
    /// Stay in the foreground (logs go to stderr) instead of daemonising.
    #[arg(long, short)]
    pub foreground: bool,
    /// Let other users see the mount (needs user_allow_other in /etc/fuse.conf).
    #[arg(long)]
    pub allow_other: bool,
    /// Serve reads with pread even when kernel passthrough is available.
    #[arg(long)]
    pub no_passthrough: bool,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub direction: DirectionArgs,
    /// Sync only this account (repeatable; default: all).
    #[arg(long = "account", value_name = "NAME")]
    pub accounts: Vec<String>,
    /// Also look for local copies of online photos in this folder (repeatable).
    #[arg(long = "search", value_name = "DIR")]
    pub search: Vec<PathBuf>,
    /// Print the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask: execute the plan.
    #[arg(long, short)]
    pub yes: bool,
    /// Execute even a plan that trips a safety threshold (many removals, a shrunken listing).
    #[arg(long)]
    pub force: bool,
    /// Compare everything on Flickr, not only what changed since the last sync.
    #[arg(long)]
    pub full: bool,
    /// Walk the review steps even when stdin is not a terminal (for tests and scripts).
    #[arg(long, hide = true, conflicts_with_all = ["yes", "dry_run"])]
    pub interactive: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

/// `--up`, `--down` or `--both` (the default).
#[derive(Debug, Args)]
pub struct DirectionArgs {
    /// Only upload (local changes go to Flickr).
    #[arg(long, group = "direction")]
    pub up: bool,
    /// Only download (Flickr's changes come here).
    #[arg(long, group = "direction")]
    pub down: bool,
    /// Both ways (the default).
    #[arg(long, group = "direction")]
    pub both: bool,
}

impl DirectionArgs {
    pub fn get(&self) -> flickrfs::model::Direction {
        use flickrfs::model::Direction;
        match (self.up, self.down) {
            (true, _) => Direction::Up,
            (_, true) => Direction::Down,
            _ => Direction::Both,
        }
    }
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub direction: DirectionArgs,
    #[arg(long = "account", value_name = "NAME")]
    pub accounts: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

#[derive(Debug, Args)]
pub struct PhotoArgs {
    /// The Flickr photo id.
    pub photo_id: String,
    /// The account (default: the only one).
    #[arg(long)]
    pub account: Option<String>,
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
