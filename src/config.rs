//! Where things live (XDG folders) and the user's preferences.
//!
//! Configuration is one TOML file, `~/.config/flickrfs/config.toml`: an `[api]`
//! table (key, secret, endpoint, rate limit) and one `[accounts.NAME]` table of
//! preferences per account. Credentials (OAuth tokens) live elsewhere, in a
//! 0600 file owned by `accounts`. This module does no network I/O and knows
//! nothing of Flickr's wire format.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::flickr::ApiCredentials;
use crate::model::Privacy;
pub use crate::model::Resize;

/// Errors reading or changing the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "neither $HOME nor the XDG folders are set: cannot tell where to keep flickrfs's files"
    )]
    NoHome,
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML for flickrfs: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("unknown preference {key:?}: expected one of {allowed}")]
    UnknownKey { key: String, allowed: String },
    #[error("invalid value {value:?} for {key}: {allowed}")]
    InvalidValue {
        key: String,
        value: String,
        allowed: String,
    },
    #[error("no account named {0:?} in the configuration")]
    UnknownAccount(String),
}

/// The folders flickrfs reads and writes, resolved once from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub state_dir: PathBuf,
    pub home: PathBuf,
}

impl Paths {
    /// Honours `$XDG_CONFIG_HOME`, `$XDG_DATA_HOME`, `$XDG_STATE_HOME` and `$HOME`.
    pub fn from_env() -> Result<Paths, ConfigError> {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let home = var("HOME");
        let under_home = |rel: &str| home.as_ref().map(|h| h.join(rel));
        let config = var("XDG_CONFIG_HOME")
            .or_else(|| under_home(".config"))
            .ok_or(ConfigError::NoHome)?;
        let data = var("XDG_DATA_HOME")
            .or_else(|| under_home(".local/share"))
            .ok_or(ConfigError::NoHome)?;
        let state = var("XDG_STATE_HOME")
            .or_else(|| under_home(".local/state"))
            .ok_or(ConfigError::NoHome)?;
        Ok(Paths {
            config_dir: config.join("flickrfs"),
            data_dir: data.join("flickrfs"),
            state_dir: state.join("flickrfs"),
            home: home.unwrap_or_else(|| PathBuf::from("/")),
        })
    }

    /// All folders under one root, laid out as if `$HOME` were `root` and
    /// `XDG_CONFIG_HOME`, `XDG_DATA_HOME`, `XDG_STATE_HOME` were
    /// `root/config`, `root/data`, `root/state`: for tests and the demo.
    pub fn under(root: &Path) -> Paths {
        Paths {
            config_dir: root.join("config").join("flickrfs"),
            data_dir: root.join("data").join("flickrfs"),
            state_dir: root.join("state").join("flickrfs"),
            home: root.to_path_buf(),
        }
    }

    pub fn config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }
    /// Same file as [`Paths::config_file`]: preferences are its `[accounts.*]` tables.
    pub fn prefs_file(&self) -> PathBuf {
        self.config_file()
    }
    pub fn credentials_file(&self) -> PathBuf {
        self.config_dir.join("credentials.toml")
    }
    pub fn catalog_db(&self) -> PathBuf {
        self.data_dir.join("catalog.sqlite")
    }
    pub fn log_dir(&self) -> PathBuf {
        self.state_dir.join("logs")
    }
    /// Default folder for an account that has none configured.
    pub fn default_folder_for(&self, account: &str) -> PathBuf {
        self.home.join("Pictures").join("Flickr").join(account)
    }

    /// Creates the folders (mode 0700) if they are missing.
    pub fn ensure(&self) -> Result<(), ConfigError> {
        for dir in [&self.config_dir, &self.data_dir, &self.state_dir] {
            fs::create_dir_all(dir).map_err(|source| ConfigError::Write {
                path: dir.clone(),
                source,
            })?;
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
        }
        Ok(())
    }
}

/// Which Flickr the client talks to.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Endpoint {
    /// The real Flickr (the default).
    #[default]
    Flickr,
    /// A local emulator, by base URL (`http://127.0.0.1:PORT`).
    Local(String),
}

impl Endpoint {
    pub fn parse(s: &str) -> Result<Endpoint, ConfigError> {
        let s = s.trim();
        if s.is_empty() || s == "flickr" {
            return Ok(Endpoint::Flickr);
        }
        if s.starts_with("http://") || s.starts_with("https://") {
            return Ok(Endpoint::Local(s.trim_end_matches('/').to_owned()));
        }
        Err(ConfigError::InvalidValue {
            key: "api.endpoint".into(),
            value: s.into(),
            allowed: "expected \"flickr\" or the base URL of an emulator (http://127.0.0.1:PORT)"
                .into(),
        })
    }
    pub fn as_config_str(&self) -> &str {
        match self {
            Endpoint::Flickr => "flickr",
            Endpoint::Local(url) => url,
        }
    }

    /// Where photo pages live (`{base}/photos/{nsid}/{id}/`): Flickr's web
    /// site, or the emulator's own pages.
    pub fn photo_pages(&self) -> &str {
        match self {
            Endpoint::Flickr => crate::catalog::FLICKR_PHOTO_PAGES,
            Endpoint::Local(url) => url,
        }
    }
}

/// The `[api]` table.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ApiSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// `flickr` or an emulator's base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_hour: Option<u32>,
}

/// Flickr's safety level for uploads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SafetyLevel {
    #[default]
    Safe,
    Moderate,
    Restricted,
}

impl SafetyLevel {
    /// The number the upload endpoint takes.
    pub fn code(self) -> u8 {
        match self {
            SafetyLevel::Safe => 1,
            SafetyLevel::Moderate => 2,
            SafetyLevel::Restricted => 3,
        }
    }
}

/// Which photosets or pools take part in sync: all of them, the listed
/// titles/ids, or all but the listed ones. A set or pool Flickr has and the
/// list does not name (one created later) takes part with `All` and
/// `Except`, not with `Only`: the account's default for new sets.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Selection {
    #[default]
    #[serde(with = "all_marker")]
    All,
    Only(Vec<String>),
    Except {
        except: Vec<String>,
    },
}

mod all_marker {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("all")
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
        let s = String::deserialize(d)?;
        if s == "all" {
            Ok(())
        } else {
            Err(serde::de::Error::custom(
                "expected \"all\" or a list of titles",
            ))
        }
    }
}

impl Selection {
    /// Is the collection with this title or id selected?
    pub fn includes(&self, title: &str, id: Option<&str>) -> bool {
        let named = |names: &[String]| names.iter().any(|n| n == title || Some(n.as_str()) == id);
        match self {
            Selection::All => true,
            Selection::Only(names) => named(names),
            Selection::Except { except } => !named(except),
        }
    }

    /// Whether a set or pool the list does not name takes part.
    pub fn new_ones_take_part(&self) -> bool {
        !matches!(self, Selection::Only(_))
    }

    /// Makes `name` (a title or id; `all`: every one, and the default for
    /// new ones) take part or not; the default for new ones is otherwise
    /// kept.
    pub fn change(&mut self, name: &str, include: bool) {
        if name == "all" {
            *self = if include {
                Selection::All
            } else {
                Selection::Only(Vec::new())
            };
            return;
        }
        let without = |list: &[String]| -> Vec<String> {
            list.iter().filter(|n| *n != name).cloned().collect()
        };
        let with = |list: &[String]| -> Vec<String> {
            let mut l = without(list);
            l.push(name.to_owned());
            l
        };
        *self = match (&*self, include) {
            (Selection::All, true) => Selection::All,
            (Selection::All, false) => Selection::Except {
                except: vec![name.to_owned()],
            },
            (Selection::Only(l), true) => Selection::Only(with(l)),
            (Selection::Only(l), false) => Selection::Only(without(l)),
            (Selection::Except { except }, true) => {
                let l = without(except);
                if l.is_empty() {
                    Selection::All
                } else {
                    Selection::Except { except: l }
                }
            }
            (Selection::Except { except }, false) => Selection::Except {
                except: with(except),
            },
        };
    }

    fn parse(s: &str) -> Selection {
        let s = s.trim();
        if s.is_empty() || s == "all" {
            return Selection::All;
        }
        if s == "none" {
            return Selection::Only(Vec::new());
        }
        let list = |s: &str| -> Vec<String> {
            s.split(',')
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect()
        };
        match s.strip_prefix("all except ") {
            Some(rest) => Selection::Except { except: list(rest) },
            None => Selection::Only(list(s)),
        }
    }
}

impl std::fmt::Display for Selection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selection::All => f.write_str("all"),
            Selection::Only(v) if v.is_empty() => f.write_str("none"),
            Selection::Only(v) => f.write_str(&v.join(",")),
            Selection::Except { except } => write!(f, "all except {}", except.join(",")),
        }
    }
}

/// Preferences of one account (`[accounts.NAME]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Prefs {
    /// The folder name of the account's collection in the mount.
    pub collection_name: Option<String>,
    /// Where downloads and bytes written into the mount are stored.
    pub default_folder: Option<PathBuf>,
    pub resize: Resize,
    pub privacy: Privacy,
    pub safety_level: SafetyLevel,
    pub sets: Selection,
    pub pools: Selection,
    /// Whether the identify step runs before downloading.
    pub identify: bool,
    /// Uploads/downloads in flight at once.
    pub parallelism: u32,
    /// Whether the sync downloads every original, or the mount fetches
    /// one when it is opened.
    pub download: DownloadMode,
    /// Whether the mount daemon syncs by itself.
    pub autosync: AutoSync,
    /// Seconds local changes must have settled before auto-sync runs.
    pub autosync_delay: u64,
    /// Seconds between auto-sync's checks of Flickr.
    pub autosync_interval: u64,
    /// Where the user's own photos live: a copy into the mount of a file
    /// found there becomes a reference to it. `None`: the XDG pictures
    /// folder and the default folder; an empty list: none (every copy is
    /// kept in the default folder).
    pub library: Option<Vec<PathBuf>>,
}

/// Whether and how the mount daemon syncs by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoSync {
    /// Only when asked (the control file, `flickrfs sync`): the default.
    #[default]
    Off,
    /// Uploads and local changes go up by themselves.
    Up,
    /// Both ways.
    Both,
}

impl std::fmt::Display for AutoSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AutoSync::Off => "off",
            AutoSync::Up => "up",
            AutoSync::Both => "both",
        })
    }
}

/// When originals come down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DownloadMode {
    /// The sync downloads every original not on disk (the default).
    #[default]
    All,
    /// The sync downloads nothing; opening a photo in the mount fetches it.
    OnDemand,
}

impl std::fmt::Display for DownloadMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DownloadMode::All => "all",
            DownloadMode::OnDemand => "on-demand",
        })
    }
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            collection_name: None,
            default_folder: None,
            resize: Resize::Off,
            privacy: Privacy::Private,
            safety_level: SafetyLevel::Safe,
            sets: Selection::All,
            pools: Selection::All,
            identify: true,
            parallelism: 4,
            download: DownloadMode::All,
            autosync: AutoSync::Off,
            autosync_delay: 30,
            autosync_interval: 900,
            library: None,
        }
    }
}

/// The preference keys `flickrfs config get/set` accepts, with what each allows.
pub const PREF_KEYS: &[(&str, &str)] = &[
    ("collection_name", "a folder name (no '/')"),
    ("default_folder", "an absolute path"),
    (
        "resize",
        "\"off\" or a longest edge in pixels between 16 and 20000",
    ),
    (
        "privacy",
        "public, friends, family, friends+family or private",
    ),
    ("safety_level", "safe, moderate or restricted"),
    (
        "sets",
        "\"all\", \"none\", a comma-separated list of photoset titles or ids, or \"all except \" and such a list (see `flickrfs sets`)",
    ),
    (
        "pools",
        "\"all\", \"none\", a comma-separated list of group names or ids, or \"all except \" and such a list (see `flickrfs sets`)",
    ),
    ("identify", "true or false"),
    ("parallelism", "a number from 1 to 32"),
    ("download", "\"all\" (the sync downloads every original) or \"on-demand\" (opening a photo in the mount fetches it)"),
    ("autosync", "off, up or both: the mount daemon syncs by itself"),
    ("autosync_delay", "seconds local changes settle before auto-sync runs, 1 to 86400"),
    ("autosync_interval", "seconds between auto-sync's checks of Flickr, 5 to 604800"),
    ("library", "absolute folders separated by ':' where your own photos live (a copy into the mount of a file there becomes a reference to it), \"default\" (the pictures folder and the default folder) or \"none\""),
];

impl Prefs {
    /// Reads one preference as text.
    pub fn get(&self, key: &str) -> Result<String, ConfigError> {
        Ok(match key {
            "collection_name" => self.collection_name.clone().unwrap_or_default(),
            "default_folder" => self
                .default_folder
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            "resize" => self.resize.to_string(),
            "privacy" => self.privacy.to_string(),
            "safety_level" => format!("{:?}", self.safety_level).to_lowercase(),
            "sets" => self.sets.to_string(),
            "pools" => self.pools.to_string(),
            "identify" => self.identify.to_string(),
            "parallelism" => self.parallelism.to_string(),
            "download" => self.download.to_string(),
            "autosync" => self.autosync.to_string(),
            "autosync_delay" => self.autosync_delay.to_string(),
            "autosync_interval" => self.autosync_interval.to_string(),
            "library" => match &self.library {
                None => "default".to_owned(),
                Some(l) if l.is_empty() => "none".to_owned(),
                Some(l) => l
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(":"),
            },
            _ => return Err(unknown_key(key)),
        })
    }

    /// Sets one preference from text, refusing invalid values with a message
    /// that names the key and what it allows.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        let allowed = PREF_KEYS
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, a)| *a)
            .ok_or_else(|| unknown_key(key))?;
        let invalid = || ConfigError::InvalidValue {
            key: key.into(),
            value: value.into(),
            allowed: format!("expected {allowed}"),
        };
        let v = value.trim();
        match key {
            "collection_name" => {
                if v.is_empty() || v.contains('/') || v == "." || v == ".." || v.contains('\0') {
                    return Err(invalid());
                }
                self.collection_name = Some(v.to_owned());
            }
            "default_folder" => {
                let p = PathBuf::from(v);
                if !p.is_absolute() {
                    return Err(invalid());
                }
                self.default_folder = Some(p);
            }
            "resize" => self.resize = Resize::parse(v).map_err(|_| invalid())?,
            "privacy" => self.privacy = v.parse().map_err(|_| invalid())?,
            "safety_level" => {
                self.safety_level = match v {
                    "safe" => SafetyLevel::Safe,
                    "moderate" => SafetyLevel::Moderate,
                    "restricted" => SafetyLevel::Restricted,
                    _ => return Err(invalid()),
                }
            }
            "sets" => self.sets = Selection::parse(v),
            "pools" => self.pools = Selection::parse(v),
            "identify" => self.identify = v.parse().map_err(|_| invalid())?,
            "parallelism" => match v.parse::<u32>() {
                Ok(n) if (1..=32).contains(&n) => self.parallelism = n,
                _ => return Err(invalid()),
            },
            "autosync" => {
                self.autosync = match v {
                    "off" => AutoSync::Off,
                    "up" => AutoSync::Up,
                    "both" => AutoSync::Both,
                    _ => return Err(invalid()),
                }
            }
            "autosync_delay" => match v.parse::<u64>() {
                Ok(n) if (1..=86_400).contains(&n) => self.autosync_delay = n,
                _ => return Err(invalid()),
            },
            "autosync_interval" => match v.parse::<u64>() {
                Ok(n) if (5..=604_800).contains(&n) => self.autosync_interval = n,
                _ => return Err(invalid()),
            },
            "library" => {
                self.library = match v {
                    "default" => None,
                    "none" => Some(Vec::new()),
                    _ => {
                        let folders: Vec<PathBuf> = v
                            .split(':')
                            .filter(|f| !f.trim().is_empty())
                            .map(|f| PathBuf::from(f.trim()))
                            .collect();
                        if folders.is_empty() || folders.iter().any(|f| !f.is_absolute()) {
                            return Err(invalid());
                        }
                        Some(folders)
                    }
                }
            }
            "download" => {
                self.download = match v {
                    "all" => DownloadMode::All,
                    "on-demand" => DownloadMode::OnDemand,
                    _ => return Err(invalid()),
                }
            }
            _ => return Err(unknown_key(key)),
        }
        Ok(())
    }
}

fn unknown_key(key: &str) -> ConfigError {
    ConfigError::UnknownKey {
        key: key.into(),
        allowed: PREF_KEYS
            .iter()
            .map(|(k, _)| *k)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The whole configuration file.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub api: ApiSection,
    #[serde(default)]
    pub accounts: BTreeMap<String, Prefs>,
}

impl Config {
    /// Loads the file, or the defaults when it does not exist.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = match fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => {
                return Err(ConfigError::Read {
                    path: path.into(),
                    source,
                })
            }
        };
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.message().to_owned(),
        })
    }

    /// Writes atomically (temp file, fsync, rename) with mode 0600: the file
    /// may hold the API secret.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let text = toml::to_string_pretty(self).map_err(|e| ConfigError::Write {
            path: path.into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        write_private(path, text.as_bytes())
    }

    /// The endpoint the client should talk to.
    pub fn endpoint(&self) -> Result<Endpoint, ConfigError> {
        Endpoint::parse(self.api.endpoint.as_deref().unwrap_or("flickr"))
    }

    /// The preferences of an account (defaults when it has no table).
    pub fn prefs(&self, account: &str) -> Prefs {
        self.accounts.get(account).cloned().unwrap_or_default()
    }

    /// The account's default folder, falling back to `~/Pictures/Flickr/NAME`.
    pub fn default_folder(&self, paths: &Paths, account: &str) -> PathBuf {
        self.prefs(account)
            .default_folder
            .unwrap_or_else(|| paths.default_folder_for(account))
    }

    /// The account's library folders, defaults resolved: the XDG pictures
    /// folder and the default folder unless the preference says otherwise.
    pub fn library_folders(&self, paths: &Paths, account: &str) -> Vec<PathBuf> {
        match self.prefs(account).library {
            Some(l) => l,
            None => {
                let config_home = paths.config_dir.parent().unwrap_or(&paths.home);
                vec![
                    crate::library::pictures_dir(&paths.home, config_home),
                    self.default_folder(paths, account),
                ]
            }
        }
    }
}

/// Resolves the API key: flags first, then `FLICKRFS_API_KEY`/`FLICKRFS_API_SECRET`,
/// then the config file. `None` when no complete pair is known.
pub fn resolve_api_key(
    flag_key: Option<&str>,
    flag_secret: Option<&str>,
    config: &Config,
) -> Option<ApiCredentials> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let key = flag_key
        .map(str::to_owned)
        .or_else(|| env("FLICKRFS_API_KEY"))
        .or_else(|| config.api.key.clone())?;
    let secret = flag_secret
        .map(str::to_owned)
        .or_else(|| env("FLICKRFS_API_SECRET"))
        .or_else(|| config.api.secret.clone())?;
    Some(ApiCredentials { key, secret })
}

/// Writes a file only its owner can read: temp file created 0600, fsync, rename.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ConfigError> {
    let err = |source| ConfigError::Write {
        path: path.into(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(err)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(err)?;
    f.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)?;
    drop(f);
    fs::rename(&tmp, path).map_err(err)?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefs_refuse_bad_values_naming_key_and_allowed_values() {
        let mut p = Prefs::default();
        let e = p.set("privacy", "everyone").unwrap_err().to_string();
        assert!(e.contains("privacy") && e.contains("friends+family"), "{e}");
        let e = p.set("resize", "huge").unwrap_err().to_string();
        assert!(e.contains("resize") && e.contains("off"), "{e}");
        let e = p.set("colour", "red").unwrap_err().to_string();
        assert!(e.contains("colour") && e.contains("default_folder"), "{e}");
        assert!(p.set("default_folder", "relative/path").is_err());
        assert!(p.set("parallelism", "0").is_err());
        assert_eq!(p, Prefs::default(), "a refused value changes nothing");
    }

    #[test]
    fn prefs_round_trip_through_the_file_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let mut c = Config::default();
        let mut p = Prefs::default();
        p.set("resize", "2048").unwrap();
        p.set("privacy", "friends+family").unwrap();
        p.set("sets", "Trip, Garden").unwrap();
        p.set("default_folder", "/srv/photos").unwrap();
        c.accounts.insert("alice".into(), p.clone());
        c.api.key = Some("k".into());
        c.save(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = Config::load(&path).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.prefs("alice").get("sets").unwrap(), "Trip,Garden");
        assert_eq!(back.prefs("bob"), Prefs::default());
        assert!(back.prefs("alice").sets.includes("Garden", None));
        assert!(!back.prefs("alice").sets.includes("Other", Some("721")));
    }

    #[test]
    fn a_broken_config_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, "[accounts.alice]\nprivacy = \"everyone\"\n").unwrap();
        let e = Config::load(&path).unwrap_err().to_string();
        assert!(e.contains("config.toml"), "{e}");
    }

    #[test]
    fn sets_include_and_exclude_keep_the_default_for_new_ones() {
        let mut s = Selection::All;
        s.change("Work", false);
        assert_eq!(s.to_string(), "all except Work");
        assert!(s.new_ones_take_part() && !s.includes("Work", None) && s.includes("Later", None));
        s.change("Work", true);
        assert_eq!(s, Selection::All);
        s.change("all", false);
        assert_eq!(s.to_string(), "none");
        assert!(!s.new_ones_take_part() && !s.includes("Later", None));
        s.change("Trip", true);
        s.change("72157", true);
        assert!(s.includes("Trip", None) && s.includes("Other title", Some("72157")));
        s.change("Trip", false);
        assert_eq!(s, Selection::Only(vec!["72157".into()]));
        // Each form survives config.toml and `config set`.
        for sel in [
            Selection::All,
            Selection::Only(Vec::new()),
            Selection::Only(vec!["A".into(), "B".into()]),
            Selection::Except {
                except: vec!["C".into()],
            },
        ] {
            let mut c = Config::default();
            c.accounts.insert(
                "a".into(),
                Prefs {
                    sets: sel.clone(),
                    ..Prefs::default()
                },
            );
            let text = toml::to_string_pretty(&c).unwrap();
            let back: Config = toml::from_str(&text).unwrap();
            assert_eq!(back.prefs("a").sets, sel, "{text}");
            assert_eq!(Selection::parse(&sel.to_string()), sel);
        }
    }

    #[test]
    fn endpoint_parses_flickr_and_local_urls() {
        assert_eq!(Endpoint::parse("flickr").unwrap(), Endpoint::Flickr);
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:8080/").unwrap(),
            Endpoint::Local("http://127.0.0.1:8080".into())
        );
        assert!(Endpoint::parse("ftp://x").is_err());
        assert_eq!(Endpoint::Flickr.photo_pages(), "https://www.flickr.com");
        assert_eq!(
            Endpoint::parse("http://127.0.0.1:8080/")
                .unwrap()
                .photo_pages(),
            "http://127.0.0.1:8080"
        );
    }
}
