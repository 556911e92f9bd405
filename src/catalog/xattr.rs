//! Extended attributes of entries: per-photo settings the upload step uses
//! (`user.flickr.title`, `description`, `tags`, `privacy`, `resize`, `skip`)
//! and read-only facts (`user.flickr.id`, `url`, `state`, `date_taken`,
//! `date_taken_granularity`, `user.flickrfs.source`).

use std::ffi::OsStr;

use rusqlite::params;

use crate::model::{limits, Privacy};

use super::error::{CatalogError, Result};
use super::handle::Catalog;
use super::store::*;
use super::types::*;

/// One extended attribute the mount knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Xattr {
    Title,
    Description,
    Tags,
    Privacy,
    Resize,
    Skip,
    /// Read-only: the Flickr photo id.
    Id,
    /// Read-only: the photo's page or original URL.
    Url,
    /// Read-only: [`PhotoState`] as text.
    State,
    /// Read-only: the backing file's path.
    Source,
    /// Read-only: Flickr's date taken, `YYYY-MM-DD HH:MM:SS`.
    DateTaken,
    /// Read-only: how precise it is (`exact`, `month`, `year`, `circa`).
    DateTakenGranularity,
}

impl Xattr {
    pub const ALL: [Xattr; 12] = [
        Xattr::Title,
        Xattr::Description,
        Xattr::Tags,
        Xattr::Privacy,
        Xattr::Resize,
        Xattr::Skip,
        Xattr::Id,
        Xattr::Url,
        Xattr::State,
        Xattr::Source,
        Xattr::DateTaken,
        Xattr::DateTakenGranularity,
    ];

    /// The attribute's full name (`user.flickr.title`...).
    pub fn name(self) -> &'static str {
        match self {
            Xattr::Title => "user.flickr.title",
            Xattr::Description => "user.flickr.description",
            Xattr::Tags => "user.flickr.tags",
            Xattr::Privacy => "user.flickr.privacy",
            Xattr::Resize => "user.flickr.resize",
            Xattr::Skip => "user.flickr.skip",
            Xattr::Id => "user.flickr.id",
            Xattr::Url => "user.flickr.url",
            Xattr::State => "user.flickr.state",
            Xattr::Source => "user.flickrfs.source",
            Xattr::DateTaken => "user.flickr.date_taken",
            Xattr::DateTakenGranularity => "user.flickr.date_taken_granularity",
        }
    }

    /// The attribute called `name`, if the mount knows it.
    pub fn parse(name: &OsStr) -> Option<Xattr> {
        let name = name.to_str()?;
        Xattr::ALL.into_iter().find(|x| x.name() == name)
    }

    /// Facts that `setxattr` refuses with EPERM.
    pub fn is_read_only(self) -> bool {
        matches!(
            self,
            Xattr::Id
                | Xattr::Url
                | Xattr::State
                | Xattr::Source
                | Xattr::DateTaken
                | Xattr::DateTakenGranularity
        )
    }
}

impl Catalog {
    /// The value of an attribute of `photo`; `Ok(None)` when it has none
    /// (the mount answers ENODATA).
    pub fn get_xattr(&self, photo: PhotoKey, attr: Xattr) -> Result<Option<String>> {
        let p = self.photo(photo)?;
        Ok(match attr {
            Xattr::Title => Some(p.meta.title.clone()),
            Xattr::Description => p.meta.description.clone(),
            Xattr::Tags => p.meta.tags.as_ref().map(|t| format_tags(t)),
            Xattr::Privacy => p.meta.privacy.map(|v| v.as_str().to_string()),
            Xattr::Resize => p.meta.resize.map(|r| r.to_string()),
            Xattr::Skip => p.meta.skip.then(|| "1".to_string()),
            Xattr::Id => p.remote_id().map(|i| i.to_string()),
            Xattr::Url => match &p.remote {
                Some(r) => {
                    let account = self.account(p.account)?;
                    Some(self.photo_page(account.nsid.as_str(), r.id.as_str()))
                }
                None => None,
            },
            Xattr::State => Some(p.state().as_str().to_string()),
            Xattr::Source => p
                .local
                .as_ref()
                .map(|l| l.path.to_string_lossy().into_owned()),
            Xattr::DateTaken => p
                .remote
                .as_ref()
                .and_then(|r| r.date_taken.as_ref())
                .map(|t| t.as_str().to_string()),
            Xattr::DateTakenGranularity => p
                .remote
                .as_ref()
                .filter(|r| r.date_taken.is_some())
                .map(|r| r.granularity.as_str().to_string()),
        })
    }

    /// Sets a setting. Read-only facts: `NotPermitted`; bad values
    /// (privacy, resize, skip), values over Flickr's limits
    /// ([`crate::model::limits`]) and text that is not UTF-8: `InvalidValue`.
    /// Setting the title does not rename the entries.
    pub fn set_xattr(&self, photo: PhotoKey, attr: Xattr, value: &[u8]) -> Result<()> {
        let read_only = || CatalogError::NotPermitted(format!("{} is read-only", attr.name()));
        if attr.is_read_only() {
            return Err(read_only());
        }
        let invalid = |message: String| CatalogError::InvalidValue {
            what: attr.name().to_string(),
            message,
        };
        let text = std::str::from_utf8(value).map_err(|_| invalid("not UTF-8".into()))?;
        let text = text.trim_end_matches(['\n', '\r', '\0']);
        let (column, val): (&str, rusqlite::types::Value) = match attr {
            Xattr::Title => {
                let t = text.trim();
                if t.is_empty() || t.chars().any(char::is_control) {
                    return Err(invalid(
                        "a title must be non-empty text without control characters".into(),
                    ));
                }
                limits::check_title(t).map_err(invalid)?;
                ("title", t.to_string().into())
            }
            Xattr::Description => {
                limits::check_description(text).map_err(invalid)?;
                ("description", text.to_string().into())
            }
            Xattr::Tags => {
                let tags = parse_tags(text);
                limits::check_tags(&tags).map_err(invalid)?;
                ("tags", tags_json(&tags).into())
            }
            Xattr::Privacy => {
                let p: Privacy = text.parse().map_err(invalid)?;
                ("privacy", p.as_str().to_string().into())
            }
            Xattr::Resize => {
                let r = Resize::parse(text).map_err(|why| invalid(format!("{text:?}: {why}")))?;
                ("resize", r.to_string().into())
            }
            Xattr::Skip => {
                let b = match text.trim().to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" | "on" | "" => true,
                    "0" | "false" | "no" | "off" => false,
                    other => {
                        return Err(invalid(format!(
                            "{other:?}: expected 1/0, true/false, yes/no"
                        )))
                    }
                };
                ("skip", i64::from(b).into())
            }
            Xattr::Id
            | Xattr::Url
            | Xattr::State
            | Xattr::Source
            | Xattr::DateTaken
            | Xattr::DateTakenGranularity => return Err(read_only()),
        };
        self.write("setting an attribute", |tx| {
            load_photo(tx, photo)?;
            tx.exec(
                &format!("UPDATE photos SET {column} = ?2 WHERE id = ?1"),
                params![photo.0, val],
            )
            .ctx("setting an attribute")?;
            Ok(())
        })
    }

    /// Removes a setting (back to the preference default). Title cannot be
    /// removed (`NotPermitted`); read-only facts: `NotPermitted`.
    pub fn remove_xattr(&self, photo: PhotoKey, attr: Xattr) -> Result<()> {
        let (column, val) = match attr {
            Xattr::Description => ("description", rusqlite::types::Value::Null),
            Xattr::Tags => ("tags", rusqlite::types::Value::Null),
            Xattr::Privacy => ("privacy", rusqlite::types::Value::Null),
            Xattr::Resize => ("resize", rusqlite::types::Value::Null),
            Xattr::Skip => ("skip", rusqlite::types::Value::Integer(0)),
            Xattr::Title => {
                return Err(CatalogError::NotPermitted(
                    "the title cannot be removed (rename the file or set another title)".into(),
                ))
            }
            _ => {
                return Err(CatalogError::NotPermitted(format!(
                    "{} is read-only",
                    attr.name()
                )))
            }
        };
        self.write("removing an attribute", |tx| {
            load_photo(tx, photo)?;
            tx.exec(
                &format!("UPDATE photos SET {column} = ?2 WHERE id = ?1"),
                params![photo.0, val],
            )
            .ctx("removing an attribute")?;
            Ok(())
        })
    }

    /// The attributes `photo` currently has a value for.
    pub fn list_xattrs(&self, photo: PhotoKey) -> Result<Vec<Xattr>> {
        let mut out = Vec::new();
        for x in Xattr::ALL {
            if self.get_xattr(photo, x)?.is_some() {
                out.push(x);
            }
        }
        Ok(out)
    }
}

/// Tags as Flickr writes them: space-separated, multi-word tags in quotes.
pub fn format_tags(tags: &[String]) -> String {
    tags.iter()
        .map(|t| {
            if t.contains(char::is_whitespace) {
                format!("\"{t}\"")
            } else {
                t.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The inverse of [`format_tags`]: splits on whitespace, keeping "quoted
/// words" together; drops empties and duplicates.
pub fn parse_tags(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut push = |cur: &mut String, out: &mut Vec<String>| {
        let t = cur.trim().to_string();
        if !t.is_empty() && seen.insert(t.clone()) {
            out.push(t);
        }
        cur.clear();
    };
    for c in s.chars() {
        match c {
            '"' => {
                if quoted {
                    push(&mut cur, &mut out);
                }
                quoted = !quoted;
            }
            c if c.is_whitespace() && !quoted => push(&mut cur, &mut out),
            c if c.is_control() => {}
            c => cur.push(c),
        }
    }
    push(&mut cur, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_with_quotes() {
        let t = parse_tags(r#"sunset "new york"  beach sunset"#);
        assert_eq!(t, vec!["sunset", "new york", "beach"]);
        assert_eq!(format_tags(&t), r#"sunset "new york" beach"#);
        assert!(parse_tags("  ").is_empty());
    }

    #[test]
    fn names_parse_back() {
        for x in Xattr::ALL {
            assert_eq!(Xattr::parse(OsStr::new(x.name())), Some(x));
        }
        assert_eq!(Xattr::parse(OsStr::new("user.other")), None);
    }
}
