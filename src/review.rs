//! The interactive review of `flickrfs sync`: the five steps of the design
//! (accounts and direction, identify, uploads, downloads, summary) walked in a
//! terminal before anything is executed.
//!
//! The user's choices are not kept in memory for one run: they become the
//! catalog's own per-photo settings (`skip`, `ignored`, title, description,
//! tags, privacy, resize, and identified local files), the same ones the
//! mount's extended attributes and `flickrfs identify`/`unignore` use. The
//! plan is then recomputed from the catalog and executed by the normal
//! [`crate::app::run_syncs`] path, so `flickrfs sync --yes` and the control
//! file later honour exactly what the user chose ("saved selections").
//!
//! Nothing is written before the end of step 4: `q` (or the end of the input)
//! at any step before leaves every selection unmade. All prompts read and
//! write through injected handles ([`Console`]), so the logic runs without a
//! terminal in tests.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::app::{AppError, Session, SyncLock, SyncRun, Target};
use crate::catalog::{parse_tags, AccountId, Catalog, CatalogError, PhotoKey, Xattr};
use crate::model::{PhotoId, Privacy, Resize};
use crate::sync::{
    execute::{load_snapshots, MetaDefaults},
    plan::plan as make_plan,
    Action, NoProgress, Plan, PlanError, PlanOptions, RemoteSnapshot, SyncError,
};

/// Why the review stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("talking to the terminal: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    App(Box<AppError>),
    #[error(transparent)]
    Catalog(Box<CatalogError>),
    #[error("{account}: {source}{}", if matches!(**source, SyncError::Plan(_)) { CONFIRM } else { "" })]
    Sync {
        account: String,
        source: Box<SyncError>,
    },
    #[error("{account}: {source}{CONFIRM}")]
    Plan {
        account: String,
        source: Box<PlanError>,
    },
}

/// How a plan the big-removal guard refused is run anyway from here.
const CONFIRM: &str = "; to run it anyway, pass --force";

impl From<AppError> for ReviewError {
    fn from(e: AppError) -> Self {
        ReviewError::App(Box::new(e))
    }
}

impl From<CatalogError> for ReviewError {
    fn from(e: CatalogError) -> Self {
        ReviewError::Catalog(Box::new(e))
    }
}

type Result<T> = std::result::Result<T, ReviewError>;

/// Where the questions go and the answers come from.
pub struct Console<'a> {
    input: &'a mut dyn BufRead,
    out: &'a mut dyn Write,
}

impl<'a> Console<'a> {
    pub fn new(input: &'a mut dyn BufRead, out: &'a mut dyn Write) -> Console<'a> {
        Console { input, out }
    }

    /// Prints `prompt` and reads one line; `None` at the end of the input.
    fn ask(&mut self, prompt: &str) -> Result<Option<String>> {
        write!(self.out, "{prompt}")?;
        self.out.flush()?;
        let mut line = String::new();
        if self.input.read_line(&mut line)? == 0 {
            writeln!(self.out)?;
            return Ok(None);
        }
        Ok(Some(line.trim().to_owned()))
    }

    fn say(&mut self, text: &str) -> Result<()> {
        writeln!(self.out, "{text}")?;
        Ok(())
    }
}

/// How an online photo was matched to a local file by the identify step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchedHow {
    Name,
    TakenAt,
}

/// An online photo the identify step found a local file for.
#[derive(Clone, Debug)]
pub struct IdentifiedItem {
    pub photo: PhotoId,
    pub path: PathBuf,
    pub how: MatchedHow,
}

/// An online photo with several local files that may be it.
#[derive(Clone, Debug)]
pub struct AmbiguousItem {
    pub photo: PhotoId,
    pub key: Option<PhotoKey>,
    pub title: String,
    pub candidates: Vec<PathBuf>,
}

/// A planned upload, with the fields it will carry.
#[derive(Clone, Debug)]
pub struct UploadItem {
    pub key: PhotoKey,
    pub file: PathBuf,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub privacy: Privacy,
    pub resize: Resize,
    /// Titles of the sets it will be added to.
    pub sets: Vec<String>,
}

/// A planned download.
#[derive(Clone, Debug)]
pub struct DownloadItem {
    pub photo: PhotoId,
    pub key: Option<PhotoKey>,
    pub title: String,
    pub sets: Vec<String>,
}

/// One account's planned sync, as the review shows it.
pub struct AccountReview {
    pub name: String,
    pub account: AccountId,
    pub identified: Vec<IdentifiedItem>,
    pub ambiguous: Vec<AmbiguousItem>,
    pub uploads: Vec<UploadItem>,
    pub downloads: Vec<DownloadItem>,
    pub plan: Plan,
    defaults: MetaDefaults,
    plan_opts: PlanOptions,
    /// A free account's treatment of the plan, applied again by [`replan`].
    free_account: Option<crate::sync::FreeAccount>,
    remote: RemoteSnapshot,
    /// Downloads unticked in step 4: the sync that follows skips them, no
    /// later one does.
    pub skipped_downloads: BTreeSet<PhotoId>,
}

/// One choice made during the review, recorded in the catalog by [`apply`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// This local file is the online photo (as `flickrfs identify` records it).
    Identify { key: PhotoKey, path: PathBuf },
    /// Never download this online photo (`flickrfs unignore` restores it).
    Ignore { key: PhotoKey },
    /// Never upload this local photo (the `skip` setting).
    Skip { key: PhotoKey },
    /// A per-photo setting for the upload.
    Set {
        key: PhotoKey,
        attr: Xattr,
        value: String,
    },
}

/// How the review ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The user confirmed: execute the (recomputed) plan.
    Execute,
    /// Selections were saved, nothing executed.
    Saved,
    /// `q`: no choice is saved, nothing goes to Flickr, no file is written
    /// (Flickr's listing was recorded in the catalog, as any plan does).
    Quit,
    /// There is nothing to do.
    NothingToDo,
}

fn stem_matches(path: &Path, title: &str) -> bool {
    path.file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.eq_ignore_ascii_case(title.trim()))
}

/// Fetches, identifies and plans one account's sync (recording Flickr's
/// state in the catalog as any sync does) and lists what the plan would do.
pub async fn prepare(session: &Session, t: &Target, run: &SyncRun) -> Result<AccountReview> {
    let path = session.sync_lock_path(&t.account.nsid);
    let _lock = tokio::task::spawn_blocking(move || SyncLock::acquire(&path))
        .await
        .map_err(|e| AppError::Other(format!("waiting for the sync lock: {e}")))??;
    let cat = session.catalog()?;
    let client = session.client(&t.stored)?;
    let mut run = run.clone();
    run.dry_run = false;
    // The review plans again from the snapshots: the whole account's.
    let opts = crate::sync::SyncOptions {
        incremental: false,
        ..crate::app::sync_options(&t.prefs, &run)
    };
    let planned = crate::sync::plan_sync(&cat, &client, t.account.id, &opts, &mut NoProgress)
        .await
        .map_err(|source| ReviewError::Sync {
            account: t.stored.name.clone(),
            source: Box::new(source),
        })?;
    let remote = planned.fetched.snapshot.clone();
    let mut review = AccountReview {
        name: t.stored.name.clone(),
        account: t.account.id,
        identified: Vec::new(),
        ambiguous: Vec::new(),
        uploads: Vec::new(),
        downloads: Vec::new(),
        plan: Plan::default(),
        defaults: opts.defaults.clone(),
        plan_opts: planned.plan_opts.clone(),
        free_account: planned.free_account.clone(),
        remote,
        skipped_downloads: BTreeSet::new(),
    };
    for (photo, path) in &planned.identified {
        let title = review
            .remote
            .photos
            .get(photo)
            .map(|p| p.meta.title.as_str())
            .unwrap_or_default();
        let how = if stem_matches(path, title) {
            MatchedHow::Name
        } else {
            MatchedHow::TakenAt
        };
        review.identified.push(IdentifiedItem {
            photo: photo.clone(),
            path: path.clone(),
            how,
        });
    }
    for (photo, candidates) in &planned.ambiguous {
        let p = cat.photo_by_remote_id(t.account.id, photo)?;
        review.ambiguous.push(AmbiguousItem {
            photo: photo.clone(),
            key: p.as_ref().map(|p| p.key),
            title: review
                .remote
                .photos
                .get(photo)
                .map(|p| p.meta.title.clone())
                .unwrap_or_default(),
            candidates: candidates.clone(),
        });
    }
    review.plan = planned.plan;
    list_items(&cat, &mut review, &planned.local)?;
    Ok(review)
}

/// Fills the upload and download lists from the review's plan.
fn list_items(
    cat: &Catalog,
    review: &mut AccountReview,
    local: &crate::sync::LocalSnapshot,
) -> Result<()> {
    review.uploads.clear();
    review.downloads.clear();
    for a in &review.plan.actions {
        match a {
            Action::Upload { photo, meta, .. } => {
                let key = PhotoKey(photo.0);
                let p = cat.photo(key)?;
                let sets = local
                    .photos
                    .get(photo)
                    .map(|lp| {
                        lp.sets
                            .iter()
                            .filter_map(|s| local.sets.get(s).map(|s| s.title.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                review.uploads.push(UploadItem {
                    key,
                    file: p.local.map(|l| l.path).unwrap_or_default(),
                    title: meta.title.clone(),
                    description: meta.description.clone(),
                    tags: meta.tags.iter().cloned().collect(),
                    privacy: meta.privacy,
                    resize: p.meta.resize.unwrap_or(review.defaults.resize),
                    sets,
                });
            }
            Action::Download {
                photo,
                into,
                meta,
                sets,
                ..
            } => {
                let key = match into {
                    Some(k) => Some(PhotoKey(k.0)),
                    None => cat
                        .photo_by_remote_id(review.account, photo)?
                        .map(|p| p.key),
                };
                review.downloads.push(DownloadItem {
                    photo: photo.clone(),
                    key,
                    title: meta.title.clone(),
                    sets: sets
                        .iter()
                        .map(|s| {
                            review
                                .remote
                                .sets
                                .get(s)
                                .map(|s| s.title.clone())
                                .unwrap_or_else(|| s.to_string())
                        })
                        .collect(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Records the selections in the catalog.
pub fn apply(cat: &Catalog, selections: &[Selection]) -> Result<()> {
    for s in selections {
        match s {
            Selection::Identify { key, path } => {
                let facts = crate::media::FileFacts::scan(path)
                    .map_err(|e| AppError::Other(format!("reading {}: {e}", path.display())))?;
                cat.set_local_file(*key, path, &facts)?;
            }
            Selection::Ignore { key } => cat.ignore(*key)?,
            Selection::Skip { key } => cat.set_xattr(*key, Xattr::Skip, b"1")?,
            Selection::Set { key, attr, value } => cat.set_xattr(*key, *attr, value.as_bytes())?,
        }
    }
    Ok(())
}

/// The plan again, from the catalog as the selections left it (no network:
/// Flickr's state is the one fetched by [`prepare`]). Photos still ambiguous
/// are not downloaded, as in `sync::plan_sync`.
pub fn replan(
    cat: &Catalog,
    review: &mut AccountReview,
    still_ambiguous: &BTreeSet<PhotoId>,
) -> Result<()> {
    let (local, base) = load_snapshots(cat, review.account, &review.defaults)?;
    let mut plan =
        make_plan(&local, &base, &review.remote, &review.plan_opts).map_err(|source| {
            ReviewError::Plan {
                account: review.name.clone(),
                source: Box::new(source),
            }
        })?;
    if let Some(free) = &review.free_account {
        free.apply(&mut plan);
    }
    plan.hold_back_ambiguous(still_ambiguous);
    review.plan = plan;
    list_items(cat, review, &local)?;
    Ok(())
}

/// Item numbers (1-based) in `args`: `3`, `1 4 7`, `2-5`, `1,3`.
pub fn parse_numbers(args: &str, len: usize) -> std::result::Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for word in args
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        let (a, b) = match word.split_once('-') {
            Some((a, b)) => (a, b),
            None => (word, word),
        };
        let num = |s: &str| -> std::result::Result<usize, String> {
            let n: usize = s
                .trim()
                .parse()
                .map_err(|_| format!("{word:?} is not an item number"))?;
            if n == 0 || n > len {
                return Err(format!("there is no item {n} (the items are 1 to {len})"));
            }
            Ok(n)
        };
        let (a, b) = (num(a)?, num(b)?);
        if a > b {
            return Err(format!("{word:?}: the range goes backwards"));
        }
        out.extend(a..=b);
    }
    if out.is_empty() {
        return Err("name the items by number, e.g. `s 3` or `s 2-4`".into());
    }
    Ok(out)
}

/// What a list prompt asked for.
enum Next {
    Continue,
    Quit,
}

const UPLOAD_HELP: &str = "  s N  skip item N (never uploaded; several: `s 1 3`, `s 2-5`)\n  u N  undo a skip\n  e N  edit item N's title, description, tags, privacy, resize\n  a or Enter  accept the list and continue\n  q  quit without changing anything";
const DOWNLOAD_HELP: &str = "  s N  skip item N for this sync (the next sync lists it again)\n  u N  undo a skip\n  a or Enter  accept the list and continue\n  q  quit without changing anything";
const IDENTIFY_HELP: &str = "  p N M  photo N is its candidate file M\n  i N  ignore photo N (never downloaded)\n  u N  undo the choice for photo N\n  a or Enter  continue (undecided photos are listed again at the next sync)\n  q  quit without changing anything";

/// Splits `s 3` into (`s`, `3`).
fn command(line: &str) -> (&str, &str) {
    let line = line.trim();
    let end = line
        .find(|c: char| c.is_whitespace() || c.is_ascii_digit())
        .unwrap_or(line.len());
    (&line[..end], line[end..].trim())
}

/// The choices made for one account, before they are recorded.
#[derive(Default)]
struct Choices {
    /// Ambiguous item index → `Some(candidate index)` or `None` (ignore).
    identify: BTreeMap<usize, Option<usize>>,
    skip_uploads: BTreeSet<usize>,
    /// Upload index → (attribute, value) in the order edited.
    edits: BTreeMap<usize, Vec<(Xattr, String)>>,
    skip_downloads: BTreeSet<usize>,
}

/// What a step's own command leaves on screen before the next prompt.
enum Then {
    /// The list again, with the choices as they now stand.
    List,
    /// Only the prompt, so that a message (help, an error) stays in view.
    Prompt,
    Quit,
}

/// One interactive step (identify, uploads, downloads): a numbered list and
/// the commands that act on it. [`run_step`] does what all steps share.
trait Step {
    const PROMPT: &'static str;
    const HELP: &'static str;
    /// Prints the list, marking the choices made so far.
    fn show(&self, con: &mut Console) -> Result<()>;
    /// Handles one of the step's own commands; `None` for one it does not know.
    fn command(&mut self, con: &mut Console, cmd: &str, args: &str) -> Result<Option<Then>>;
}

/// Shows the list, asks, and handles what every step answers the same way:
/// Enter or `a` continues, `q` (or the end of the input) quits, `?` helps,
/// an unknown command is named; the rest goes to the step.
fn run_step<S: Step>(con: &mut Console, step: &mut S) -> Result<Next> {
    let mut show = true;
    loop {
        if show {
            step.show(con)?;
        }
        let Some(line) = con.ask(S::PROMPT)? else {
            return Ok(Next::Quit);
        };
        let (cmd, args) = command(&line);
        show = match cmd {
            "" | "a" => return Ok(Next::Continue),
            "q" => return Ok(Next::Quit),
            "?" | "h" | "help" => {
                con.say(S::HELP)?;
                false
            }
            _ => match step.command(con, cmd, args)? {
                Some(Then::List) => true,
                Some(Then::Prompt) => false,
                Some(Then::Quit) => return Ok(Next::Quit),
                None => {
                    con.say(&format!("  {cmd:?} is not a command here; `?` lists them"))?;
                    false
                }
            },
        };
    }
}

/// Item numbers in `args` (see [`parse_numbers`]); a mistake is said, and
/// gives `None`.
fn numbers(con: &mut Console, args: &str, len: usize) -> Result<Option<Vec<usize>>> {
    match parse_numbers(args, len) {
        Ok(ns) => Ok(Some(ns)),
        Err(e) => {
            con.say(&format!("  {e}"))?;
            Ok(None)
        }
    }
}

fn step2(con: &mut Console, r: &AccountReview, ch: &mut Choices) -> Result<Next> {
    con.say(&format!("\nStep 2 of 5: identify ({})", r.name))?;
    if r.identified.is_empty() && r.ambiguous.is_empty() {
        con.say("  No online photo was matched to a local file.")?;
        return Ok(Next::Continue);
    }
    for i in &r.identified {
        let how = match i.how {
            MatchedHow::Name => "by name",
            MatchedHow::TakenAt => "by EXIF time",
        };
        con.say(&format!(
            "  found   photo {} = {} ({how})",
            i.photo,
            i.path.display()
        ))?;
    }
    if r.ambiguous.is_empty() {
        return Ok(Next::Continue);
    }
    run_step(con, &mut IdentifyStep { r, ch })
}

/// Step 2's list: photos with several candidate files.
struct IdentifyStep<'a> {
    r: &'a AccountReview,
    ch: &'a mut Choices,
}

impl Step for IdentifyStep<'_> {
    const PROMPT: &'static str = "identify [p N M, i N, u N, a/Enter, q, ?]> ";
    const HELP: &'static str = IDENTIFY_HELP;

    fn show(&self, con: &mut Console) -> Result<()> {
        con.say(
            "  Ambiguous (several local files may be the photo; not downloaded until settled):",
        )?;
        for (n, a) in self.r.ambiguous.iter().enumerate() {
            let choice = match self.ch.identify.get(&n) {
                Some(Some(c)) => format!(" [= {}]", c + 1),
                Some(None) => " [ignore]".to_string(),
                None => String::new(),
            };
            con.say(&format!(
                "  {:>3}. photo {} {:?}{choice}",
                n + 1,
                a.photo,
                a.title
            ))?;
            for (m, c) in a.candidates.iter().enumerate() {
                con.say(&format!("         {}) {}", m + 1, c.display()))?;
            }
        }
        con.say("  See one: flickrfs thumbnail PHOTO_ID; settle one later: flickrfs identify PHOTO_ID FILE")
    }

    fn command(&mut self, con: &mut Console, cmd: &str, args: &str) -> Result<Option<Then>> {
        let (r, ch) = (self.r, &mut *self.ch);
        let len = r.ambiguous.len();
        match cmd {
            "p" => {
                let nums: Vec<&str> = args.split_whitespace().collect();
                let parsed = match nums.as_slice() {
                    [n, m] => parse_numbers(n, len).and_then(|n| {
                        let n = n[0];
                        let count = r.ambiguous[n - 1].candidates.len();
                        parse_numbers(m, count).map(|m| (n, m[0]))
                    }),
                    _ => Err("say which photo and which file: `p N M`".into()),
                };
                match parsed {
                    Ok((n, m)) => {
                        if r.ambiguous[n - 1].key.is_none() {
                            con.say("  That photo is not in the catalog yet; it cannot be settled here.")?;
                        } else {
                            ch.identify.insert(n - 1, Some(m - 1));
                        }
                        Ok(Some(Then::List))
                    }
                    Err(e) => {
                        con.say(&format!("  {e}"))?;
                        Ok(Some(Then::Prompt))
                    }
                }
            }
            "i" | "u" => {
                let Some(ns) = numbers(con, args, len)? else {
                    return Ok(Some(Then::Prompt));
                };
                for n in ns {
                    if cmd == "u" {
                        ch.identify.remove(&(n - 1));
                    } else if r.ambiguous[n - 1].key.is_some() {
                        ch.identify.insert(n - 1, None);
                    }
                }
                Ok(Some(Then::List))
            }
            _ => Ok(None),
        }
    }
}

fn show_upload(n: usize, u: &UploadItem, skipped: bool) -> String {
    let sets = if u.sets.is_empty() {
        "-".to_string()
    } else {
        u.sets.join(", ")
    };
    let tags = if u.tags.is_empty() {
        "-".to_string()
    } else {
        u.tags.join(" ")
    };
    format!(
        "  {:>3}.{} {}\n       title {:?}, tags {tags}, {}, resize {}, sets {sets}{}",
        n + 1,
        if skipped { " [skip]" } else { "" },
        u.file.display(),
        u.title,
        u.privacy.as_str(),
        u.resize,
        if u.description.is_empty() {
            String::new()
        } else {
            format!("\n       description {:?}", u.description)
        }
    )
}

/// Asks for each field of an upload; Enter keeps the value shown.
fn edit_upload(con: &mut Console, u: &mut UploadItem) -> Result<Option<Vec<(Xattr, String)>>> {
    con.say("  Enter keeps a value; `-` empties the description or the tags.")?;
    let mut out = Vec::new();
    let fields = [
        (Xattr::Title, u.title.clone()),
        (Xattr::Description, u.description.clone()),
        (Xattr::Tags, u.tags.join(" ")),
        (Xattr::Privacy, u.privacy.as_str().to_string()),
        (Xattr::Resize, u.resize.to_string()),
    ];
    for (attr, current) in fields {
        let label = attr.name().trim_start_matches("user.flickr.");
        loop {
            let Some(v) = con.ask(&format!("  {label} [{current}]: "))? else {
                return Ok(None);
            };
            if v.is_empty() {
                break;
            }
            let checked: std::result::Result<String, String> = match attr {
                Xattr::Title => {
                    if v.chars().any(char::is_control) {
                        Err("a title is text without control characters".into())
                    } else {
                        u.title = v.clone();
                        Ok(v)
                    }
                }
                Xattr::Description => {
                    let v = if v == "-" { String::new() } else { v };
                    u.description = v.clone();
                    Ok(v)
                }
                Xattr::Tags => {
                    let v = if v == "-" { String::new() } else { v };
                    u.tags = parse_tags(&v);
                    Ok(v)
                }
                Xattr::Privacy => v.parse::<Privacy>().map(|p| {
                    u.privacy = p;
                    p.as_str().to_string()
                }),
                Xattr::Resize => Resize::parse(&v).map(|r| {
                    u.resize = r;
                    r.to_string()
                }),
                _ => Err("not editable here".into()),
            };
            match checked {
                Ok(value) => {
                    out.push((attr, value));
                    break;
                }
                Err(e) => con.say(&format!("  {e}"))?,
            }
        }
    }
    Ok(Some(out))
}

fn step3(con: &mut Console, r: &mut AccountReview, ch: &mut Choices) -> Result<Next> {
    con.say(&format!("\nStep 3 of 5: uploads ({})", r.name))?;
    if r.uploads.is_empty() {
        con.say("  Nothing to upload.")?;
        return Ok(Next::Continue);
    }
    run_step(con, &mut UploadStep { r, ch })
}

/// Step 3's list: the files to upload, each with what it will be online.
struct UploadStep<'a> {
    r: &'a mut AccountReview,
    ch: &'a mut Choices,
}

impl Step for UploadStep<'_> {
    const PROMPT: &'static str = "uploads [s N, u N, e N, a/Enter, q, ?]> ";
    const HELP: &'static str = UPLOAD_HELP;

    fn show(&self, con: &mut Console) -> Result<()> {
        for (n, u) in self.r.uploads.iter().enumerate() {
            con.say(&show_upload(n, u, self.ch.skip_uploads.contains(&n)))?;
        }
        Ok(())
    }

    fn command(&mut self, con: &mut Console, cmd: &str, args: &str) -> Result<Option<Then>> {
        let (r, ch) = (&mut *self.r, &mut *self.ch);
        let len = r.uploads.len();
        match cmd {
            "s" | "u" => {
                let Some(ns) = numbers(con, args, len)? else {
                    return Ok(Some(Then::Prompt));
                };
                for n in ns {
                    if cmd == "s" {
                        ch.skip_uploads.insert(n - 1);
                    } else {
                        ch.skip_uploads.remove(&(n - 1));
                    }
                }
                Ok(Some(Then::List))
            }
            "e" => {
                let Some(ns) = numbers(con, args, len)? else {
                    return Ok(Some(Then::Prompt));
                };
                let [n] = ns[..] else {
                    con.say("  Edit one item at a time: `e N`")?;
                    return Ok(Some(Then::List));
                };
                let n = n - 1;
                let mut item = r.uploads[n].clone();
                match edit_upload(con, &mut item)? {
                    None => Ok(Some(Then::Quit)),
                    Some(edits) => {
                        r.uploads[n] = item;
                        ch.edits.entry(n).or_default().extend(edits);
                        Ok(Some(Then::List))
                    }
                }
            }
            _ => Ok(None),
        }
    }
}

fn step4(con: &mut Console, r: &AccountReview, ch: &mut Choices) -> Result<Next> {
    con.say(&format!("\nStep 4 of 5: downloads ({})", r.name))?;
    if r.downloads.is_empty() {
        con.say("  Nothing to download.")?;
        return Ok(Next::Continue);
    }
    run_step(con, &mut DownloadStep { r, ch })
}

/// Step 4's list: the photos to download.
struct DownloadStep<'a> {
    r: &'a AccountReview,
    ch: &'a mut Choices,
}

impl Step for DownloadStep<'_> {
    const PROMPT: &'static str = "downloads [s N, u N, a/Enter, q, ?]> ";
    const HELP: &'static str = DOWNLOAD_HELP;

    fn show(&self, con: &mut Console) -> Result<()> {
        for (n, d) in self.r.downloads.iter().enumerate() {
            con.say(&format!(
                "  {:>3}.{} photo {} {:?}{}",
                n + 1,
                if self.ch.skip_downloads.contains(&n) {
                    " [skip]"
                } else {
                    ""
                },
                d.photo,
                d.title,
                if d.sets.is_empty() {
                    String::new()
                } else {
                    format!(", sets {}", d.sets.join(", "))
                }
            ))?;
        }
        Ok(())
    }

    fn command(&mut self, con: &mut Console, cmd: &str, args: &str) -> Result<Option<Then>> {
        let (r, ch) = (self.r, &mut *self.ch);
        if !matches!(cmd, "s" | "u") {
            return Ok(None);
        }
        let Some(ns) = numbers(con, args, r.downloads.len())? else {
            return Ok(Some(Then::Prompt));
        };
        for n in ns {
            if cmd == "u" {
                ch.skip_downloads.remove(&(n - 1));
            } else {
                ch.skip_downloads.insert(n - 1);
            }
        }
        Ok(Some(Then::List))
    }
}

/// The selections one account's choices amount to.
fn selections(r: &AccountReview, ch: &Choices) -> Vec<Selection> {
    let mut out = Vec::new();
    for (n, choice) in &ch.identify {
        let a = &r.ambiguous[*n];
        let Some(key) = a.key else { continue };
        match choice {
            Some(m) => out.push(Selection::Identify {
                key,
                path: a.candidates[*m].clone(),
            }),
            None => out.push(Selection::Ignore { key }),
        }
    }
    for (n, edits) in &ch.edits {
        if ch.skip_uploads.contains(n) {
            continue;
        }
        for (attr, value) in edits {
            out.push(Selection::Set {
                key: r.uploads[*n].key,
                attr: *attr,
                value: value.clone(),
            });
        }
    }
    for n in &ch.skip_uploads {
        out.push(Selection::Skip {
            key: r.uploads[*n].key,
        });
    }
    out
}

/// The downloads unticked in step 4: skipped by this sync only, never
/// recorded (unlike an ignore in the identify step).
fn skipped_downloads(r: &AccountReview, ch: &Choices) -> BTreeSet<PhotoId> {
    ch.skip_downloads
        .iter()
        .map(|n| r.downloads[*n].photo.clone())
        .collect()
}

fn duration_text(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// Walks steps 2 to 4 for every account, records the choices, recomputes
/// the plans and asks for confirmation (step 5). `reviews` come from
/// [`prepare`]; `calls_per_hour` is the API budget for the duration estimate.
pub fn walk(
    con: &mut Console,
    cat: &Catalog,
    reviews: &mut [AccountReview],
    calls_per_hour: u32,
) -> Result<Outcome> {
    // (review, selections, photos still ambiguous, downloads skipped)
    type Chosen = (usize, Vec<Selection>, BTreeSet<PhotoId>, BTreeSet<PhotoId>);
    let mut all: Vec<Chosen> = Vec::new();
    for (i, r) in reviews.iter_mut().enumerate() {
        let mut ch = Choices::default();
        for step in 2..=4 {
            let next = match step {
                2 => step2(con, r, &mut ch)?,
                3 => step3(con, r, &mut ch)?,
                _ => step4(con, r, &mut ch)?,
            };
            if let Next::Quit = next {
                con.say("Quit: no choice was saved, nothing was sent to Flickr and no file was written.")?;
                return Ok(Outcome::Quit);
            }
        }
        let still: BTreeSet<PhotoId> = r
            .ambiguous
            .iter()
            .enumerate()
            .filter(|(n, _)| !ch.identify.contains_key(n))
            .map(|(_, a)| a.photo.clone())
            .collect();
        all.push((i, selections(r, &ch), still, skipped_downloads(r, &ch)));
    }
    let mut changed = false;
    for (i, sel, still, skipped) in &all {
        if !sel.is_empty() {
            apply(cat, sel)?;
            changed = true;
        }
        replan(cat, &mut reviews[*i], still)?;
        let r = &mut reviews[*i];
        r.plan
            .hold_back_downloads(skipped, crate::sync::plan::SkipReason::SkippedThisSync);
        r.skipped_downloads = skipped.clone();
    }
    con.say("\nStep 5 of 5: summary")?;
    let mut anything = false;
    for r in reviews.iter() {
        let s = &r.plan.summary;
        anything |= !r.plan.is_empty();
        con.say(&format!(
            "  {}: {} uploads, {} downloads, {} set reassignments, {} set creations, {} edits; {} API calls, about {}",
            r.name,
            s.uploads,
            s.downloads,
            s.set_reassignments,
            s.set_creations,
            s.edits + s.set_renames,
            s.api_calls,
            duration_text(r.plan.estimated_duration(calls_per_hour))
        ))?;
        if let Some(n) = s.free_account_photos {
            use crate::sync::plan::thousands;
            let mut line = format!(
                "    warning: free Flickr account: {} of 1,000 photos",
                thousands(n)
            );
            if s.originals_not_served > 0 {
                line.push_str(&format!(
                    "; {} originals over {} px it is not served are listed, not downloaded",
                    s.originals_not_served,
                    thousands(u64::from(s.max_display_px.unwrap_or(1024)))
                ));
            }
            con.say(&line)?;
        }
        if s.pool_changes > 0 {
            con.say(&format!(
                "    {} pool changes, {} of them leaving a pool on Flickr (the photo stays on Flickr)",
                s.pool_changes, s.pool_removals_on_flickr
            ))?;
        }
        for c in &r.plan.conflicts {
            con.say(&format!("    conflict: {c}"))?;
        }
    }
    if changed {
        con.say(
            "  Your selections are saved: `flickrfs sync --yes` and the control file honour them.",
        )?;
    }
    if !anything {
        con.say("Nothing to do.")?;
        return Ok(Outcome::NothingToDo);
    }
    loop {
        let Some(answer) = con.ask("Execute? [y/N] ")? else {
            return Ok(Outcome::Saved);
        };
        match answer.as_str() {
            "y" | "Y" | "yes" => return Ok(Outcome::Execute),
            "" | "n" | "N" | "no" | "q" => {
                con.say("Nothing executed.")?;
                return Ok(Outcome::Saved);
            }
            other => con.say(&format!("  {other:?}: answer y or n"))?,
        }
    }
}

/// The whole review: step 1 from the request, then [`prepare`] each account
/// and [`walk`] the steps. On [`Outcome::Execute`] the caller runs
/// `app::run_syncs` with `dry_run` off.
pub async fn review(
    session: &Session,
    targets: &[Target],
    run: &mut SyncRun,
    con: &mut Console<'_>,
) -> Result<Outcome> {
    let names: Vec<&str> = targets.iter().map(|t| t.stored.name.as_str()).collect();
    con.say(&format!(
        "Step 1 of 5: accounts {}; direction {}",
        names.join(", "),
        run.direction
    ))?;
    let mut reviews = Vec::new();
    for t in targets {
        reviews.push(prepare(session, t, run).await?);
    }
    let cat = session.catalog()?;
    // The set and pool list, as the fetch just filled it in.
    for t in targets {
        for line in crate::app::set_list(&cat, &t.stored.name, t.account.id, &t.prefs)? {
            con.say(&format!("  {line}"))?;
        }
    }
    con.say(&format!(
        "  Change which take part with `flickrfs sets {} include|exclude NAME…`.",
        names.first().copied().unwrap_or("ACCOUNT")
    ))?;
    let per_hour = session.client_options().rate_limit.calls_per_hour;
    let outcome = walk(con, &cat, &mut reviews, per_hour)?;
    run.skip_downloads = reviews
        .iter()
        .flat_map(|r| r.skipped_downloads.iter().cloned())
        .collect();
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_ranges_and_errors() {
        assert_eq!(parse_numbers("3", 5), Ok(vec![3]));
        assert_eq!(parse_numbers("1 4,5", 5), Ok(vec![1, 4, 5]));
        assert_eq!(parse_numbers("2-4", 5), Ok(vec![2, 3, 4]));
        assert!(parse_numbers("", 5).is_err());
        assert!(parse_numbers("0", 5).is_err());
        assert!(parse_numbers("6", 5).is_err());
        assert!(parse_numbers("x", 5).is_err());
        assert!(parse_numbers("4-2", 5).is_err());
    }

    #[test]
    fn commands_split_with_or_without_a_space() {
        assert_eq!(command("s 3"), ("s", "3"));
        assert_eq!(command("s3"), ("s", "3"));
        assert_eq!(command("p 1 2"), ("p", "1 2"));
        assert_eq!(command(""), ("", ""));
        assert_eq!(command("  q "), ("q", ""));
        assert_eq!(command("help"), ("help", ""));
    }
}
