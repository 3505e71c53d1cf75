//! The SQLite and PostgreSQL migration sets describe the same schema: after all migrations,
//! both have the same tables, columns (nullability and a coarse type class), primary keys,
//! unique constraints, foreign keys and triggers. A change made to one set only fails here.
//!
//! Needs PostgreSQL (`FRONTDESK_TEST_DATABASE_URL`); without it the tests say so and pass,
//! unless `FRONTDESK_REQUIRE_POSTGRES=1`, where they fail (see `TestDb::postgres`).

use std::collections::{BTreeMap, BTreeSet};

use frontdesk_core::store::Db;
use frontdesk_core::testing::TestDb;
use sqlx::{PgPool, SqlitePool};

/// sqlx's own bookkeeping, not part of Frontdesk's schema.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// One database's schema, normalised so that the two backends compare equal when they mean
/// the same thing.
#[derive(Debug)]
struct Schema {
    /// Which backend this came from, for the words of a difference.
    backend: &'static str,
    tables: BTreeMap<String, Table>,
    /// Trigger name → the table it is on.
    triggers: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct Table {
    columns: BTreeMap<String, Column>,
    /// In declared order.
    primary_key: Vec<String>,
    /// Each unique constraint or unique index as its sorted column list (uniqueness of
    /// (a, b) is the same as of (b, a)).
    unique: BTreeSet<Vec<String>>,
    foreign_keys: BTreeSet<ForeignKey>,
}

#[derive(Debug, Clone, PartialEq)]
struct Column {
    class: TypeClass,
    not_null: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    columns: Vec<String>,
    table: String,
    references: Vec<String>,
    on_delete: String,
}

impl std::fmt::Display for ForeignKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "({}) → {}({}) ON DELETE {}",
            self.columns.join(", "),
            self.table,
            self.references.join(", "),
            self.on_delete
        )
    }
}

/// What kind of value a column holds; spellings differ between backends (INTEGER, BIGINT,
/// INT8 are all integers), meanings should not.
#[derive(Debug, Clone, PartialEq)]
enum TypeClass {
    Integer,
    Text,
    Boolean,
    Blob,
    Real,
    /// A type this test does not classify yet, with its spelling.
    Other(String),
}

/// The class of a declared (SQLite) or formatted (PostgreSQL) type name.
fn type_class(declared: &str) -> TypeClass {
    let lower = declared.trim().to_ascii_lowercase();
    // "character varying(20)" and "varchar(20)" are classed by their name alone.
    let base = lower.split('(').next().unwrap_or_default().trim();
    match base {
        "integer" | "int" | "bigint" | "smallint" | "int2" | "int4" | "int8" | "tinyint"
        | "mediumint" => TypeClass::Integer,
        "text" | "varchar" | "character varying" | "char" | "character" | "clob" => TypeClass::Text,
        "boolean" | "bool" => TypeClass::Boolean,
        "blob" | "bytea" => TypeClass::Blob,
        "real" | "double" | "double precision" | "float" | "float4" | "float8" | "numeric"
        | "decimal" => TypeClass::Real,
        _ => TypeClass::Other(lower),
    }
}

/// The schema of a migrated SQLite database.
async fn sqlite_schema(pool: &SqlitePool) -> Schema {
    let mut schema = Schema {
        backend: "SQLite",
        tables: BTreeMap::new(),
        triggers: BTreeMap::new(),
    };
    // sqlite_* are SQLite's internal tables (sqlite_sequence for AUTOINCREMENT, …).
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(pool)
    .await
    .expect("list SQLite tables");
    for (name,) in tables.into_iter().filter(|(n,)| n != MIGRATIONS_TABLE) {
        let mut table = Table::default();

        let columns: Vec<(String, String, bool, i64)> =
            sqlx::query_as("SELECT name, type, \"notnull\", pk FROM pragma_table_info($1)")
                .bind(&name)
                .fetch_all(pool)
                .await
                .expect("SQLite columns");
        let mut primary_key: Vec<(i64, String)> = Vec::new();
        for (column, declared, not_null, pk) in columns {
            if pk > 0 {
                primary_key.push((pk, column.clone()));
            }
            // SQLite reports a primary-key column as nullable unless it is also declared
            // NOT NULL (a documented legacy quirk; INTEGER PRIMARY KEY is the rowid and is never
            // NULL at all). PostgreSQL makes every primary-key column NOT NULL. The migrations
            // mean "a key is never NULL" on both, so a key column counts as NOT NULL here.
            table.columns.insert(
                column,
                Column {
                    class: type_class(&declared),
                    not_null: not_null || pk > 0,
                },
            );
        }
        primary_key.sort();
        table.primary_key = primary_key.into_iter().map(|(_, c)| c).collect();

        // origin: 'pk' primary key, 'u' UNIQUE constraint, 'c' CREATE [UNIQUE] INDEX.
        let indexes: Vec<(String, bool, String)> =
            sqlx::query_as("SELECT name, \"unique\", origin FROM pragma_index_list($1)")
                .bind(&name)
                .fetch_all(pool)
                .await
                .expect("SQLite indexes");
        for (index, unique, origin) in indexes {
            if !unique || origin == "pk" {
                continue;
            }
            let columns: Vec<(Option<String>,)> =
                sqlx::query_as("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(pool)
                    .await
                    .expect("SQLite index columns");
            table.unique.insert(sorted(
                columns
                    .into_iter()
                    .map(|(c,)| c.unwrap_or_else(|| "(expression)".into()))
                    .collect(),
            ));
        }

        let references: Vec<(i64, String, String, Option<String>, String)> = sqlx::query_as(
            "SELECT id, \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list($1) \
             ORDER BY id, seq",
        )
        .bind(&name)
        .fetch_all(pool)
        .await
        .expect("SQLite foreign keys");
        let mut by_id: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for (id, referenced, from, to, on_delete) in references {
            let key = by_id.entry(id).or_insert_with(|| ForeignKey {
                columns: Vec::new(),
                table: referenced.clone(),
                references: Vec::new(),
                on_delete,
            });
            key.columns.push(from);
            // `REFERENCES t` without a column means t's primary key; resolved below.
            key.references.extend(to);
        }
        for mut key in by_id.into_values() {
            if key.references.is_empty() {
                key.references = sqlite_primary_key(pool, &key.table).await;
            }
            table.foreign_keys.insert(key);
        }

        schema.tables.insert(name, table);
    }

    let triggers: Vec<(String, String)> =
        sqlx::query_as("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
            .fetch_all(pool)
            .await
            .expect("SQLite triggers");
    schema.triggers.extend(triggers);
    schema
}

/// The primary-key columns of a SQLite table, in key order.
async fn sqlite_primary_key(pool: &SqlitePool, table: &str) -> Vec<String> {
    let columns: Vec<(String,)> =
        sqlx::query_as("SELECT name FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk")
            .bind(table)
            .fetch_all(pool)
            .await
            .expect("SQLite primary key");
    columns.into_iter().map(|(c,)| c).collect()
}

/// The schema of a migrated PostgreSQL database (its current schema only).
async fn postgres_schema(pool: &PgPool) -> Schema {
    let mut schema = Schema {
        backend: "PostgreSQL",
        tables: BTreeMap::new(),
        triggers: BTreeMap::new(),
    };
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT c.relname::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')",
    )
    .fetch_all(pool)
    .await
    .expect("list PostgreSQL tables");
    for (name,) in tables.into_iter().filter(|(n,)| n != MIGRATIONS_TABLE) {
        schema.tables.insert(name, Table::default());
    }

    let columns: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                a.attnotnull \
         FROM pg_attribute a \
         JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
           AND a.attnum > 0 AND NOT a.attisdropped",
    )
    .fetch_all(pool)
    .await
    .expect("PostgreSQL columns");
    for (table, column, declared, not_null) in columns {
        if let Some(table) = schema.tables.get_mut(&table) {
            table.columns.insert(
                column,
                Column {
                    class: type_class(&declared),
                    not_null,
                },
            );
        }
    }

    // Primary keys and unique constraints are both unique indexes; expression columns
    // (attnum 0) have no attribute and are named "(expression)", as on SQLite.
    let indexes: Vec<(String, bool, Vec<String>)> = sqlx::query_as(
        "SELECT t.relname::text, ix.indisprimary, \
                ARRAY(SELECT COALESCE(a.attname::text, '(expression)') \
                      FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
                      LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                      ORDER BY k.ord) \
         FROM pg_index ix \
         JOIN pg_class t ON t.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() AND ix.indisunique",
    )
    .fetch_all(pool)
    .await
    .expect("PostgreSQL unique indexes");
    for (table, primary, columns) in indexes {
        let Some(table) = schema.tables.get_mut(&table) else {
            continue;
        };
        if primary {
            table.primary_key = columns;
        } else {
            table.unique.insert(sorted(columns));
        }
    }

    // (table, referenced table, ON DELETE action, columns, referenced columns)
    type Reference = (String, String, String, Vec<String>, Vec<String>);
    let references: Vec<Reference> = sqlx::query_as(
        "SELECT t.relname::text, r.relname::text, \
                CASE c.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' \
                     WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' \
                     WHEN 'd' THEN 'SET DEFAULT' END, \
                ARRAY(SELECT a.attname::text \
                      FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) \
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum \
                      ORDER BY k.ord), \
                ARRAY(SELECT a.attname::text \
                      FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, ord) \
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum \
                      ORDER BY k.ord) \
         FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_class r ON r.oid = c.confrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() AND c.contype = 'f'",
    )
    .fetch_all(pool)
    .await
    .expect("PostgreSQL foreign keys");
    for (table, referenced, on_delete, columns, references) in references {
        if let Some(table) = schema.tables.get_mut(&table) {
            table.foreign_keys.insert(ForeignKey {
                columns,
                table: referenced,
                references,
                on_delete,
            });
        }
    }

    // A PostgreSQL trigger runs a function where SQLite's has its body inline; that
    // function is how the dialect spells a trigger, not a schema object of its own, so only
    // the triggers are compared (by name and table), not the functions. Internal triggers
    // are PostgreSQL's implementation of foreign keys.
    let triggers: Vec<(String, String)> = sqlx::query_as(
        "SELECT tg.tgname::text, t.relname::text FROM pg_trigger tg \
         JOIN pg_class t ON t.oid = tg.tgrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() AND NOT tg.tgisinternal",
    )
    .fetch_all(pool)
    .await
    .expect("PostgreSQL triggers");
    schema.triggers.extend(triggers);

    // SQLite has no exclusion constraints: it spells one as two triggers named after it,
    // `{name}` before an insert and `{name}_update` before an update, which refuse a row
    // that the constraint would.
    let exclusions: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.conname::text, t.relname::text FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() AND c.contype = 'x'",
    )
    .fetch_all(pool)
    .await
    .expect("PostgreSQL exclusion constraints");
    for (name, table) in exclusions {
        schema
            .triggers
            .insert(format!("{name}_update"), table.clone());
        schema.triggers.insert(name, table);
    }
    schema
}

fn sorted(mut columns: Vec<String>) -> Vec<String> {
    columns.sort();
    columns
}

/// The schema of a test database, whichever backend it is.
async fn schema_of(t: &TestDb) -> Schema {
    match &t.db {
        Db::Sqlite(pool) => sqlite_schema(pool).await,
        Db::Postgres(pool) => postgres_schema(pool).await,
    }
}

/// Each difference between `a` and `b`, in words, in a deterministic order.
fn diff(a: &Schema, b: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    let only_in = |schema: &Schema| format!("exists only in {}", schema.backend);
    for (name, table) in &a.tables {
        let Some(other) = b.tables.get(name) else {
            out.push(format!("table {name} {}", only_in(a)));
            continue;
        };
        for (column, spec) in &table.columns {
            match other.columns.get(column) {
                None => out.push(format!("column {name}.{column} {}", only_in(a))),
                Some(theirs) => {
                    if spec.class != theirs.class {
                        out.push(format!(
                            "column {name}.{column} is {:?} in {} but {:?} in {}",
                            spec.class, a.backend, theirs.class, b.backend
                        ));
                    }
                    if spec.not_null != theirs.not_null {
                        let null = |n: bool| if n { "NOT NULL" } else { "nullable" };
                        out.push(format!(
                            "column {name}.{column} is {} in {} but {} in {}",
                            null(spec.not_null),
                            a.backend,
                            null(theirs.not_null),
                            b.backend
                        ));
                    }
                }
            }
        }
        for column in other.columns.keys() {
            if !table.columns.contains_key(column) {
                out.push(format!("column {name}.{column} {}", only_in(b)));
            }
        }
        if table.primary_key != other.primary_key {
            out.push(format!(
                "primary key of {name} is ({}) in {} but ({}) in {}",
                table.primary_key.join(", "),
                a.backend,
                other.primary_key.join(", "),
                b.backend
            ));
        }
        for unique in table.unique.difference(&other.unique) {
            out.push(format!(
                "unique ({}) on {name} {}",
                unique.join(", "),
                only_in(a)
            ));
        }
        for unique in other.unique.difference(&table.unique) {
            out.push(format!(
                "unique ({}) on {name} {}",
                unique.join(", "),
                only_in(b)
            ));
        }
        for key in table.foreign_keys.difference(&other.foreign_keys) {
            out.push(format!("foreign key {name}{key} {}", only_in(a)));
        }
        for key in other.foreign_keys.difference(&table.foreign_keys) {
            out.push(format!("foreign key {name}{key} {}", only_in(b)));
        }
    }
    for name in b.tables.keys() {
        if !a.tables.contains_key(name) {
            out.push(format!("table {name} {}", only_in(b)));
        }
    }
    for (trigger, table) in &a.triggers {
        match b.triggers.get(trigger) {
            None => out.push(format!("trigger {trigger} (on {table}) {}", only_in(a))),
            Some(theirs) if theirs != table => out.push(format!(
                "trigger {trigger} is on {table} in {} but on {theirs} in {}",
                a.backend, b.backend
            )),
            Some(_) => {}
        }
    }
    for (trigger, table) in &b.triggers {
        if !a.triggers.contains_key(trigger) {
            out.push(format!("trigger {trigger} (on {table}) {}", only_in(b)));
        }
    }
    out
}

/// Both backends, freshly migrated, or `None` (after saying so) when PostgreSQL is not
/// configured and not required.
async fn both() -> Option<(TestDb, TestDb)> {
    let Some(postgres) = TestDb::postgres().await else {
        eprintln!(
            "PostgreSQL not configured ({}): nothing to compare SQLite with",
            frontdesk_core::testing::POSTGRES_URL_VAR
        );
        return None;
    };
    Some((TestDb::sqlite().await, postgres))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_have_the_same_schema_after_all_migrations() {
    let Some((sqlite, postgres)) = both().await else {
        return;
    };
    let (a, b) = (schema_of(&sqlite).await, schema_of(&postgres).await);
    // Guards against an introspection that silently finds nothing on either side.
    assert!(a.tables.contains_key("tenants"), "{a:#?}");
    assert!(b.tables.contains_key("tenants"), "{b:#?}");
    let differences = diff(&a, &b);
    assert!(
        differences.is_empty(),
        "the migration sets differ:\n  {}",
        differences.join("\n  ")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_added_to_one_backend_only_is_named_as_the_one_difference() {
    let Some((sqlite, postgres)) = both().await else {
        return;
    };
    let Db::Sqlite(pool) = &sqlite.db else {
        unreachable!("TestDb::sqlite is SQLite")
    };
    sqlx::query("ALTER TABLE tenants ADD COLUMN drift TEXT")
        .execute(pool)
        .await
        .unwrap();
    let differences = diff(&schema_of(&sqlite).await, &schema_of(&postgres).await);
    assert_eq!(
        differences,
        ["column tenants.drift exists only in SQLite"],
        "{differences:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_created_on_one_backend_only_is_named_as_the_one_difference() {
    let Some((sqlite, postgres)) = both().await else {
        return;
    };
    let Db::Postgres(pool) = &postgres.db else {
        unreachable!("TestDb::postgres is PostgreSQL")
    };
    sqlx::query(
        "CREATE FUNCTION tenants_drift() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN RETURN NEW; END; $$",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "CREATE TRIGGER tenants_drift BEFORE UPDATE ON tenants \
         FOR EACH ROW EXECUTE FUNCTION tenants_drift()",
    )
    .execute(pool)
    .await
    .unwrap();
    let differences = diff(&schema_of(&sqlite).await, &schema_of(&postgres).await);
    assert_eq!(
        differences,
        ["trigger tenants_drift (on tenants) exists only in PostgreSQL"],
        "{differences:#?}"
    );
}

#[test]
fn type_spellings_of_both_backends_fall_into_the_same_class() {
    for integer in ["INTEGER", "BIGINT", "bigint", "int8", "INT4", "smallint"] {
        assert_eq!(type_class(integer), TypeClass::Integer, "{integer}");
    }
    for text in ["TEXT", "text", "VARCHAR(20)", "character varying(20)"] {
        assert_eq!(type_class(text), TypeClass::Text, "{text}");
    }
    assert_eq!(type_class("BOOLEAN"), TypeClass::Boolean);
    assert_eq!(type_class("bytea"), TypeClass::Blob);
    assert_eq!(type_class("double precision"), TypeClass::Real);
    assert_eq!(
        type_class("timestamp with time zone"),
        TypeClass::Other("timestamp with time zone".into())
    );
}
