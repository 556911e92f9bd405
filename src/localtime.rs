//! Times for people: seconds since the epoch as local ISO 8601
//! (`2026-12-04T10:15:03+01:00`), through the C library's `localtime_r`
//! (so `TZ` and `/etc/localtime` decide the zone, as for `date`).
//! Machine-readable outputs keep the seconds and add this form beside them
//! ([`add_iso_times`]).

/// `secs` since the epoch as local ISO 8601 with the zone's offset, to the
/// second. Falls back to UTC (`Z`) when the C library cannot convert it.
pub fn iso8601(secs: u64) -> String {
    let t = secs.min(i64::MAX as u64) as libc::time_t;
    // SAFETY: `tm` is plain data; localtime_r writes it or returns null.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = !unsafe { libc::localtime_r(&t, &mut tm) }.is_null();
    if !ok {
        return utc_iso8601(secs);
    }
    format_fields(
        i64::from(tm.tm_year) + 1900,
        tm.tm_mon as u32 + 1,
        tm.tm_mday as u32,
        tm.tm_hour as u32,
        tm.tm_min as u32,
        tm.tm_sec as u32,
        Some(tm.tm_gmtoff as i64),
    )
}

/// `secs` since the epoch in UTC, ISO 8601 with `Z`.
pub fn utc_iso8601(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format_fields(
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem / 60 % 60) as u32,
        (rem % 60) as u32,
        None,
    )
}

fn format_fields(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, off: Option<i64>) -> String {
    let zone = match off {
        None => "Z".to_owned(),
        Some(off) => {
            let sign = if off < 0 { '-' } else { '+' };
            let a = off.unsigned_abs();
            format!("{sign}{:02}:{:02}", a / 3600, a / 60 % 60)
        }
    };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{zone}")
}

/// Howard Hinnant's days-to-civil: days since 1970-01-01 → (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Beside every number under a key ending in `_at` (seconds since the
/// epoch: `finished_at`, `requested_at`), at any depth, adds the same time
/// as local ISO 8601 under that key plus `_iso`.
pub fn add_iso_times(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            let extra: Vec<(String, String)> = map
                .iter()
                .filter(|(k, _)| k.ends_with("_at"))
                .filter_map(|(k, v)| Some((format!("{k}_iso"), iso8601(v.as_u64()?))))
                .collect();
            for v in map.values_mut() {
                add_iso_times(v);
            }
            for (k, s) in extra {
                map.insert(k, serde_json::Value::String(s));
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(add_iso_times),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses what [`iso8601`] writes back to seconds since the epoch.
    fn parse(s: &str) -> u64 {
        let (date, rest) = s.split_once('T').unwrap();
        let mut d = date.split('-').map(|p| p.parse::<i64>().unwrap());
        let (y, mo, day) = (d.next().unwrap(), d.next().unwrap(), d.next().unwrap());
        let hms = &rest[..8];
        let mut t = hms.split(':').map(|p| p.parse::<i64>().unwrap());
        let (h, mi, sec) = (t.next().unwrap(), t.next().unwrap(), t.next().unwrap());
        let zone = &rest[8..];
        let off = if zone == "Z" {
            0
        } else {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let h: i64 = zone[1..3].parse().unwrap();
            let m: i64 = zone[4..6].parse().unwrap();
            sign * (h * 3600 + m * 60)
        };
        // days from civil (the inverse of civil_from_days)
        let y2 = if mo <= 2 { y - 1 } else { y };
        let era = y2.div_euclid(400);
        let yoe = y2 - era * 400;
        let mp = (mo + 9) % 12;
        let doy = (153 * mp + 2) / 5 + day - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        (days * 86_400 + h * 3600 + mi * 60 + sec - off) as u64
    }

    #[test]
    fn utc_form_of_known_instants() {
        assert_eq!(utc_iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_iso8601(1_796_324_656), "2026-12-03T19:04:16Z");
        assert_eq!(utc_iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn local_form_names_the_same_instant_with_its_offset() {
        for secs in [0u64, 951_782_400, 1_700_000_000, 1_796_324_656] {
            let s = iso8601(secs);
            assert_eq!(s.len(), 25, "{s}: date, time and a ±hh:mm offset");
            assert_eq!(parse(&s), secs, "{s}");
        }
    }

    #[test]
    fn json_times_keep_their_seconds_and_gain_the_iso_form() {
        let mut v = serde_json::json!({
            "finished_at": 1_700_000_000u64,
            "results": [{"request": {"requested_at": 1u64}, "outcome": "done"}],
            "format": "x",
        });
        add_iso_times(&mut v);
        assert_eq!(v["finished_at"], 1_700_000_000u64);
        assert_eq!(v["finished_at_iso"], iso8601(1_700_000_000));
        assert_eq!(v["results"][0]["request"]["requested_at_iso"], iso8601(1));
        assert!(v.get("format_iso").is_none());
    }
}
