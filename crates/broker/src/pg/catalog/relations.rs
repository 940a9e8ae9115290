//! The virtual `pg_catalog` and `information_schema` relations, built from the live
//! tables for each catalog query: what psql's `\dt` / `\d`, Grafana's metadata queries
//! and BI tools read. Tessera tables live in schema `public`.

use std::collections::HashMap;

use pgwire::api::Type;
use tessera_query::types::ColumnType;

use crate::pg::values::{Cell, pg_type};

/// OID of schema `pg_catalog`.
pub const PG_CATALOG_OID: i64 = 11;
/// OID of schema `public`.
pub const PUBLIC_OID: i64 = 2200;
/// OID of schema `information_schema`.
pub const INFORMATION_SCHEMA_OID: i64 = 13_000;
/// The first table OID (PostgreSQL's first user OID).
pub const FIRST_TABLE_OID: i64 = 16_384;

/// A table's OID: stable across restarts and other tables coming and going (a hash of
/// its name above [`FIRST_TABLE_OID`]); `taken` resolves the rare collision.
pub fn table_oid(name: &str, taken: &[i64]) -> i64 {
    let mut oid = FIRST_TABLE_OID + i64::from(crc32fast::hash(name.as_bytes()) & 0x3fff_ffff);
    while taken.contains(&oid) {
        oid += 1;
    }
    oid
}
/// The database's OID.
pub const DATABASE_OID: i64 = 16_383;
/// The one role.
const ROLE_OID: i64 = 10;

/// A Tessera table as the catalog shows it.
#[derive(Debug, Clone)]
pub struct CatalogTable {
    pub oid: i64,
    pub name: String,
    pub columns: Vec<(String, ColumnType)>,
    pub rows: u64,
    pub bytes: u64,
}

/// What a catalog query can see: the tables and the session.
#[derive(Debug, Clone)]
pub struct CatalogContext {
    pub tables: Vec<CatalogTable>,
    /// Session settings (lower-case names) over the server's defaults.
    pub settings: HashMap<String, String>,
    pub user: String,
    pub database: String,
}

impl CatalogContext {
    pub fn setting(&self, name: &str) -> Option<String> {
        let name = name.to_ascii_lowercase();
        self.settings
            .get(&name)
            .cloned()
            .or_else(|| default_setting(&name))
    }

    /// Every setting: the defaults overridden by the session's, by name.
    pub fn all_settings(&self) -> Vec<(String, String)> {
        let mut all: std::collections::BTreeMap<String, String> =
            default_settings().into_iter().collect();
        all.extend(self.settings.clone());
        all.into_iter().collect()
    }
}

/// The PostgreSQL version Tessera's wire speaks as (psql and Grafana read it).
pub const SERVER_VERSION: &str = "15.0";
pub const SERVER_VERSION_NUM: &str = "150000";

/// Settings clients read with `SHOW` or `current_setting` (lower-case names), and
/// Tessera's query options with their defaults (`SET timeoutMs = ...` changes them).
pub fn default_settings() -> Vec<(String, String)> {
    let options = tessera_query::QueryOptions::default();
    let mut settings: Vec<(String, String)> = [
        ("server_version", SERVER_VERSION),
        ("server_version_num", SERVER_VERSION_NUM),
        ("search_path", "\"$user\", public"),
        ("server_encoding", "UTF8"),
        ("client_encoding", "UTF8"),
        ("datestyle", "ISO, MDY"),
        ("timezone", "UTC"),
        ("log_timezone", "UTC"),
        ("integer_datetimes", "on"),
        ("standard_conforming_strings", "on"),
        ("intervalstyle", "postgres"),
        ("is_superuser", "off"),
        ("transaction_isolation", "read committed"),
        ("default_transaction_isolation", "read committed"),
        ("transaction_read_only", "on"),
        ("default_transaction_read_only", "on"),
        ("max_identifier_length", "63"),
        ("max_index_keys", "32"),
        ("lc_collate", "C.UTF-8"),
        ("lc_ctype", "C.UTF-8"),
        ("lc_messages", "C.UTF-8"),
        ("lc_monetary", "C.UTF-8"),
        ("lc_numeric", "C.UTF-8"),
        ("lc_time", "C.UTF-8"),
        ("application_name", ""),
        ("extra_float_digits", "1"),
        ("bytea_output", "hex"),
        ("statement_timeout", "0"),
        ("lock_timeout", "0"),
        ("idle_in_transaction_session_timeout", "0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    settings.extend([
        ("timeoutms".to_string(), options.timeout_ms.to_string()),
        (
            "numgroupslimit".to_string(),
            if options.num_groups_limit == usize::MAX {
                "unlimited".to_string()
            } else {
                options.num_groups_limit.to_string()
            },
        ),
        ("maxrows".to_string(), options.max_rows.to_string()),
        ("useindexes".to_string(), options.use_indexes.to_string()),
    ]);
    settings
}

pub fn default_setting(name: &str) -> Option<String> {
    default_settings()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// A relation: named, typed columns and its rows. An `open` relation (a catalog table
/// Tessera keeps empty) reads any column as NULL.
#[derive(Debug, Clone, Default)]
pub struct Relation {
    pub columns: Vec<(String, Type)>,
    pub rows: Vec<Vec<Cell>>,
    pub open: bool,
}

impl Relation {
    fn new(columns: &[(&str, Type)]) -> Relation {
        Relation {
            columns: columns
                .iter()
                .map(|(n, t)| (n.to_string(), t.clone()))
                .collect(),
            rows: Vec::new(),
            open: false,
        }
    }

    fn open() -> Relation {
        Relation {
            open: true,
            ..Relation::default()
        }
    }
}

fn text(v: &str) -> Cell {
    Cell::Text(v.to_string())
}

/// SQL's name for a type, as `format_type` prints it.
pub fn format_type(ty: &Type) -> String {
    let base = |t: &Type| -> String {
        match *t {
            Type::BOOL => "boolean".into(),
            Type::INT2 => "smallint".into(),
            Type::INT4 => "integer".into(),
            Type::INT8 => "bigint".into(),
            Type::FLOAT4 => "real".into(),
            Type::FLOAT8 => "double precision".into(),
            Type::TIMESTAMP => "timestamp without time zone".into(),
            Type::TIMESTAMPTZ => "timestamp with time zone".into(),
            Type::VARCHAR => "character varying".into(),
            Type::CHAR => "\"char\"".into(),
            ref other => other.name().to_string(),
        }
    };
    match ty.kind() {
        postgres_types::Kind::Array(element) => format!("{}[]", base(element)),
        _ => base(ty),
    }
}

/// `information_schema.columns.data_type`: arrays are `ARRAY`.
fn information_schema_type(ty: &Type) -> String {
    match ty.kind() {
        postgres_types::Kind::Array(_) => "ARRAY".into(),
        _ => format_type(ty),
    }
}

/// Every type Tessera's columns and catalog use, for `pg_type`.
const TYPES: &[Type] = &[
    Type::BOOL,
    Type::BYTEA,
    Type::CHAR,
    Type::NAME,
    Type::INT8,
    Type::INT2,
    Type::INT4,
    Type::TEXT,
    Type::OID,
    Type::JSON,
    Type::FLOAT4,
    Type::FLOAT8,
    Type::VARCHAR,
    Type::TIMESTAMP,
    Type::TIMESTAMPTZ,
    Type::NUMERIC,
    Type::BOOL_ARRAY,
    Type::BYTEA_ARRAY,
    Type::INT8_ARRAY,
    Type::INT4_ARRAY,
    Type::TEXT_ARRAY,
    Type::FLOAT4_ARRAY,
    Type::FLOAT8_ARRAY,
    Type::TIMESTAMP_ARRAY,
    Type::JSON_ARRAY,
];

fn type_len(ty: &Type) -> i64 {
    match *ty {
        Type::BOOL | Type::CHAR => 1,
        Type::INT2 => 2,
        Type::INT4 | Type::OID | Type::FLOAT4 => 4,
        Type::INT8 | Type::FLOAT8 | Type::TIMESTAMP | Type::TIMESTAMPTZ => 8,
        Type::NAME => 64,
        _ => -1,
    }
}

/// The relation `name` (lower case, schema already resolved) or `None` when unknown.
pub fn relation(schema: &str, name: &str, ctx: &CatalogContext) -> Option<Relation> {
    match (schema, name) {
        ("pg_catalog", "pg_namespace") => Some(pg_namespace()),
        ("pg_catalog", "pg_class") => Some(pg_class(ctx)),
        ("pg_catalog", "pg_attribute") => Some(pg_attribute(ctx)),
        ("pg_catalog", "pg_type") => Some(pg_type_relation()),
        ("pg_catalog", "pg_database") => Some(pg_database(ctx)),
        ("pg_catalog", "pg_am") => Some(pg_am()),
        ("pg_catalog", "pg_roles" | "pg_user" | "pg_authid") => Some(pg_roles(ctx)),
        ("pg_catalog", "pg_settings") => Some(pg_settings(ctx)),
        ("pg_catalog", "pg_tables") => Some(pg_tables(ctx)),
        ("pg_catalog", "pg_extension") => Some(Relation::new(&[
            ("oid", Type::OID),
            ("extname", Type::NAME),
            ("extowner", Type::OID),
            ("extnamespace", Type::OID),
            ("extversion", Type::TEXT),
        ])),
        // Catalogs Tessera has nothing in (indexes, constraints, triggers, policies,
        // inheritance, publications, descriptions, ...): empty, any column reads NULL.
        ("pg_catalog", other) if other.starts_with("pg_") => Some(Relation::open()),
        ("information_schema", "schemata") => Some(schemata(ctx)),
        ("information_schema", "tables") => Some(information_schema_tables(ctx)),
        ("information_schema", "columns") => Some(information_schema_columns(ctx)),
        ("information_schema", _) => Some(Relation::open()),
        _ => None,
    }
}

fn pg_namespace() -> Relation {
    let mut r = Relation::new(&[
        ("oid", Type::OID),
        ("nspname", Type::NAME),
        ("nspowner", Type::OID),
        ("nspacl", Type::TEXT),
    ]);
    for (oid, name) in [
        (PG_CATALOG_OID, "pg_catalog"),
        (PUBLIC_OID, "public"),
        (INFORMATION_SCHEMA_OID, "information_schema"),
    ] {
        r.rows.push(vec![
            Cell::Int(oid),
            text(name),
            Cell::Int(ROLE_OID),
            Cell::Null,
        ]);
    }
    r
}

fn pg_class(ctx: &CatalogContext) -> Relation {
    let mut r = Relation::new(&[
        ("oid", Type::OID),
        ("relname", Type::NAME),
        ("relnamespace", Type::OID),
        ("reltype", Type::OID),
        ("reloftype", Type::OID),
        ("relowner", Type::OID),
        ("relam", Type::OID),
        ("relfilenode", Type::OID),
        ("reltablespace", Type::OID),
        ("relpages", Type::INT4),
        ("reltuples", Type::FLOAT4),
        ("relallvisible", Type::INT4),
        ("reltoastrelid", Type::OID),
        ("relhasindex", Type::BOOL),
        ("relisshared", Type::BOOL),
        ("relpersistence", Type::CHAR),
        ("relkind", Type::CHAR),
        ("relnatts", Type::INT2),
        ("relchecks", Type::INT2),
        ("relhasrules", Type::BOOL),
        ("relhastriggers", Type::BOOL),
        ("relhassubclass", Type::BOOL),
        ("relrowsecurity", Type::BOOL),
        ("relforcerowsecurity", Type::BOOL),
        ("relispopulated", Type::BOOL),
        ("relreplident", Type::CHAR),
        ("relispartition", Type::BOOL),
        ("relrewrite", Type::OID),
        ("relfrozenxid", Type::INT8),
        ("relminmxid", Type::INT8),
        ("relacl", Type::TEXT),
        ("reloptions", Type::TEXT_ARRAY),
        ("relpartbound", Type::TEXT),
    ]);
    for table in &ctx.tables {
        r.rows.push(vec![
            Cell::Int(table.oid),
            text(&table.name),
            Cell::Int(PUBLIC_OID),
            Cell::Int(0),
            Cell::Int(0),
            Cell::Int(ROLE_OID),
            Cell::Int(2),
            Cell::Int(table.oid),
            Cell::Int(0),
            Cell::Int((table.bytes / 8192) as i64),
            Cell::Float(table.rows as f64),
            Cell::Int(0),
            Cell::Int(0),
            Cell::Bool(false),
            Cell::Bool(false),
            text("p"),
            text("r"),
            Cell::Int(table.columns.len() as i64),
            Cell::Int(0),
            Cell::Bool(false),
            Cell::Bool(false),
            Cell::Bool(false),
            Cell::Bool(false),
            Cell::Bool(false),
            Cell::Bool(true),
            text("n"),
            Cell::Bool(false),
            Cell::Int(0),
            Cell::Int(0),
            Cell::Int(0),
            Cell::Null,
            Cell::Null,
            Cell::Null,
        ]);
    }
    r
}

fn pg_attribute(ctx: &CatalogContext) -> Relation {
    let mut r = Relation::new(&[
        ("attrelid", Type::OID),
        ("attname", Type::NAME),
        ("atttypid", Type::OID),
        ("attstattarget", Type::INT4),
        ("attlen", Type::INT2),
        ("attnum", Type::INT2),
        ("attndims", Type::INT4),
        ("atttypmod", Type::INT4),
        ("attbyval", Type::BOOL),
        ("attstorage", Type::CHAR),
        ("attalign", Type::CHAR),
        ("attnotnull", Type::BOOL),
        ("atthasdef", Type::BOOL),
        ("atthasmissing", Type::BOOL),
        ("attidentity", Type::CHAR),
        ("attgenerated", Type::CHAR),
        ("attisdropped", Type::BOOL),
        ("attislocal", Type::BOOL),
        ("attinhcount", Type::INT4),
        ("attcollation", Type::OID),
        ("attacl", Type::TEXT),
        ("attoptions", Type::TEXT_ARRAY),
        ("attfdwoptions", Type::TEXT_ARRAY),
    ]);
    for table in &ctx.tables {
        for (i, (name, ty)) in table.columns.iter().enumerate() {
            let pg = pg_type(*ty);
            let is_array = !ty.single_value;
            r.rows.push(vec![
                Cell::Int(table.oid),
                text(name),
                Cell::Int(i64::from(pg.oid())),
                Cell::Int(-1),
                Cell::Int(type_len(&pg)),
                Cell::Int(i as i64 + 1),
                Cell::Int(i64::from(is_array)),
                Cell::Int(-1),
                Cell::Bool(type_len(&pg) > 0),
                text(if type_len(&pg) > 0 { "p" } else { "x" }),
                text("d"),
                Cell::Bool(false),
                Cell::Bool(false),
                Cell::Bool(false),
                text(""),
                text(""),
                Cell::Bool(false),
                Cell::Bool(true),
                Cell::Int(0),
                Cell::Int(0),
                Cell::Null,
                Cell::Null,
                Cell::Null,
            ]);
        }
    }
    r
}

fn pg_type_relation() -> Relation {
    let mut r = Relation::new(&[
        ("oid", Type::OID),
        ("typname", Type::NAME),
        ("typnamespace", Type::OID),
        ("typowner", Type::OID),
        ("typlen", Type::INT2),
        ("typbyval", Type::BOOL),
        ("typtype", Type::CHAR),
        ("typcategory", Type::CHAR),
        ("typisdefined", Type::BOOL),
        ("typdelim", Type::CHAR),
        ("typrelid", Type::OID),
        ("typelem", Type::OID),
        ("typarray", Type::OID),
        ("typnotnull", Type::BOOL),
        ("typbasetype", Type::OID),
        ("typtypmod", Type::INT4),
        ("typndims", Type::INT4),
        ("typcollation", Type::OID),
    ]);
    for ty in TYPES {
        let (element, category) = match ty.kind() {
            postgres_types::Kind::Array(element) => (i64::from(element.oid()), "A"),
            _ => (
                0,
                match *ty {
                    Type::BOOL => "B",
                    Type::INT2 | Type::INT4 | Type::INT8 | Type::FLOAT4 | Type::FLOAT8 => "N",
                    Type::NUMERIC | Type::OID => "N",
                    Type::TIMESTAMP | Type::TIMESTAMPTZ => "D",
                    Type::JSON | Type::BYTEA => "U",
                    _ => "S",
                },
            ),
        };
        let array = TYPES
            .iter()
            .find(|t| matches!(t.kind(), postgres_types::Kind::Array(e) if e == ty))
            .map_or(0, |t| i64::from(t.oid()));
        r.rows.push(vec![
            Cell::Int(i64::from(ty.oid())),
            text(ty.name()),
            Cell::Int(PG_CATALOG_OID),
            Cell::Int(ROLE_OID),
            Cell::Int(type_len(ty)),
            Cell::Bool(type_len(ty) > 0),
            text("b"),
            text(category),
            Cell::Bool(true),
            text(","),
            Cell::Int(0),
            Cell::Int(element),
            Cell::Int(array),
            Cell::Bool(false),
            Cell::Int(0),
            Cell::Int(-1),
            Cell::Int(0),
            Cell::Int(0),
        ]);
    }
    r
}

fn pg_database(ctx: &CatalogContext) -> Relation {
    let mut r = Relation::new(&[
        ("oid", Type::OID),
        ("datname", Type::NAME),
        ("datdba", Type::OID),
        ("encoding", Type::INT4),
        ("datcollate", Type::NAME),
        ("datctype", Type::NAME),
        ("datistemplate", Type::BOOL),
        ("datallowconn", Type::BOOL),
        ("datconnlimit", Type::INT4),
        ("datacl", Type::TEXT),
    ]);
    r.rows.push(vec![
        Cell::Int(DATABASE_OID),
        text(&ctx.database),
        Cell::Int(ROLE_OID),
        Cell::Int(6),
        text("C.UTF-8"),
        text("C.UTF-8"),
        Cell::Bool(false),
        Cell::Bool(true),
        Cell::Int(-1),
        Cell::Null,
    ]);
    r
}

fn pg_am() -> Relation {
    let mut r = Relation::new(&[
        ("oid", Type::OID),
        ("amname", Type::NAME),
        ("amtype", Type::CHAR),
    ]);
    r.rows.push(vec![Cell::Int(2), text("heap"), text("t")]);
    r
}

fn pg_roles(ctx: &CatalogContext) -> Relation {
    let mut r = Relation::new(&[
        ("oid", Type::OID),
        ("rolname", Type::NAME),
        ("usename", Type::NAME),
        ("usesysid", Type::OID),
        ("rolsuper", Type::BOOL),
        ("usesuper", Type::BOOL),
        ("rolcanlogin", Type::BOOL),
        ("rolinherit", Type::BOOL),
        ("rolcreaterole", Type::BOOL),
        ("rolcreatedb", Type::BOOL),
        ("rolreplication", Type::BOOL),
        ("rolbypassrls", Type::BOOL),
        ("rolconnlimit", Type::INT4),
        ("rolvaliduntil", Type::TIMESTAMPTZ),
    ]);
    r.rows.push(vec![
        Cell::Int(ROLE_OID),
        text(&ctx.user),
        text(&ctx.user),
        Cell::Int(ROLE_OID),
        Cell::Bool(false),
        Cell::Bool(false),
        Cell::Bool(true),
        Cell::Bool(true),
        Cell::Bool(false),
        Cell::Bool(false),
        Cell::Bool(false),
        Cell::Bool(false),
        Cell::Int(-1),
        Cell::Null,
    ]);
    r
}

fn pg_settings(ctx: &CatalogContext) -> Relation {
    let mut r = Relation::new(&[("name", Type::TEXT), ("setting", Type::TEXT)]);
    for (name, value) in ctx.all_settings() {
        r.rows.push(vec![Cell::Text(name), Cell::Text(value)]);
    }
    r
}

fn pg_tables(ctx: &CatalogContext) -> Relation {
    let mut r = Relation::new(&[
        ("schemaname", Type::NAME),
        ("tablename", Type::NAME),
        ("tableowner", Type::NAME),
        ("tablespace", Type::NAME),
        ("hasindexes", Type::BOOL),
        ("hasrules", Type::BOOL),
        ("hastriggers", Type::BOOL),
        ("rowsecurity", Type::BOOL),
    ]);
    for table in &ctx.tables {
        r.rows.push(vec![
            text("public"),
            text(&table.name),
            text(&ctx.user),
            Cell::Null,
            Cell::Bool(false),
            Cell::Bool(false),
            Cell::Bool(false),
            Cell::Bool(false),
        ]);
    }
    r
}

fn schemata(ctx: &CatalogContext) -> Relation {
    let mut r = Relation::new(&[
        ("catalog_name", Type::NAME),
        ("schema_name", Type::NAME),
        ("schema_owner", Type::NAME),
        ("default_character_set_catalog", Type::NAME),
        ("default_character_set_schema", Type::NAME),
        ("default_character_set_name", Type::NAME),
        ("sql_path", Type::TEXT),
    ]);
    for schema in ["public", "information_schema", "pg_catalog"] {
        r.rows.push(vec![
            text(&ctx.database),
            text(schema),
            text(&ctx.user),
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Null,
        ]);
    }
    r
}

fn information_schema_tables(ctx: &CatalogContext) -> Relation {
    let mut r = Relation::new(&[
        ("table_catalog", Type::NAME),
        ("table_schema", Type::NAME),
        ("table_name", Type::NAME),
        ("table_type", Type::TEXT),
        ("self_referencing_column_name", Type::NAME),
        ("reference_generation", Type::TEXT),
        ("user_defined_type_catalog", Type::NAME),
        ("user_defined_type_schema", Type::NAME),
        ("user_defined_type_name", Type::NAME),
        ("is_insertable_into", Type::TEXT),
        ("is_typed", Type::TEXT),
        ("commit_action", Type::TEXT),
    ]);
    for table in &ctx.tables {
        r.rows.push(vec![
            text(&ctx.database),
            text("public"),
            text(&table.name),
            text("BASE TABLE"),
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Null,
            Cell::Null,
            text("NO"),
            text("NO"),
            Cell::Null,
        ]);
    }
    r
}

fn information_schema_columns(ctx: &CatalogContext) -> Relation {
    let mut r = Relation::new(&[
        ("table_catalog", Type::NAME),
        ("table_schema", Type::NAME),
        ("table_name", Type::NAME),
        ("column_name", Type::NAME),
        ("ordinal_position", Type::INT4),
        ("column_default", Type::TEXT),
        ("is_nullable", Type::TEXT),
        ("data_type", Type::TEXT),
        ("character_maximum_length", Type::INT4),
        ("character_octet_length", Type::INT4),
        ("numeric_precision", Type::INT4),
        ("numeric_precision_radix", Type::INT4),
        ("numeric_scale", Type::INT4),
        ("datetime_precision", Type::INT4),
        ("udt_catalog", Type::NAME),
        ("udt_schema", Type::NAME),
        ("udt_name", Type::NAME),
        ("is_identity", Type::TEXT),
        ("is_generated", Type::TEXT),
        ("is_updatable", Type::TEXT),
    ]);
    for table in &ctx.tables {
        for (i, (name, ty)) in table.columns.iter().enumerate() {
            let pg = pg_type(*ty);
            let (precision, radix) = match pg {
                Type::INT4 => (Cell::Int(32), Cell::Int(2)),
                Type::INT8 => (Cell::Int(64), Cell::Int(2)),
                Type::FLOAT4 => (Cell::Int(24), Cell::Int(2)),
                Type::FLOAT8 => (Cell::Int(53), Cell::Int(2)),
                _ => (Cell::Null, Cell::Null),
            };
            let udt = match pg.kind() {
                postgres_types::Kind::Array(element) => format!("_{}", element.name()),
                _ => pg.name().to_string(),
            };
            r.rows.push(vec![
                text(&ctx.database),
                text("public"),
                text(&table.name),
                text(name),
                Cell::Int(i as i64 + 1),
                Cell::Null,
                text("YES"),
                Cell::Text(information_schema_type(&pg)),
                Cell::Null,
                Cell::Null,
                precision,
                radix,
                if pg == Type::INT4 || pg == Type::INT8 {
                    Cell::Int(0)
                } else {
                    Cell::Null
                },
                if pg == Type::TIMESTAMP {
                    Cell::Int(3)
                } else {
                    Cell::Null
                },
                text(&ctx.database),
                text("pg_catalog"),
                Cell::Text(udt),
                text("NO"),
                text("NEVER"),
                text("NO"),
            ]);
        }
    }
    r
}
