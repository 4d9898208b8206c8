//! A large seed into an empty `order_views` builds its secondary indexes and adds its foreign
//! key after the COPY: it ends with the indexes and key it started with, a read model with
//! orders is never touched, and what a seed that died half-way left out is made again by the
//! next process start (`db::migrate`), unless a seed still holds the bulk-load lock.

use std::collections::{BTreeMap, BTreeSet};

use orderdesk::db;
use orderdesk::db::orders_copy::{self, BulkLoadLock};
use orderdesk::domain::ids::TenantId;
use orderdesk::seed;
use sqlx::PgPool;

use crate::helpers::{self, cleanup};

/// A migrated database of the test's own, dropped with this value.
struct Db {
    pool: PgPool,
    name: String,
}

impl Db {
    async fn new() -> Db {
        let (name, url) = helpers::create_database().await;
        let pool = db::connect(&url, 4).await.unwrap();
        db::migrate(&pool).await.unwrap();
        Db { pool, name }
    }

    /// Name and definition of every index of `order_views`.
    async fn indexes(&self) -> BTreeSet<(String, String)> {
        sqlx::query_as(
            "SELECT indexname::text, indexdef FROM pg_indexes WHERE tablename = 'order_views'",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
    }

    /// Every index of `order_views` by name, with its oid: a rebuilt index has a new one.
    async fn index_oids(&self) -> BTreeMap<String, i64> {
        sqlx::query_as(
            "SELECT c.relname::text, c.oid::int8 FROM pg_index i
             JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid = 'order_views'::regclass",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
    }

    /// Name, definition and whether it was checked, of every foreign key of `order_views`.
    async fn foreign_keys(&self) -> BTreeSet<(String, String, bool)> {
        sqlx::query_as(
            "SELECT conname::text, pg_get_constraintdef(oid), convalidated FROM pg_constraint
             WHERE conrelid = 'order_views'::regclass AND contype = 'f'",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
    }

    async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn defer_indexes(&self) -> bool {
        let mut conn = self.pool.acquire().await.unwrap();
        orders_copy::defer_indexes(&mut conn).await.unwrap()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        cleanup::remove_blocking(cleanup::TestData {
            db_name: self.name.clone(),
            redis_url: "redis://127.0.0.1:6379".into(),
            redis_prefix: self.name.clone(),
            apalis_workers_sets: vec![],
        });
    }
}

fn is_unique((_, definition): &(String, String)) -> bool {
    definition.starts_with("CREATE UNIQUE INDEX")
}

#[tokio::test]
async fn a_large_load_into_an_empty_read_model_ends_with_the_same_indexes() {
    let db = Db::new().await;
    let before = db.indexes().await;
    let keys = db.foreign_keys().await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys.iter().all(|(_, _, checked)| *checked));
    let oids = db.index_oids().await;
    let tenant = TenantId::new("bulk");
    seed::load_read_model_deferring_from(&db.pool, &tenant, 40, 2_000, 1_000)
        .await
        .unwrap();
    assert_eq!(db.indexes().await, before);
    assert_eq!(db.foreign_keys().await, keys);
    assert_eq!(db.count("deferred_indexes").await, 0);
    assert_eq!(db.count("order_views").await, 2_000);
    // the load went the deferred way: each secondary index is a new one, built after the
    // COPY; the unique ones (which kept duplicates out of it) stayed
    let rebuilt = db.index_oids().await;
    for index in &before {
        let name = &index.0;
        assert_eq!(rebuilt[name] == oids[name], is_unique(index), "{name}");
    }
}

/// A load ends analyzed: statistics for every column (the full text's at its raised target,
/// which the analysis sets aside for a while) and for the index expressions.
#[tokio::test]
async fn a_large_load_ends_with_statistics_of_every_column_at_its_target() {
    let db = Db::new().await;
    let target = |db: &Db| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i32>(
                "SELECT attstattarget::int FROM pg_attribute
                 WHERE attrelid = 'order_views'::regclass AND attname = 'search_text'",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(target(&db).await, 1000);
    let tenant = TenantId::new("bulk");
    seed::load_read_model_deferring_from(&db.pool, &tenant, 40, 2_000, 1_000)
        .await
        .unwrap();
    assert_eq!(target(&db).await, 1000);
    let unanalyzed: Vec<String> = sqlx::query_scalar(
        "SELECT attname::text FROM pg_attribute a
         WHERE attrelid = 'order_views'::regclass AND attnum > 0 AND NOT attisdropped
           AND NOT EXISTS (SELECT FROM pg_stats s WHERE s.tablename = 'order_views'
                           AND s.attname = a.attname)",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(unanalyzed.is_empty(), "{unanalyzed:?}");
    // the full text's own statistics: its most common words
    let lexemes: i32 = sqlx::query_scalar(
        "SELECT coalesce(cardinality(most_common_elems), 0) FROM pg_stats
         WHERE tablename = 'order_views' AND attname = 'search_text'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(lexemes > 0, "{lexemes}");
    let expressions: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stats WHERE tablename = 'order_views_payment_ids'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(expressions, 1);
}

#[tokio::test]
async fn indexes_a_dead_load_left_deferred_are_rebuilt_at_the_next_start() {
    let db = Db::new().await;
    let before = db.indexes().await;
    let keys = db.foreign_keys().await;
    assert!(db.defer_indexes().await);
    let during = db.indexes().await;
    assert!(during.iter().all(is_unique), "{during:?}");
    assert!(during.len() < before.len());
    assert!(db.foreign_keys().await.is_empty());
    assert_eq!(
        db.count("deferred_indexes").await as usize,
        before.len() - during.len() + keys.len()
    );
    // the load writes some orders, then dies
    let tenant = TenantId::new("bulk");
    let orders = seed::demo_orders(&tenant, 5, 50);
    seed::apply(&db.pool, &tenant, &seed::demo_settings(), &orders)
        .await
        .unwrap();

    // while a load holds the lock, a start leaves the indexes to it, without waiting
    let lock = BulkLoadLock::acquire(&db.pool).await.unwrap();
    db::migrate(&db.pool).await.unwrap();
    assert_eq!(db.indexes().await, during);
    lock.release().await.unwrap();

    db::migrate(&db.pool).await.unwrap();
    assert_eq!(db.indexes().await, before);
    assert_eq!(db.foreign_keys().await, keys);
    assert_eq!(db.count("deferred_indexes").await, 0);
}

/// An order of a tenant that does not exist, written while the foreign key was away, makes
/// adding it fail: the start says so, and the key stays recorded for the next one.
#[tokio::test]
async fn a_row_without_its_tenant_keeps_the_foreign_key_recorded() {
    let db = Db::new().await;
    let keys = db.foreign_keys().await;
    assert!(db.defer_indexes().await);
    let ghost = TenantId::new("ghost");
    let orders = seed::demo_orders(&ghost, 1, 1);
    let mut conn = db.pool.acquire().await.unwrap();
    db::orders::upsert_view(&mut conn, &orders[0])
        .await
        .unwrap();
    drop(conn);

    let refused = db::migrate(&db.pool).await.unwrap_err();
    assert!(
        format!("{refused:#}").contains("foreign key"),
        "{refused:#}"
    );
    assert!(db.foreign_keys().await.is_empty());
    let left: Vec<String> = sqlx::query_scalar("SELECT name FROM deferred_indexes")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    // the indexes were built all the same: only the key waits for the row to be mended
    let names: Vec<&String> = keys.iter().map(|(name, _, _)| name).collect();
    assert_eq!(left.iter().collect::<Vec<_>>(), names);
}

#[tokio::test]
async fn a_read_model_with_orders_is_never_deferred() {
    let db = Db::new().await;
    let other = TenantId::new("other");
    let orders = seed::demo_orders(&other, 2, 3);
    seed::apply(&db.pool, &other, &seed::demo_settings(), &orders)
        .await
        .unwrap();
    let before = db.indexes().await;
    let oids = db.index_oids().await;

    assert!(!db.defer_indexes().await);
    assert_eq!(db.count("deferred_indexes").await, 0);
    // a new tenant's load above the threshold still maintains the indexes as it goes
    seed::load_read_model_deferring_from(&db.pool, &TenantId::new("bulk"), 10, 200, 1)
        .await
        .unwrap();
    assert_eq!(db.index_oids().await, oids);
    assert_eq!(db.indexes().await, before);
    assert_eq!(db.count("order_views").await, 203);
}

/// A COPY fed from another thread commits only when told every row was sent: when its
/// producer stops short (fails, panics), the rows it did send are not kept.
#[tokio::test]
async fn a_copy_whose_producer_stops_short_keeps_nothing() {
    use orderdesk::db::orders_copy::{CopyChunk, copy_chunks, encode_rows};
    let db = Db::new().await;
    let tenant = TenantId::new("short");
    let orders = seed::demo_orders(&tenant, 1, 1);
    seed::apply(&db.pool, &tenant, &seed::demo_settings(), &[])
        .await
        .unwrap();
    let row = encode_rows(&orders).unwrap();
    let (send, chunks) = tokio::sync::mpsc::channel(4);
    send.send(CopyChunk::Rows(row.clone())).await.unwrap();
    drop(send);
    let mut conn = db.pool.acquire().await.unwrap();
    let stopped = copy_chunks(&mut conn, chunks).await.unwrap_err();
    assert!(
        stopped.to_string().contains("stopped before the end"),
        "{stopped}"
    );
    assert_eq!(db.count("order_views").await, 0);

    // the same row with its end is written
    let (send, chunks) = tokio::sync::mpsc::channel(4);
    send.send(CopyChunk::Rows(row)).await.unwrap();
    send.send(CopyChunk::End).await.unwrap();
    assert_eq!(copy_chunks(&mut conn, chunks).await.unwrap(), 1);
    assert_eq!(db.count("order_views").await, 1);
}
