//! The shared vocabulary: small named types that cross module borders.
//! Nothing here does I/O.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

string_id!(
    /// A Flickr photo id: a decimal string of up to ~11 digits.
    PhotoId
);
string_id!(
    /// A Flickr photoset id (`72157...`).
    SetId
);
string_id!(
    /// A Flickr user id (`12345678@N01`).
    Nsid
);
string_id!(
    /// A Flickr group id (`1234@N20`).
    GroupId
);

/// Who may see a photo on Flickr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Privacy {
    Public,
    Friends,
    Family,
    #[serde(rename = "friends+family")]
    FriendsAndFamily,
    #[default]
    Private,
}

impl Privacy {
    /// Flickr's three visibility flags: (is_public, is_friend, is_family).
    pub fn flags(self) -> Visibility {
        let (p, fr, fa) = match self {
            Privacy::Public => (true, false, false),
            Privacy::Friends => (false, true, false),
            Privacy::Family => (false, false, true),
            Privacy::FriendsAndFamily => (false, true, true),
            Privacy::Private => (false, false, false),
        };
        Visibility {
            is_public: p,
            is_friend: fr,
            is_family: fa,
        }
    }

    pub fn from_flags(v: Visibility) -> Self {
        match (v.is_public, v.is_friend, v.is_family) {
            (true, _, _) => Privacy::Public,
            (false, true, true) => Privacy::FriendsAndFamily,
            (false, true, false) => Privacy::Friends,
            (false, false, true) => Privacy::Family,
            (false, false, false) => Privacy::Private,
        }
    }

    pub const ALL: [Privacy; 5] = [
        Privacy::Public,
        Privacy::Friends,
        Privacy::Family,
        Privacy::FriendsAndFamily,
        Privacy::Private,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Privacy::Public => "public",
            Privacy::Friends => "friends",
            Privacy::Family => "family",
            Privacy::FriendsAndFamily => "friends+family",
            Privacy::Private => "private",
        }
    }
}

impl fmt::Display for Privacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Privacy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Privacy::ALL
            .into_iter()
            .find(|p| p.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                format!("unknown privacy {s:?}: expected public, friends, family, friends+family or private")
            })
    }
}

/// Flickr's visibility flags as they travel on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Visibility {
    pub is_public: bool,
    pub is_friend: bool,
    pub is_family: bool,
}

/// Which way a sync moves things.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
    #[default]
    Both,
}

impl Direction {
    pub fn uploads(self) -> bool {
        matches!(self, Direction::Up | Direction::Both)
    }
    pub fn downloads(self) -> bool {
        matches!(self, Direction::Down | Direction::Both)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
            Direction::Both => "both",
        }
    }
}

impl std::str::FromStr for Direction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "up" => Ok(Direction::Up),
            "down" => Ok(Direction::Down),
            "both" => Ok(Direction::Both),
            other => Err(format!(
                "unknown direction {other:?}: expected both, up or down"
            )),
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Flickr's normal form of a tag: lower case, without white space or
/// quotes ("Summer light" is `summerlight`).
pub fn normalize_tag(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace() && *c != '"')
        .flat_map(char::to_lowercase)
        .collect()
}

/// How precise Flickr's "date taken" is (`datetakengranularity`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Granularity {
    /// 0: exact to the second.
    #[default]
    Exact,
    /// 4: the month.
    Month,
    /// 6: the year.
    Year,
    /// 8: circa.
    Circa,
}

impl Granularity {
    pub fn from_code(code: i64) -> Self {
        match code {
            4 => Granularity::Month,
            6 => Granularity::Year,
            8 => Granularity::Circa,
            _ => Granularity::Exact,
        }
    }
    pub fn code(self) -> i64 {
        match self {
            Granularity::Exact => 0,
            Granularity::Month => 4,
            Granularity::Year => 6,
            Granularity::Circa => 8,
        }
    }
    /// `exact`, `month`, `year`, `circa` (as `user.flickr.date_taken_granularity` shows it).
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Exact => "exact",
            Granularity::Month => "month",
            Granularity::Year => "year",
            Granularity::Circa => "circa",
        }
    }
}

/// A camera-local shooting time with no zone, as EXIF and Flickr keep it
/// (`YYYY-MM-DD HH:MM:SS`). Stored as text so that comparisons are exact.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TakenAt(pub String);

impl TakenAt {
    /// Accepts `YYYY-MM-DD HH:MM:SS` and EXIF's `YYYY:MM:DD HH:MM:SS`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let b = s.as_bytes();
        if b.len() < 19 {
            return None;
        }
        let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
        if !digits.iter().all(|&i| b[i].is_ascii_digit()) {
            return None;
        }
        if !matches!(b[4], b'-' | b':') || !matches!(b[7], b'-' | b':') || b[10] != b' ' {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        Some(TakenAt(format!(
            "{}-{}-{} {}",
            &s[0..4],
            &s[5..7],
            &s[8..10],
            &s[11..19]
        )))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Resize on upload: off, or a longest edge in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Resize {
    #[default]
    Off,
    LongestEdge(u32),
}

impl Resize {
    pub fn parse(s: &str) -> Result<Resize, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("off") || s == "0" {
            return Ok(Resize::Off);
        }
        match s.parse::<u32>() {
            Ok(n) if (16..=20000).contains(&n) => Ok(Resize::LongestEdge(n)),
            _ => Err("expected \"off\" or a longest edge in pixels between 16 and 20000".into()),
        }
    }
}

impl std::fmt::Display for Resize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resize::Off => f.write_str("off"),
            Resize::LongestEdge(n) => write!(f, "{n}"),
        }
    }
}

impl Serialize for Resize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Resize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            N(u32),
            S(String),
        }
        match Raw::deserialize(d)? {
            Raw::N(n) => Resize::parse(&n.to_string()),
            Raw::S(s) => Resize::parse(&s),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privacy_round_trips_through_flags_and_text() {
        for p in Privacy::ALL {
            assert_eq!(Privacy::from_flags(p.flags()), p);
            assert_eq!(p.as_str().parse::<Privacy>().unwrap(), p);
        }
        assert!("everyone".parse::<Privacy>().is_err());
    }

    #[test]
    fn taken_at_accepts_exif_and_flickr_forms() {
        assert_eq!(
            TakenAt::parse("2021:07:04 18:30:01").unwrap().as_str(),
            "2021-07-04 18:30:01"
        );
        assert_eq!(
            TakenAt::parse("2021-07-04 18:30:01").unwrap().as_str(),
            "2021-07-04 18:30:01"
        );
        assert!(TakenAt::parse("0000:00:00").is_none());
        assert!(TakenAt::parse("not a date at all!!").is_none());
    }
}

/// Flickr's limits on a photo's text, checked where a value enters flickrfs
/// (`setfattr`, the review's edits) so that no sync ever sends one Flickr
/// refuses. Each check says what is wrong in one short line, never
/// echoing the (possibly huge) value.
pub mod limits {
    /// Flickr keeps at most 75 tags per photo (machine tags included).
    pub const FLICKR_MAX_TAGS: usize = 75;
    /// One of them is flickrfs's `flickrfs:sha1=` checksum machine tag.
    pub const MAX_TAGS: usize = FLICKR_MAX_TAGS - 1;
    /// Characters in a title (Flickr's title field).
    pub const MAX_TITLE_CHARS: usize = 255;
    /// Bytes of a description (Flickr's description field).
    pub const MAX_DESCRIPTION_BYTES: usize = 65_535;
    /// Characters in one tag.
    pub const MAX_TAG_CHARS: usize = 255;

    pub fn check_title(title: &str) -> Result<(), String> {
        let n = title.chars().count();
        if n > MAX_TITLE_CHARS {
            return Err(format!(
                "a title of {n} characters; Flickr keeps at most {MAX_TITLE_CHARS}"
            ));
        }
        Ok(())
    }

    pub fn check_description(description: &str) -> Result<(), String> {
        let n = description.len();
        if n > MAX_DESCRIPTION_BYTES {
            return Err(format!(
                "a description of {n} bytes; Flickr keeps at most {MAX_DESCRIPTION_BYTES}"
            ));
        }
        Ok(())
    }

    pub fn check_tags<S: AsRef<str>>(tags: &[S]) -> Result<(), String> {
        if tags.len() > MAX_TAGS {
            return Err(format!(
                "{} tags; Flickr keeps at most {FLICKR_MAX_TAGS} per photo, one of them \
                 flickrfs's checksum tag, so at most {MAX_TAGS}",
                tags.len()
            ));
        }
        if let Some(t) = tags
            .iter()
            .map(AsRef::as_ref)
            .find(|t| t.chars().count() > MAX_TAG_CHARS)
        {
            let start: String = t.chars().take(20).collect();
            return Err(format!(
                "the tag \"{start}…\" has {} characters; Flickr keeps at most {MAX_TAG_CHARS}",
                t.chars().count()
            ));
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn limits_accept_the_edge_and_refuse_one_more_without_echoing_the_value() {
            assert!(check_title(&"é".repeat(MAX_TITLE_CHARS)).is_ok());
            let e = check_title(&"x".repeat(MAX_TITLE_CHARS + 1)).unwrap_err();
            assert!(e.contains("256 characters"), "{e}");
            assert!(check_description(&"d".repeat(MAX_DESCRIPTION_BYTES)).is_ok());
            assert!(check_description(&"d".repeat(MAX_DESCRIPTION_BYTES + 1)).is_err());
            let tags: Vec<String> = (0..MAX_TAGS).map(|i| format!("t{i}")).collect();
            assert!(check_tags(&tags).is_ok());
            let many: Vec<String> = (0..8000).map(|i| format!("tag{i}")).collect();
            let e = check_tags(&many).unwrap_err();
            assert!(e.len() < 200 && e.starts_with("8000 tags"), "{e}");
            let e = check_tags(&["y".repeat(10_000)]).unwrap_err();
            assert!(e.len() < 200, "{e}");
        }
    }
}
