//! What an incremental sync asks of the catalog: the dirty set the
//! triggers keep (schema V7: photos whose planner inputs changed since the
//! last plan), and lookups by key of the records the planner compares them
//! with. Every statement here uses an index: none grows with the library
//! except the counts behind the safety thresholds, asked for only when a
//! threshold could trip.

use rusqlite::{params, OptionalExtension};

use crate::model::PhotoId;

use super::error::Result;
use super::handle::Catalog;
use super::store::*;
use super::types::*;

/// The dirty marks of an account, and the newest of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirtyMarks {
    /// Items as stored (`#KEY` for a record, else a Flickr id).
    pub items: Vec<String>,
    /// The highest mark read: only marks up to it are cleared afterwards.
    pub seq: i64,
}

/// The counts of an account's merge base (the safety thresholds'
/// denominators).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BaseCounts {
    /// Records with a base (not ignored, linked to Flickr).
    pub photos: u64,
    /// Photo-in-set memberships of those bases.
    pub set_memberships: u64,
    /// Photo-in-pool memberships of those bases.
    pub pool_memberships: u64,
}

/// The marks a plan accounted for: those up to `loaded` (which it read)
/// and those its settling wrote (`from` < seq <= `to`). Any other is a
/// change made since, by someone else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    pub loaded: i64,
    pub from: i64,
    pub to: i64,
}

/// Of `items`, those whose marks the plan accounted for (or that have
/// none): a writer that settles them may clear their marks.
pub(super) fn accounted_for(
    tx: &rusqlite::Connection,
    account: AccountId,
    items: &[String],
    settled: Settled,
) -> Result<Vec<String>> {
    let mut st = tx
        .prepare_cached(
            "SELECT 1 FROM sync_dirty WHERE account_id = ?5 AND item = ?1 AND seq > ?2 \
             AND NOT (seq > ?3 AND seq <= ?4) LIMIT 1",
        )
        .ctx("reading the dirty set")?;
    let mut out = Vec::new();
    for i in items {
        let newer = st
            .query_row(
                params![i, settled.loaded, settled.from, settled.to, account.0],
                |_| Ok(()),
            )
            .optional()
            .ctx("reading the dirty set")?;
        if newer.is_none() {
            out.push(i.clone());
        }
    }
    Ok(out)
}

/// Clears the marks of `items`.
pub(super) fn clear(tx: &rusqlite::Connection, account: AccountId, items: &[String]) -> Result<()> {
    let mut st = tx
        .prepare_cached("DELETE FROM sync_dirty WHERE account_id = ?1 AND item = ?2")
        .ctx("settling the dirty set")?;
    for i in items {
        st.execute(params![account.0, i])
            .ctx("settling the dirty set")?;
    }
    Ok(())
}

impl Catalog {
    /// The account's dirty marks.
    pub fn dirty_marks(&self, account: AccountId) -> Result<DirtyMarks> {
        let mut st = self
            .conn
            .prepare_cached("SELECT seq, item FROM sync_dirty WHERE account_id = ?1")
            .ctx("reading the dirty set")?;
        let rows = st
            .query_map([account.0], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?)))
            .ctx("reading the dirty set")?;
        let mut out = DirtyMarks::default();
        for row in rows {
            let (seq, item) = row.ctx("reading the dirty set")?;
            out.seq = out.seq.max(seq);
            out.items.push(item);
        }
        Ok(out)
    }

    /// The newest dirty mark of any account (0: none): read before a whole
    /// account is loaded, so that only the marks it saw are cleared.
    pub fn dirty_seq(&self) -> Result<i64> {
        self.conn
            .cached_row("SELECT COALESCE(MAX(seq), 0) FROM sync_dirty", [], |r| {
                r.get(0)
            })
            .ctx("reading the dirty set")
    }

    /// How many photos of the account are marked dirty.
    pub fn dirty_count(&self, account: AccountId) -> Result<u64> {
        self.conn
            .cached_row(
                "SELECT COUNT(*) FROM sync_dirty WHERE account_id = ?1",
                [account.0],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .ctx("counting the dirty set")
    }

    /// Notes `items` dirty (what Flickr changed, which no catalog write shows).
    pub fn mark_dirty(&self, account: AccountId, items: &[String]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        self.write("marking photos dirty", |tx| {
            let mut st = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO sync_dirty (account_id, item) VALUES (?1, ?2)",
                )
                .ctx("marking photos dirty")?;
            for i in items {
                st.execute(params![account.0, i])
                    .ctx("marking photos dirty")?;
            }
            Ok(())
        })
    }

    /// After a plan: `clean` items (or, with `None`, every item) marked no
    /// later than `seq` are clean, and `dirty` ones are marked (a mark made
    /// after `seq` is left as it is), in one transaction.
    pub fn settle_dirty(
        &self,
        account: AccountId,
        seq: i64,
        clean: Option<&[String]>,
        dirty: &[String],
    ) -> Result<Settled> {
        self.write("settling the dirty set", |tx| {
            let newest = |tx: &rusqlite::Connection| {
                tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM sync_dirty", [], |r| {
                    r.get::<_, i64>(0)
                })
                .ctx("reading the dirty set")
            };
            let from = newest(tx)?;
            match clean {
                None => {
                    tx.execute(
                        "DELETE FROM sync_dirty WHERE account_id = ?1 AND seq <= ?2",
                        params![account.0, seq],
                    )
                    .ctx("settling the dirty set")?;
                }
                Some(items) => {
                    let mut st = tx
                        .prepare_cached(
                            "DELETE FROM sync_dirty WHERE account_id = ?1 AND item = ?2 AND seq <= ?3",
                        )
                        .ctx("settling the dirty set")?;
                    for i in items {
                        st.execute(params![account.0, i, seq])
                            .ctx("settling the dirty set")?;
                    }
                }
            }
            let mut st = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO sync_dirty (account_id, item) SELECT ?1, ?2 \
                     WHERE NOT EXISTS (SELECT 1 FROM sync_dirty WHERE account_id = ?1 AND item = ?2 AND seq > ?3)",
                )
                .ctx("settling the dirty set")?;
            for i in dirty {
                st.execute(params![account.0, i, seq])
                    .ctx("settling the dirty set")?;
            }
            Ok(Settled {
                loaded: seq,
                from,
                to: newest(tx)?,
            })
        })
    }

    /// One record, if it exists.
    pub fn photo_if_any(&self, key: PhotoKey) -> Result<Option<Photo>> {
        find_photo(&self.conn, key)
    }

    /// The record linked to Flickr photo `id`, and whether it is ignored.
    pub fn linked_record(
        &self,
        account: AccountId,
        id: &PhotoId,
    ) -> Result<Option<(PhotoKey, bool)>> {
        self.conn
            .cached_row(
                "SELECT id, ignored FROM photos WHERE account_id = ?1 AND remote_id = ?2",
                params![account.0, id.as_str()],
                |r| Ok((PhotoKey(r.get(0)?), r.get::<_, bool>(1)?)),
            )
            .optional()
            .ctx("finding a linked photo")
    }

    /// Flickr photos whose listing carried checksum `c` (as last recorded).
    pub fn remote_ids_by_checksum(
        &self,
        account: AccountId,
        checksum: &crate::media::Checksum,
    ) -> Result<Vec<PhotoId>> {
        self.conn
            .cached_rows(
                "SELECT remote_id FROM photos WHERE account_id = ?1 AND r_checksum = ?2 \
                 AND remote_id IS NOT NULL",
                params![account.0, checksum.as_str()],
                |r| Ok(PhotoId::new(r.get::<_, String>(0)?)),
            )
            .ctx("finding Flickr photos by checksum")
    }

    /// The records listed in `collection`.
    pub fn member_keys(&self, collection: CollectionId) -> Result<Vec<PhotoKey>> {
        self.conn
            .cached_rows(
                "SELECT DISTINCT photo_id FROM memberships WHERE collection_id = ?1",
                [collection.0],
                |r| Ok(PhotoKey(r.get(0)?)),
            )
            .ctx("listing a folder's photos")
    }

    /// The values of `photo`'s fields Flickr refused.
    pub fn refused_edits_of(&self, photo: PhotoKey) -> Result<RefusedEdits> {
        let mut st = self
            .conn
            .prepare_cached("SELECT field, digest FROM refused_edits WHERE photo_id = ?1")
            .ctx("reading refused edits")?;
        let rows = st
            .query_map([photo.0], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .ctx("reading refused edits")?;
        let mut out = RefusedEdits::new();
        for row in rows {
            let (field, digest) = row.ctx("reading refused edits")?;
            if let Some(field) = meta_field(&field) {
                out.insert(field, digest);
            }
        }
        Ok(out)
    }

    /// Whether `photo` has a problem of `kind` recorded.
    pub fn has_problem(&self, photo: PhotoKey, kind: ProblemKind) -> Result<bool> {
        self.conn
            .cached_row(
                "SELECT 1 FROM problems WHERE photo_id = ?1 AND kind = ?2 LIMIT 1",
                params![photo.0, kind.as_str()],
                |_| Ok(()),
            )
            .optional()
            .ctx("reading problems")
            .map(|r| r.is_some())
    }

    /// The counts of the account's merge base (one pass over it).
    pub fn base_counts(&self, account: AccountId) -> Result<BaseCounts> {
        self.conn
            .cached_row(
                "SELECT COUNT(*), COALESCE(SUM(json_array_length(s.sets)), 0), \
                 COALESCE(SUM(json_array_length(s.pools)), 0) \
                 FROM synced s JOIN photos p ON p.id = s.photo_id \
                 WHERE p.account_id = ?1 AND p.ignored = 0 AND p.remote_id IS NOT NULL",
                [account.0],
                |r| {
                    Ok(BaseCounts {
                        photos: r.get::<_, i64>(0)?.max(0) as u64,
                        set_memberships: r.get::<_, i64>(1)?.max(0) as u64,
                        pool_memberships: r.get::<_, i64>(2)?.max(0) as u64,
                    })
                },
            )
            .ctx("counting the merge base")
    }
}
