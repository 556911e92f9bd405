//! The junk-name rule: file managers' and editors' temporary and metadata
//! files that live in the mount like any file but are never uploaded.

/// True for names such as `.goutputstream-XXXX`, `.DS_Store`, `Thumbs.db`,
/// `._foo`, `foo.swp`, `foo~`, `.#foo`, `foo.part`, `foo.crdownload`.
pub fn is_junk_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    const EXACT: &[&str] = &[
        ".ds_store",
        "thumbs.db",
        "ehthumbs.db",
        "desktop.ini",
        ".directory",
        ".localized",
        "icon\r",
        ".picasa.ini",
        "picasa.ini",
    ];
    const PREFIXES: &[&str] = &[
        ".goutputstream-",
        "._",
        ".#",
        ".~lock.",
        "~$",
        ".trash",
        ".nfs",
        ".fuse_hidden",
        ".sb-",
    ];
    const SUFFIXES: &[&str] = &[
        "~",
        ".swp",
        ".swo",
        ".swx",
        ".part",
        ".partial",
        ".crdownload",
        ".download",
        ".tmp",
        ".temp",
        ".kate-swp",
        ".filepart",
    ];
    if EXACT.contains(&lower.as_str()) {
        return true;
    }
    if PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return true;
    }
    if SUFFIXES.iter().any(|s| lower.ends_with(s)) {
        return true;
    }
    // Emacs autosave `#foo#`, vim's `4913` write-test file.
    (lower.len() > 2 && lower.starts_with('#') && lower.ends_with('#')) || lower == "4913"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_manager_and_editor_temporaries_are_junk() {
        for n in [
            ".goutputstream-ABC123",
            ".DS_Store",
            "Thumbs.db",
            "._IMG_0001.jpg",
            ".IMG_0001.jpg.swp",
            "IMG_0001.jpg~",
            ".#IMG_0001.jpg",
            "IMG_0001.jpg.part",
            "IMG_0001.jpg.crdownload",
            "#notes#",
            "desktop.ini",
        ] {
            assert!(is_junk_name(n), "{n} should be junk");
        }
    }

    #[test]
    fn ordinary_photo_names_are_not_junk() {
        for n in [
            "IMG_0001.jpg",
            "Sunset.JPG",
            ".hidden-photo.jpg",
            "party.mov",
            "part.jpg",
            "tmp",
        ] {
            assert!(!is_junk_name(n), "{n} should not be junk");
        }
    }
}
