//! The built-in generator source (`"streamType": "generator"`): synthetic rows for the
//! quickstart and benchmarks, at a steady rate per partition. Each value is a hash of
//! (partition, offset, column), so a partition's rows are reproducible by offset —
//! except the time column, which is the wall clock when the row is made.

use std::time::Instant;

use tessera_config::{DataType, FieldSpec, Schema};
use tessera_segment::Value;

const WORDS: [&str; 24] = [
    "checkout", "search", "login", "timeout", "error", "cart", "payment", "retry", "mobile",
    "desktop", "slow", "fast", "cache", "miss", "hit", "api", "gateway", "user", "session",
    "click", "view", "scroll", "signup", "logout",
];
const COUNTRIES: [&str; 12] = [
    "US", "DE", "FR", "IN", "BR", "JP", "GB", "CA", "MX", "NL", "ES", "KR",
];

/// Rows made per writer-loop turn, so memory stays bounded at any rate.
const MAX_ROWS_PER_CALL: u64 = 16_384;

#[derive(Debug)]
pub(crate) struct Generator {
    fields: Vec<FieldSpec>,
    time_column: Option<String>,
    partition: u32,
    started: Instant,
    produced: u64,
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Generator {
    pub(crate) fn new(schema: &Schema, time_column: Option<&str>, partition: u32) -> Generator {
        Generator {
            fields: schema.fields.clone(),
            time_column: time_column.map(str::to_string),
            partition,
            started: Instant::now(),
            produced: 0,
        }
    }

    /// Rows to make now to keep `rate` rows per second: at most [`MAX_ROWS_PER_CALL`];
    /// a generator that falls behind by more than a second skips the rest.
    pub(crate) fn rows_due(&mut self, rate: u64) -> u64 {
        let target = (self.started.elapsed().as_secs_f64() * rate as f64) as u64;
        self.produced = self.produced.max(target.saturating_sub(rate.max(1)));
        let due = target.saturating_sub(self.produced).min(MAX_ROWS_PER_CALL);
        self.produced += due;
        due
    }

    /// Whether rows are due right now (the writer then does not wait).
    pub(crate) fn behind(&self, rate: u64) -> bool {
        let target = (self.started.elapsed().as_secs_f64() * rate as f64) as u64;
        target > self.produced
    }

    /// The row at `offset`.
    pub(crate) fn row(&self, offset: u64) -> Vec<Value> {
        let now = super::now_ms();
        self.fields
            .iter()
            .enumerate()
            .map(|(index, field)| {
                let seed = mix(offset ^ (u64::from(self.partition) << 48) ^ ((index as u64) << 40));
                if self.time_column.as_deref() == Some(field.name.as_str()) {
                    return match field.data_type {
                        DataType::Int => Value::Int((now / 1000) as i32),
                        DataType::Long => Value::Long(now),
                        _ => Value::Timestamp(now),
                    };
                }
                if !field.single_value {
                    let count = seed % 4;
                    return Value::Array(
                        (0..count)
                            .map(|i| Value::String(WORDS[(mix(seed + i) % 8) as usize].to_string()))
                            .collect(),
                    );
                }
                value_for(field, seed, offset)
            })
            .collect()
    }
}

fn value_for(field: &FieldSpec, seed: u64, offset: u64) -> Value {
    let name = field.name.to_ascii_lowercase();
    match field.data_type {
        DataType::Int => Value::Int((seed % 1000) as i32),
        DataType::Long if name.ends_with("id") => Value::Long(offset as i64),
        DataType::Long => Value::Long((seed % 100_000) as i64),
        // Skewed like a latency: most small, a long tail.
        DataType::Double => {
            Value::Double(((seed % 10_000) as f64 / 100.0).powf(1.5).round() / 10.0)
        }
        DataType::Float => Value::Float((seed % 1000) as f32 / 10.0),
        DataType::Boolean => Value::Boolean(seed.is_multiple_of(2)),
        DataType::Timestamp => Value::Timestamp(super::now_ms()),
        DataType::Bytes => Value::Bytes(seed.to_le_bytes().to_vec()),
        DataType::Json => Value::Json(format!("{{\"n\": {}}}", seed % 100)),
        DataType::String if name.contains("country") => {
            // Zipf-ish: the first countries are far more common.
            let pick = ((seed % 1000) as f64 / 1000.0).powi(3) * COUNTRIES.len() as f64;
            Value::String(COUNTRIES[(pick as usize).min(COUNTRIES.len() - 1)].to_string())
        }
        DataType::String if name.contains("user") || name.ends_with("id") => {
            Value::String(format!("u{:06}", seed % 200_000))
        }
        DataType::String if name.contains("message") || name.contains("text") => Value::String(
            (0..6)
                .map(|i| WORDS[(mix(seed + i) % WORDS.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(" "),
        ),
        DataType::String => Value::String(WORDS[(seed % WORDS.len() as u64) as usize].to_string()),
    }
}
