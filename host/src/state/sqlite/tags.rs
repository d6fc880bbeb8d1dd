//! Tags by resource ARN. Each call is one transaction, so a TagResource with several keys
//! is applied entirely or not at all.

use rusqlite::{Connection, params};

use super::rows::map_err;
use crate::state::Result;

/// The tags of `arn`, sorted by key (the primary key order).
pub(super) fn get(conn: &Connection, arn: &str) -> Result<Vec<(String, String)>> {
    conn.prepare_cached("SELECT key, value FROM tags WHERE arn = ?1 ORDER BY key")
        .and_then(|mut s| {
            s.query_map([arn], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .map_err(map_err("tags"))
}

pub(super) fn tag(conn: &mut Connection, arn: &str, tags: &[(String, String)]) -> Result<()> {
    let err = map_err("tags");
    let tx = conn.transaction().map_err(&err)?;
    {
        let mut upsert = tx
            .prepare_cached(
                "INSERT INTO tags (arn, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
            )
            .map_err(&err)?;
        for (key, value) in tags {
            upsert.execute(params![arn, key, value]).map_err(&err)?;
        }
    }
    tx.commit().map_err(&err)
}

pub(super) fn untag(conn: &mut Connection, arn: &str, keys: &[String]) -> Result<()> {
    let err = map_err("tags");
    let tx = conn.transaction().map_err(&err)?;
    {
        let mut delete = tx
            .prepare_cached("DELETE FROM tags WHERE arn = ?1 AND key = ?2")
            .map_err(&err)?;
        for key in keys {
            delete.execute(params![arn, key]).map_err(&err)?;
        }
    }
    tx.commit().map_err(&err)
}
