//! Seeding: the small hand-made demo account and large synthetic accounts,
//! plus the image bytes both need.
//!
//! Demo photos are real JPEGs drawn with the `image` crate, each carrying an
//! Exif APP1 segment with Make, Model and DateTimeOriginal (written by
//! `media::testdata`, the crate's one EXIF writer: test data, not a client
//! type) so the upload path's EXIF reading and `getExif` have something true
//! to report. Synthetic accounts store no bytes at all: a photo's original
//! is rebuilt from its id on request (a cached template JPEG + an Exif
//! segment + a comment naming the id), so 100,000 photos seed in one
//! transaction in seconds.

use std::sync::OnceLock;

use image::{Rgb, RgbImage};
use rusqlite::{params, Connection};

use super::state::{self, PhotoRow, StateError};
use crate::media::testdata::{self, Camera};

// ---------------------------------------------------------------- Exif

/// The camera the emulator's photos name in their Exif block.
const EMULATOR_CAMERA: Camera<'static> = Camera {
    make: "flickrfs",
    model: "Emulator Camera",
};

/// A JPEG APP1 segment holding Exif with Make, Model, DateTimeOriginal and
/// DateTimeDigitized (`taken` as `YYYY-MM-DD HH:MM:SS` or EXIF's
/// `YYYY:MM:DD HH:MM:SS`), from the crate's one EXIF writer.
pub fn exif_app1(taken: &str) -> Vec<u8> {
    testdata::exif_app1(taken, Some(EMULATOR_CAMERA))
}

/// A JPEG COM segment.
fn comment(text: &str) -> Vec<u8> {
    let mut seg = vec![0xFF, 0xFE];
    seg.extend_from_slice(&((2 + text.len()) as u16).to_be_bytes());
    seg.extend_from_slice(text.as_bytes());
    seg
}

/// Inserts segments right after a JPEG's SOI marker. Concatenation, not a
/// parse: synthetic originals are rebuilt on every request from templates
/// encoded once, so their Exif goes in without decoding or re-encoding.
pub fn with_segments(jpeg: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(jpeg.len() + 256);
    out.extend_from_slice(&jpeg[..2.min(jpeg.len())]);
    for s in segments {
        out.extend_from_slice(s);
    }
    out.extend_from_slice(jpeg.get(2..).unwrap_or_default());
    out
}

/// Draws a recognisable picture (sky gradient, sun, hills) and encodes it.
pub fn draw_jpeg(width: u32, height: u32, hue: u32) -> Vec<u8> {
    let (w, h) = (width.max(1), height.max(1));
    let base = [
        [(250, 140, 60), (40, 60, 140)],
        [(120, 200, 250), (30, 120, 60)],
        [(20, 20, 60), (200, 180, 60)],
        [(240, 220, 200), (120, 60, 40)],
        [(200, 240, 200), (60, 40, 120)],
        [(250, 200, 220), (40, 90, 40)],
        [(180, 180, 190), (90, 90, 100)],
        [(255, 240, 150), (20, 80, 160)],
    ][(hue % 8) as usize];
    let img = RgbImage::from_fn(w, h, |x, y| {
        let t = y as f32 / h as f32;
        let lerp = |a: u8, b: u8| (a as f32 * (1.0 - t) + b as f32 * t) as u8;
        let (top, bottom) = (base[0], base[1]);
        let hill = (h as f32) * (0.7 + 0.1 * ((x as f32 / w as f32) * 6.3 + hue as f32).sin());
        if (y as f32) > hill {
            return Rgb([bottom.0 / 2, bottom.1, bottom.2 / 2]);
        }
        let (cx, cy, r) = (w as f32 * 0.7, h as f32 * 0.3, h.min(w) as f32 * 0.12);
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        if dx * dx + dy * dy < r * r {
            return Rgb([255, 230, 120]);
        }
        Rgb([
            lerp(top.0, bottom.0),
            lerp(top.1, bottom.1),
            lerp(top.2, bottom.2),
        ])
    });
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
    if img.write_with_encoder(enc).is_err() {
        return Vec::new();
    }
    out
}

// ---------------------------------------------------------------- synthetic photos

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Pixel size of a synthetic photo's original.
pub fn synthetic_dims(id: i64) -> (u32, u32) {
    if id % 5 == 0 {
        (192, 256)
    } else {
        (256, 192)
    }
}

/// The EXIF date a synthetic photo carries (`YYYY-MM-DD HH:MM:SS`).
pub fn synthetic_taken(id: i64) -> String {
    let span = 12 * 365 * 86_400u64;
    state::format_datetime(1_262_304_000 + (splitmix(id as u64) % span) as i64)
}

fn templates() -> &'static Vec<Vec<u8>> {
    static T: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    T.get_or_init(|| {
        (0..16u32)
            .map(|k| {
                let (w, h) = if k >= 8 { (192, 256) } else { (256, 192) };
                draw_jpeg(w, h, k % 8)
            })
            .collect()
    })
}

/// The original bytes of a synthetic photo, rebuilt from its id: always the
/// same bytes for the same id.
pub fn synthetic_original(id: i64) -> Vec<u8> {
    let portrait = id % 5 == 0;
    let k = (splitmix(id as u64 ^ 0xA5A5) % 8) as usize + if portrait { 8 } else { 0 };
    let t = &templates()[k];
    with_segments(
        t,
        &[
            exif_app1(&synthetic_taken(id)),
            comment(&format!("flickrfs emulator synthetic photo {id}")),
        ],
    )
}

fn det_secret(id: i64, salt: u64) -> String {
    format!("{:010x}", splitmix(id as u64 ^ salt) & 0xff_ffff_ffff)
}

/// Seeds `n_photos` synthetic photos and `n_sets` sets for `owner` in one
/// transaction. Photo i is in set i % n_sets unless i % 10 == 9 (so about a
/// tenth are in no set); every 13th photo is in a second set as well.
pub fn seed_synthetic(
    c: &Connection,
    owner: &str,
    n_photos: u64,
    n_sets: u64,
) -> Result<(), StateError> {
    if n_photos == 0 {
        return Ok(());
    }
    let n = n_photos as i64;
    let first = state::reserve_ids(c, "photo", state::PHOTO_ID_BASE, n)?;
    let base_upload = 1_400_000_000i64;
    // 15 minutes apart, closer for a library so large that they would
    // reach the present: a photo updated in the future would be listed by
    // every photos.recentlyUpdated.
    let step = 900.min(((state::now() - 86_400 - base_upload) / n.max(1)).max(1));
    let mut tag_ins = c.prepare_cached(
        "INSERT INTO tags(photo_id, author, raw, norm, machine) VALUES(?1,?2,?3,?3,0)",
    )?;
    for i in 0..n {
        let id = first + i;
        let (w, h) = synthetic_dims(id);
        let title = if i % 211 == 0 {
            String::new()
        } else if i % 97 == 0 {
            "Untitled".to_owned()
        } else {
            format!("IMG_{i:06}")
        };
        let up = base_upload + i * step;
        let row = PhotoRow {
            id,
            owner: owner.to_owned(),
            secret: det_secret(id, 1),
            originalsecret: det_secret(id, 2),
            server: state::SERVER.to_owned(),
            farm: state::FARM,
            title,
            description: String::new(),
            is_public: i % 3 == 0,
            is_friend: i % 7 == 1,
            is_family: i % 11 == 1,
            safety_level: 1,
            content_type: 1,
            hidden: 1,
            date_upload: up,
            date_taken: synthetic_taken(id),
            taken_granularity: 0,
            taken_unknown: false,
            lastupdate: up,
            original_format: "jpg".into(),
            width: w,
            height: h,
            sha1: None,
            size: 0,
            synthetic: true,
        };
        state::insert_photo(c, &row)?;
        tag_ins.execute(params![id, owner, format!("batch{}", i % 100)])?;
    }
    if n_sets == 0 {
        return Ok(());
    }
    let ns = n_sets as i64;
    let first_set = state::reserve_ids(c, "set", state::SET_ID_BASE, ns)?;
    let mut members: Vec<Vec<i64>> = vec![Vec::new(); ns as usize];
    for i in 0..n {
        if i % 10 != 9 {
            members[(i % ns) as usize].push(first + i);
        }
        if i % 13 == 0 && ns > 1 {
            let other = ((i * 7 + 1) % ns) as usize;
            if other != (i % ns) as usize || i % 10 == 9 {
                members[other].push(first + i);
            }
        }
    }
    let mut set_ins = c.prepare_cached(
        "INSERT INTO sets(id, owner, title, description, primary_photo, secret, server, farm, date_create, date_update, position)
         VALUES(?1,?2,?3,'',?4,?5,?6,?7,?8,?8,?9)",
    )?;
    let mut member_ins = c.prepare_cached(
        "INSERT OR IGNORE INTO set_photos(set_id, photo_id, position) VALUES(?1,?2,?3)",
    )?;
    for (j, ids) in members.iter().enumerate() {
        let Some(&primary) = ids.first() else {
            continue;
        };
        let set_id = first_set + j as i64;
        let title = if j % 50 == 49 {
            format!("Album {:03}", j - 1)
        } else {
            format!("Album {j:03}")
        };
        set_ins.execute(params![
            set_id,
            owner,
            title,
            primary,
            det_secret(primary, 1),
            state::SERVER,
            state::FARM,
            base_upload + j as i64 * 60,
            j as i64 + 1
        ])?;
        for (pos, pid) in ids.iter().enumerate() {
            member_ins.execute(params![set_id, pid, pos as i64 + 1])?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- the demo account

/// One hand-made demo photo.
pub struct DemoPhoto {
    pub title: &'static str,
    pub description: &'static str,
    pub taken: Option<&'static str>,
    pub tags: &'static str,
    pub public: bool,
    pub friend: bool,
    pub family: bool,
    pub size: (u32, u32),
}

/// The demo account's photos, in upload order.
pub const DEMO_PHOTOS: &[DemoPhoto] = &[
    DemoPhoto {
        title: "Sunset over the bay",
        description: "The last light over the water.",
        taken: Some("2023-07-14 20:41:07"),
        tags: r#"sunset bay "golden hour""#,
        public: true,
        friend: false,
        family: false,
        size: (800, 533),
    },
    DemoPhoto {
        title: "Beach walk",
        description: "",
        taken: Some("2023-07-15 09:12:30"),
        tags: "beach morning",
        public: true,
        friend: false,
        family: false,
        size: (640, 480),
    },
    DemoPhoto {
        title: "Harbour at night",
        description: "Long exposure.",
        taken: Some("2023-07-15 22:03:11"),
        tags: "harbour night",
        public: false,
        friend: true,
        family: false,
        size: (640, 427),
    },
    DemoPhoto {
        title: "",
        description: "",
        taken: Some("2023-07-16 11:00:00"),
        tags: "",
        public: false,
        friend: false,
        family: false,
        size: (480, 640),
    },
    DemoPhoto {
        title: "Tomatoes",
        description: "First harvest.",
        taken: Some("2023-08-02 17:25:44"),
        tags: "garden vegetables",
        public: true,
        friend: false,
        family: false,
        size: (600, 600),
    },
    DemoPhoto {
        title: "Roses",
        description: "",
        taken: Some("2023-06-10 08:15:00"),
        tags: "garden flowers",
        public: true,
        friend: false,
        family: false,
        size: (640, 480),
    },
    DemoPhoto {
        title: "Roses",
        description: "The same bush, a week later.",
        taken: Some("2023-06-17 08:20:00"),
        tags: "garden flowers",
        public: false,
        friend: false,
        family: true,
        size: (480, 640),
    },
    DemoPhoto {
        title: "IMG_0042",
        description: "",
        taken: Some("2022-12-24 16:02:59"),
        tags: "winter snow camera:make=emulator",
        public: false,
        friend: true,
        family: true,
        size: (640, 480),
    },
    DemoPhoto {
        title: "Snowy street",
        description: "",
        taken: Some("2022-12-25 10:30:00"),
        tags: r#"winter "christmas day""#,
        public: true,
        friend: false,
        family: false,
        size: (1200, 800),
    },
    DemoPhoto {
        title: "Old scan",
        description: "A scanned print: no EXIF date.",
        taken: None,
        tags: "scan",
        public: false,
        friend: false,
        family: false,
        size: (500, 375),
    },
];

/// Builds the bytes of demo photo `i`.
pub fn demo_bytes(i: usize) -> Vec<u8> {
    let Some(p) = DEMO_PHOTOS.get(i) else {
        return Vec::new();
    };
    let jpeg = draw_jpeg(p.size.0, p.size.1, i as u32);
    match p.taken {
        Some(t) => with_segments(&jpeg, &[exif_app1(t)]),
        None => jpeg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exif_segment_is_readable_by_kamadak_exif() {
        let jpeg = with_segments(&draw_jpeg(32, 24, 1), &[exif_app1("2021-07-04 18:30:01")]);
        let exif = exif::Reader::new()
            .read_from_container(&mut std::io::Cursor::new(&jpeg))
            .unwrap();
        let f = exif
            .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
            .unwrap();
        match &f.value {
            exif::Value::Ascii(v) => assert_eq!(v[0], b"2021:07:04 18:30:01"),
            other => panic!("unexpected {other:?}"),
        }
        // getExif reports the camera from these.
        for (tag, want) in [
            (exif::Tag::Make, "flickrfs"),
            (exif::Tag::Model, "Emulator Camera"),
        ] {
            let f = exif.get_field(tag, exif::In::PRIMARY).unwrap();
            assert_eq!(f.display_value().to_string(), format!("\"{want}\""));
        }
        let img = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((img.width(), img.height()), (32, 24));
    }

    #[test]
    fn synthetic_originals_are_deterministic_and_valid() {
        let a = synthetic_original(53_000_000_005);
        assert_eq!(a, synthetic_original(53_000_000_005));
        assert_ne!(a, synthetic_original(53_000_000_006));
        let img = image::load_from_memory(&a).unwrap();
        assert_eq!((img.width(), img.height()), synthetic_dims(53_000_000_005));
    }
}
