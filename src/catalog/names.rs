//! Entry names: turning photo titles into safe file names, validating names
//! that come from the kernel (`OsStr`), and the collision rule (` (PHOTOID)` or
//! ` (N)` before the extension).
//!
//! A name is never identity: it is stored in the membership row and
//! changes when the user renames, or when the title changes on Flickr
//! (`Catalog::take_flickr_meta`).

use std::ffi::OsStr;

use serde::{Deserialize, Serialize};

use super::error::{CatalogError, Result};

/// The longest file name the kernel accepts, in bytes.
pub const NAME_MAX: usize = 255;

/// A validated file name of one entry (or folder): valid UTF-8, 1..=255
/// bytes, not `.`/`..`, no `/`, NUL, control or bidi-override characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryName(String);

impl EntryName {
    /// Validates a name given by a user or the kernel.
    pub fn new(name: &str) -> Result<EntryName> {
        let invalid = |reason: &str| CatalogError::InvalidName {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        if name.is_empty() {
            return Err(invalid("empty"));
        }
        if name == "." || name == ".." {
            return Err(invalid("`.` and `..` are not entry names"));
        }
        if name.len() > NAME_MAX {
            return Err(CatalogError::NameTooLong {
                name: name.to_string(),
                len: name.len(),
            });
        }
        if name.contains('/') {
            return Err(invalid("contains `/`"));
        }
        if name.contains('\0') {
            return Err(invalid("contains NUL"));
        }
        if name.chars().any(char::is_control) {
            return Err(invalid("contains control characters"));
        }
        if name.chars().any(is_bidi_control) {
            return Err(invalid("contains bidirectional override characters"));
        }
        Ok(EntryName(name.to_string()))
    }

    /// Validates a name from FUSE; non-UTF-8 names are refused with
    /// `InvalidName` (EINVAL) saying so.
    pub fn from_os(name: &OsStr) -> Result<EntryName> {
        match name.to_str() {
            Some(s) => EntryName::new(s),
            None => Err(CatalogError::InvalidName {
                name: name.to_string_lossy().into_owned(),
                reason:
                    "not valid UTF-8 (Flickr titles are Unicode; rename the file with a UTF-8 name)"
                        .to_string(),
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the extension (the whole name when it has none).
    pub fn stem(&self) -> &str {
        match self.ext_dot() {
            Some(i) => &self.0[..i],
            None => &self.0,
        }
    }

    /// The extension without the dot, if any: 1 to 10 ASCII letters or
    /// digits after the last dot, which is not the first character.
    pub fn extension(&self) -> Option<&str> {
        self.ext_dot().map(|i| &self.0[i + 1..])
    }

    fn ext_dot(&self) -> Option<usize> {
        let i = self.0.rfind('.')?;
        let ext = &self.0[i + 1..];
        (i > 0
            && !ext.is_empty()
            && ext.len() <= 10
            && ext.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(i)
    }

    /// Wraps a string already known to be valid (rows read from the catalog).
    pub(crate) fn from_trusted(s: String) -> EntryName {
        EntryName(s)
    }
}

impl std::fmt::Display for EntryName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<OsStr> for EntryName {
    fn as_ref(&self) -> &OsStr {
        OsStr::new(&self.0)
    }
}

/// Unicode characters that reorder displayed text (used to disguise names,
/// e.g. `gpj.exe` shown as `exe.jpg`).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Makes a title safe as a file-name stem: drops NUL, control and
/// bidi-override characters, replaces `/` with `_`, trims whitespace and
/// leading dots (no hidden files, no `.`/`..`). Returns `None` when nothing
/// usable is left. The result is not length-limited.
pub fn sanitize_title(title: &str) -> Option<String> {
    let cleaned: String = title
        .chars()
        .filter(|&c| !c.is_control() && !is_bidi_control(c))
        .map(|c| if c == '/' { '_' } else { c })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

/// The longest prefix of `s` that fits in `max` bytes, cut at a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A usable extension: 1 to 10 ASCII letters or digits.
fn clean_ext(ext: Option<&str>) -> Option<String> {
    let ext = ext?.trim().trim_start_matches('.');
    (!ext.is_empty() && ext.len() <= 10 && ext.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| ext.to_string())
}

/// The name for a photo: its sanitised title (or `fallback`, e.g. the photo
/// id, or `untitled`) plus `.ext`, cut to 255 bytes keeping the extension. A
/// title that already ends in `.ext` (any case) gets no second one.
pub fn name_for_title(title: &str, ext: Option<&str>, fallback: &str) -> EntryName {
    let stem = sanitize_title(title)
        .or_else(|| sanitize_title(fallback))
        .unwrap_or_else(|| "untitled".to_string());
    let ext = clean_ext(ext);
    let stem = match &ext {
        Some(e) => {
            let idx = stem.len().saturating_sub(e.len() + 1);
            if idx > 0
                && stem.is_char_boundary(idx)
                && stem[idx..].starts_with('.')
                && stem[idx + 1..].eq_ignore_ascii_case(e)
            {
                stem[..idx].trim_end().to_string()
            } else {
                stem
            }
        }
        None => stem,
    };
    join(&stem, "", ext.as_deref())
}

/// `stem + suffix + .ext`, with the stem cut so the whole fits in 255 bytes.
fn join(stem: &str, suffix: &str, ext: Option<&str>) -> EntryName {
    let ext_len = ext.map_or(0, |e| e.len() + 1);
    let room = NAME_MAX.saturating_sub(ext_len + suffix.len());
    let mut stem = cut(stem, room).trim_end().to_string();
    if stem.is_empty() || stem == "." || stem == ".." {
        stem = "untitled".to_string();
    }
    let mut name = stem;
    name.push_str(suffix);
    if let Some(e) = ext {
        name.push('.');
        name.push_str(e);
    }
    EntryName(name)
}

/// `base` with ` (tag)` inserted before the extension, still at most 255
/// bytes (the stem is shortened when needed).
pub fn with_suffix(base: &EntryName, tag: &str) -> EntryName {
    let tag: String = tag
        .chars()
        .filter(|&c| !c.is_control() && !is_bidi_control(c) && c != '/')
        .collect();
    join(base.stem(), &format!(" ({tag})"), base.extension())
}

/// The first name `free` accepts among `base`, then `base (preferred)`
/// (when given), then `base (2)`, `base (3)`...: how every unique name in
/// the catalog is chosen.
pub(crate) fn first_free<E>(
    base: EntryName,
    preferred: Option<&str>,
    mut free: impl FnMut(&EntryName) -> Result<bool, E>,
) -> Result<EntryName, E> {
    if free(&base)? {
        return Ok(base);
    }
    if let Some(tag) = preferred {
        let n = with_suffix(&base, tag);
        if free(&n)? {
            return Ok(n);
        }
    }
    for i in 2u64.. {
        let n = with_suffix(&base, &i.to_string());
        if free(&n)? {
            return Ok(n);
        }
    }
    unreachable!("an unbounded counter always finds a free name")
}

/// Whether `name` is `base` or one of the unique forms the catalog makes
/// of it: ` (ID)` with the photo's Flickr id, or ` (N)`, before the
/// extension. A photo whose title did not change keeps such a name.
pub fn is_form_of(name: &EntryName, base: &EntryName, id: Option<&str>) -> bool {
    if name == base {
        return true;
    }
    if name.extension() != base.extension() {
        return false;
    }
    let Some(tag) = name
        .stem()
        .strip_prefix(base.stem())
        .and_then(|r| r.strip_prefix(" ("))
        .and_then(|r| r.strip_suffix(')'))
    else {
        return false;
    };
    Some(tag) == id
        || (!tag.is_empty() && !tag.starts_with('0') && tag.bytes().all(|b| b.is_ascii_digit()))
}

/// The title a name stands for: its stem, trimmed (rename within a folder =
/// new title). Never empty.
pub fn title_from_name(name: &EntryName) -> String {
    let t = name.stem().trim();
    if t.is_empty() {
        name.as_str().to_string()
    } else {
        t.to_string()
    }
}

/// The names a backing file the mount writes for the entry `name` may
/// take in its folder, first free one wins: `name`, then `stem (1).ext`,
/// `stem (2).ext`... each at most `max` bytes (the stem shortened on a
/// character boundary).
pub fn file_names_for(name: &str, max: usize) -> impl Iterator<Item = String> + '_ {
    let (stem, ext) = split_file_ext(name);
    (0u32..10_000).map(move |n| {
        if n == 0 {
            return name.to_owned();
        }
        let suffix = format!(" ({n}){ext}");
        let mut s = stem.to_owned();
        while s.len() + suffix.len() > max {
            s.pop();
        }
        format!("{s}{suffix}")
    })
}

/// Whether `file_name` is one of [`file_names_for`]`(name)`: a backing file
/// already named after its entry.
pub fn is_file_name_for(file_name: &str, name: &str) -> bool {
    if file_name == name {
        return true;
    }
    let (stem, ext) = split_file_ext(name);
    let Some(rest) = file_name.strip_suffix(ext) else {
        return false;
    };
    let Some((s, n)) = rest.strip_suffix(')').and_then(|r| r.rsplit_once(" (")) else {
        return false;
    };
    !n.is_empty()
        && n.bytes().all(|b| b.is_ascii_digit())
        && !n.starts_with('0')
        && stem.starts_with(s)
}

/// `a.jpg` → (`a`, `.jpg`); a leading dot is not an extension.
fn split_file_ext(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backing_file_names_and_their_forms() {
        let names: Vec<String> = file_names_for("mine.jpg", 255).take(3).collect();
        assert_eq!(names, ["mine.jpg", "mine (1).jpg", "mine (2).jpg"]);
        for n in &names {
            assert!(is_file_name_for(n, "mine.jpg"), "{n}");
        }
        for other in [
            ".mine.jpg.tmp",
            "mine (x).jpg",
            "mine (01).jpg",
            "mine.png",
            "other.jpg",
            "mine ().jpg",
        ] {
            assert!(!is_file_name_for(other, "mine.jpg"), "{other}");
        }
        assert!(is_file_name_for("a (2) (1).jpg", "a (2).jpg"));
        assert!(is_file_name_for("noext (3)", "noext"));
        let long = format!("{}.jpg", "x".repeat(251));
        assert!(file_names_for(&long, 255).take(20).all(|n| n.len() <= 255));
    }
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn path_traversal_titles_become_plain_names() {
        let n = name_for_title("../../etc/passwd", Some("jpg"), "123");
        assert_eq!(n.as_str(), "_.._etc_passwd.jpg");
        assert!(EntryName::new(n.as_str()).is_ok());
        assert_eq!(name_for_title("/", Some("jpg"), "123").as_str(), "_.jpg");
        assert_eq!(name_for_title("..", None, "").as_str(), "untitled");
        assert_eq!(name_for_title(".", Some("png"), "42").as_str(), "42.png");
    }

    #[test]
    fn empty_titles_fall_back_to_the_id_or_untitled() {
        assert_eq!(name_for_title("", Some("jpg"), "5301").as_str(), "5301.jpg");
        assert_eq!(
            name_for_title("   ", Some("jpg"), "").as_str(),
            "untitled.jpg"
        );
        assert_eq!(
            name_for_title("\u{202e}\u{0007}", None, "").as_str(),
            "untitled"
        );
    }

    #[test]
    fn control_and_bidi_characters_are_removed() {
        let n = name_for_title("evil\u{202e}gpj.exe\0\n\t", Some("jpg"), "1");
        assert_eq!(n.as_str(), "evilgpj.exe.jpg");
        assert!(EntryName::new("a\u{202e}b.jpg").is_err());
        assert!(EntryName::new("a\nb.jpg").is_err());
    }

    #[test]
    fn huge_titles_are_cut_to_255_bytes_keeping_the_extension() {
        let t = "é".repeat(10_000);
        let n = name_for_title(&t, Some("jpeg"), "1");
        assert!(n.as_str().len() <= NAME_MAX);
        assert!(n.as_str().ends_with("é.jpeg"));
        assert!(EntryName::new(n.as_str()).is_ok());
        let s = with_suffix(&n, "12345678901");
        assert!(s.as_str().len() <= NAME_MAX);
        assert!(s.as_str().ends_with(" (12345678901).jpeg"), "{s}");
    }

    #[test]
    fn titles_ending_in_the_extension_get_no_second_one() {
        assert_eq!(
            name_for_title("IMG_0042.JPG", Some("jpg"), "1").as_str(),
            "IMG_0042.jpg"
        );
        assert_eq!(
            name_for_title("Sunset", Some("jpg"), "1").as_str(),
            "Sunset.jpg"
        );
        assert_eq!(name_for_title("  Sunset  ", None, "1").as_str(), "Sunset");
    }

    #[test]
    fn unique_forms_of_a_name_are_recognised() {
        let base = EntryName::new("Sunset.jpg").unwrap();
        let form = |s: &str, id| is_form_of(&EntryName::new(s).unwrap(), &base, id);
        assert!(form("Sunset.jpg", None));
        assert!(form("Sunset (5301).jpg", Some("5301")));
        assert!(form("Sunset (2).jpg", None));
        assert!(!form("Sunset (x).jpg", Some("5301")));
        assert!(!form("Sunset (02).jpg", None));
        assert!(!form("Sunset.png", None));
        assert!(!form("Sunrise.jpg", None));
        assert!(!form("Sunset at sea.jpg", None));
    }

    #[test]
    fn suffixes_go_before_the_extension() {
        let n = EntryName::new("Sunset.jpg").unwrap();
        assert_eq!(with_suffix(&n, "5301").as_str(), "Sunset (5301).jpg");
        assert_eq!(
            with_suffix(&EntryName::new("notes").unwrap(), "2").as_str(),
            "notes (2)"
        );
        assert_eq!(
            with_suffix(&EntryName::new(".hidden").unwrap(), "2").as_str(),
            ".hidden (2)"
        );
    }

    #[test]
    fn kernel_names_are_validated() {
        assert!(EntryName::from_os(OsStr::from_bytes(b"caf\xe9.jpg"))
            .unwrap_err()
            .to_string()
            .contains("UTF-8"));
        assert_eq!(
            EntryName::from_os(OsStr::from_bytes(b"caf\xe9.jpg"))
                .unwrap_err()
                .errno(),
            libc::EINVAL
        );
        assert_eq!(
            EntryName::new(&"a".repeat(256)).unwrap_err().errno(),
            libc::ENAMETOOLONG
        );
        assert!(EntryName::new(&"a".repeat(255)).is_ok());
        for bad in ["", ".", "..", "a/b", "a\0b"] {
            assert_eq!(
                EntryName::new(bad).unwrap_err().errno(),
                libc::EINVAL,
                "{bad:?}"
            );
        }
        assert!(EntryName::new(" spaced .jpg").is_ok());
    }

    #[test]
    fn stems_and_extensions() {
        let n = EntryName::new("My.Holiday.JPG").unwrap();
        assert_eq!((n.stem(), n.extension()), ("My.Holiday", Some("JPG")));
        let n = EntryName::new(".bashrc").unwrap();
        assert_eq!((n.stem(), n.extension()), (".bashrc", None));
        let n = EntryName::new("v1. final draft").unwrap();
        assert_eq!(n.extension(), None);
        assert_eq!(
            title_from_name(&EntryName::new("Sunset.jpg").unwrap()),
            "Sunset"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_title_gives_a_valid_name(title in ".*", ext in proptest::option::of("[a-zA-Z0-9]{1,6}")) {
            let n = name_for_title(&title, ext.as_deref(), "1");
            proptest::prop_assert!(EntryName::new(n.as_str()).is_ok(), "{:?}", n);
            let s = with_suffix(&n, "99999999999");
            proptest::prop_assert!(EntryName::new(s.as_str()).is_ok(), "{:?}", s);
            proptest::prop_assert_ne!(s, n);
        }
    }
}
