//! The junk-name rule: file managers' and editors' temporary and metadata
//! files that live in the mount like any file but are never uploaded.

/// True for names such as `.goutputstream-XXXX`, `.DS_Store`, `Thumbs.db`,
/// `._foo`, `foo.swp`, `foo~`, `.#foo`, `foo.part`, `foo.crdownload`.
pub fn is_junk_name(name: &str) -> bool {
    let _ = name;
    todo!()
}
