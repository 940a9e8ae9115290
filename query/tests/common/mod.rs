//! A small table with every index kind, built once per test binary.

#![allow(dead_code)]

use std::path::Path;

use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use tessera_config::{Schema, TableConfig};
use tessera_query::Table;
use tessera_segment::{
    BuildOptions, ColumnBatch, ImmutableSegment, SegmentBuilder, SegmentReader, Value,
};

pub const SCHEMA: &str = r#"{
  "schemaName": "t",
  "dimensionFieldSpecs": [
    {"name": "id", "dataType": "LONG"},
    {"name": "s", "dataType": "STRING"},
    {"name": "c", "dataType": "STRING"},
    {"name": "i", "dataType": "INT"},
    {"name": "b", "dataType": "LONG"},
    {"name": "m", "dataType": "STRING", "singleValueField": false},
    {"name": "x", "dataType": "STRING"},
    {"name": "flag", "dataType": "BOOLEAN"}
  ],
  "metricFieldSpecs": [
    {"name": "n", "dataType": "LONG"},
    {"name": "r", "dataType": "DOUBLE"},
    {"name": "f", "dataType": "FLOAT"}
  ],
  "dateTimeFieldSpecs": [
    {"name": "ts", "dataType": "TIMESTAMP", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}
  ]
}"#;

pub const TABLE: &str = r#"{
  "tableName": "t",
  "tableType": "OFFLINE",
  "segmentsConfig": {"timeColumnName": "ts"},
  "tableIndexConfig": {
    "sortedColumn": ["s"],
    "invertedIndexColumns": ["c", "m"],
    "rangeIndexColumns": ["n", "r"],
    "bloomFilterColumns": ["b"],
    "noDictionaryColumns": ["r", "x"]
  },
  "fieldConfigList": [{"name": "x", "encodingType": "RAW", "indexTypes": ["TEXT"]}]
}"#;

/// Deterministic pseudo-random numbers (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub const WORDS: [&str; 8] = [
    "alpha", "beta", "gamma", "delta", "épsilon", "日本", "", "Zeta",
];

fn row(id: i64, rng: &mut Rng) -> Vec<Value> {
    let null = |rng: &mut Rng| rng.below(8) == 0;
    let word = |rng: &mut Rng| WORDS[rng.below(WORDS.len() as u64) as usize].to_string();
    vec![
        Value::Long(id),
        if null(rng) {
            Value::Null
        } else {
            Value::String(word(rng))
        },
        if null(rng) {
            Value::Null
        } else {
            Value::String(word(rng))
        },
        if null(rng) {
            Value::Null
        } else {
            Value::Int(rng.below(20) as i32 - 10)
        },
        if null(rng) {
            Value::Null
        } else {
            Value::Long(rng.below(1000) as i64)
        },
        if null(rng) {
            Value::Null
        } else {
            Value::Array(
                (0..rng.below(4))
                    .map(|_| Value::String(word(rng)))
                    .collect(),
            )
        },
        if null(rng) {
            Value::Null
        } else {
            Value::String(format!("{} {} {}", word(rng), word(rng), word(rng)))
        },
        if null(rng) {
            Value::Null
        } else {
            Value::Boolean(rng.below(2) == 0)
        },
        if null(rng) {
            Value::Null
        } else {
            Value::Long(rng.below(50) as i64 - 25)
        },
        if null(rng) {
            Value::Null
        } else {
            Value::Double((rng.below(400) as f64) / 4.0 - 50.0)
        },
        if null(rng) {
            Value::Null
        } else {
            Value::Float((rng.below(64) as f32) / 8.0)
        },
        Value::Timestamp(1_704_067_200_000 + rng.below(30 * 86_400) as i64 * 1000),
    ]
}

fn build(dir: &Path, index: u32, rows: &[Vec<Value>]) -> ImmutableSegment {
    let schema = Schema::from_json(SCHEMA).expect("schema").value;
    let table = TableConfig::from_json(TABLE, &schema).expect("table").value;
    let mut builder = SegmentBuilder::new(&schema, &table).expect("builder");
    builder
        .add_batch(&ColumnBatch::from_rows(&schema, rows).expect("batch"))
        .expect("add");
    let path = dir.join(format!("t_{index}.tseg"));
    let options = BuildOptions {
        sequence: index,
        ..BuildOptions::default()
    };
    builder.finish(&path, &options).expect("build");
    ImmutableSegment::open(&path).expect("open")
}

/// The rows a query returns on `table`, each in its debug form (for comparing two
/// ways of answering), or the error message.
pub fn result_rows(
    table: &Table,
    sql: &str,
    options: tessera_query::QueryOptions,
) -> Result<Vec<String>, String> {
    let outcome =
        tessera_query::run(sql, options, std::slice::from_ref(table)).map_err(|e| e.message)?;
    Ok(outcome
        .result
        .rows
        .iter()
        .map(|r| format!("{r:?}"))
        .collect())
}

/// One segment of `t` with 60,000 rows (235 chunks of `x`) whose `x` is three words of
/// 40, every 97th capitalized, with two phrases planted: `w1ord w2ord w3ord` in every
/// 3,000th row and `w7ord zz w8ord` in every 2,000th. Those are rare enough for the
/// text index's candidates to leave most chunks unread.
pub fn wordy_table() -> &'static Table {
    static TABLE_CELL: OnceLock<Table> = OnceLock::new();
    TABLE_CELL.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let mut rng = Rng(7);
        let word = |n: u64| format!("w{}ord", n % 40);
        let rows: Vec<Vec<Value>> = (0..60_000)
            .map(|id| {
                let mut row = row(id, &mut rng);
                let text = match id {
                    _ if id % 3_000 == 7 => "w1ord w2ord w3ord".to_string(),
                    _ if id % 2_000 == 11 => "w7ord zz w8ord".to_string(),
                    _ => format!(
                        "{} {} {}",
                        word(rng.below(40)),
                        word(rng.below(40)),
                        word(rng.below(40))
                    ),
                };
                row[6] = Value::String(if id % 97 == 0 {
                    text.to_uppercase()
                } else {
                    text
                });
                row
            })
            .collect();
        let segments: Vec<Arc<dyn SegmentReader>> = vec![Arc::new(build(&dir, 9, &rows))];
        Table::from_segments(segments).expect("table")
    })
}

/// Two segments of `t` (1,500 and 700 rows) plus the rows themselves.
pub fn table() -> &'static (Table, Vec<Vec<Value>>) {
    static TABLE_CELL: OnceLock<(Table, Vec<Vec<Value>>)> = OnceLock::new();
    TABLE_CELL.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let mut rng = Rng(42);
        let rows: Vec<Vec<Value>> = (0..2200).map(|id| row(id, &mut rng)).collect();
        let segments: Vec<Arc<dyn SegmentReader>> = vec![
            Arc::new(build(&dir, 0, &rows[..1500])),
            Arc::new(build(&dir, 1, &rows[1500..])),
        ];
        (Table::from_segments(segments).expect("table"), rows)
    })
}

fn literal_for(column: &str, pick: u64) -> String {
    match column {
        "s" | "c" | "m" | "x" => format!("'{}'", WORDS[(pick % 8) as usize]),
        "i" => ((pick % 24) as i64 - 12).to_string(),
        "b" => format!("{}", pick % 1100),
        "n" => {
            if pick.is_multiple_of(5) {
                format!("{}.5", pick % 50)
            } else {
                format!("{}", (pick % 60) as i64 - 30)
            }
        }
        "r" => format!("{}", (pick % 440) as f64 / 4.0 - 55.0),
        "f" => format!("{}", (pick % 70) as f64 / 8.0),
        "ts" => format!("TIMESTAMP '2024-01-{:02} 00:00:00'", 1 + pick % 31),
        "flag" => {
            if pick.is_multiple_of(2) {
                "true".into()
            } else {
                "false".into()
            }
        }
        _ => "0".into(),
    }
}

const COLUMNS: [&str; 11] = ["s", "c", "i", "b", "n", "r", "f", "ts", "m", "x", "flag"];

pub fn leaf() -> impl Strategy<Value = String> {
    (
        0usize..COLUMNS.len(),
        0u64..1_000_000,
        0u64..1_000_000,
        0u8..9,
    )
        .prop_map(|(c, a, b, kind)| {
            let column = COLUMNS[c];
            let single = column != "m";
            match kind {
                0 => format!("{column} = {}", literal_for(column, a)),
                1 if single => format!("{column} <> {}", literal_for(column, a)),
                2 if column != "flag" => {
                    let op = ["<", "<=", ">", ">="][(a % 4) as usize];
                    format!("{column} {op} {}", literal_for(column, b))
                }
                3 if single && column != "flag" => format!(
                    "{column} BETWEEN {} AND {}",
                    literal_for(column, a),
                    literal_for(column, b)
                ),
                4 => format!(
                    "{column} IN ({}, {})",
                    literal_for(column, a),
                    literal_for(column, b)
                ),
                5 if single => format!(
                    "{column} NOT IN ({}, {})",
                    literal_for(column, a),
                    literal_for(column, b)
                ),
                6 => format!("{column} IS {}NULL", if a % 2 == 0 { "NOT " } else { "" }),
                7 if matches!(column, "s" | "c" | "x" | "m") => {
                    // Words of 3+ characters in other shapes than `%word%`: the text
                    // index's candidates on `x`.
                    let pattern = [
                        "a%",
                        "%a%",
                        "_e%",
                        "%日%",
                        "",
                        "%",
                        "be__",
                        "%eta%",
                        "%Zet%",
                        "%ZETA%",
                        "alpha%",
                        "%gamma",
                        "beta gamma delta",
                        "%Zeta alpha%",
                        "al_ha beta%",
                        "%épsilon Zeta",
                    ][(a % 16) as usize];
                    let not = if single && b % 2 == 0 { "NOT " } else { "" };
                    if column == "x" && b % 3 == 0 {
                        let regex =
                            ["gam.*Zeta", "^alpha beta", "lta$", "(?i)zeta"][(a % 4) as usize];
                        return format!("{not}REGEXP_LIKE({column}, '{regex}')");
                    }
                    format!("{column} {not}LIKE '{pattern}'")
                }
                _ => format!("{column} IS NULL"),
            }
        })
}

/// A random WHERE clause over every column kind of `t` (shared by the index-vs-scan and
/// consuming-vs-sealed properties).
pub fn predicate() -> impl Strategy<Value = String> {
    leaf().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| format!("({})", v.join(" AND "))),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|v| format!("({})", v.join(" OR "))),
            inner.prop_map(|p| format!("NOT ({p})")),
        ]
    })
}

/// The same 40,000 rows of `t` as eight segments of 5,000 and as one segment, plus the
/// rows. Grouped by `b, i` (about 21,000 groups), every segment holds thousands of
/// groups, so the per-thread merges of a query fold large sorted group sets together.
pub fn segmented_tables() -> &'static (Table, Table, Vec<Vec<Value>>) {
    static TABLES: OnceLock<(Table, Table, Vec<Vec<Value>>)> = OnceLock::new();
    TABLES.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let mut rng = Rng(1234);
        let rows: Vec<Vec<Value>> = (0..40_000).map(|id| row(id, &mut rng)).collect();
        let segments: Vec<Arc<dyn SegmentReader>> = rows
            .chunks(5_000)
            .enumerate()
            .map(|(i, chunk)| Arc::new(build(&dir, 20 + i as u32, chunk)) as Arc<dyn SegmentReader>)
            .collect();
        let whole: Vec<Arc<dyn SegmentReader>> = vec![Arc::new(build(&dir, 40, &rows))];
        (
            Table::from_segments(segments).expect("table"),
            Table::from_segments(whole).expect("table"),
            rows,
        )
    })
}
