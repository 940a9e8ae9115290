//! The query mix: which query each request sends and the parameter values in it, drawn by
//! one seeded generator so the same scenario sends the same requests in the same order.

use std::collections::BTreeMap;

use anyhow::{Context, bail};

use crate::scenario::{ParamSpec, QuerySpec};

/// xoshiro256** seeded through SplitMix64: small, fast and the same on every machine.
#[derive(Debug, Clone)]
pub struct Rng([u64; 4]);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut state = seed;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng([next(), next(), next(), next()])
    }

    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

/// A value as it is written into SQL: numbers bare, strings quoted by the template.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(String),
    Text(String),
}

impl Value {
    fn from_toml(value: &toml::Value) -> anyhow::Result<Value> {
        Ok(match value {
            toml::Value::String(s) => Value::Text(s.clone()),
            toml::Value::Integer(i) => Value::Number(i.to_string()),
            toml::Value::Float(f) => Value::Number(f.to_string()),
            toml::Value::Boolean(b) => Value::Number(b.to_string()),
            other => bail!("a parameter value must be a string or a number, not {other}"),
        })
    }

    pub fn from_json(value: &serde_json::Value) -> Value {
        match value {
            serde_json::Value::String(s) => Value::Text(s.clone()),
            other => Value::Number(other.to_string()),
        }
    }

    /// Written into the SQL text: a string's single quotes doubled, so `'{p}'` stays one
    /// literal whatever the value holds.
    fn write(&self, out: &mut String) {
        match self {
            Value::Number(n) => out.push_str(n),
            Value::Text(s) => out.push_str(&s.replace('\'', "''")),
        }
    }
}

/// Draws one parameter's values.
#[derive(Debug)]
pub enum Draw {
    /// Consecutive integers from a start (unique ids of generated rows).
    Sequence(std::sync::atomic::AtomicI64),
    Uniform {
        min: i64,
        span: u64,
    },
    Pick(Vec<Value>),
    /// Now (epoch ms) minus one of these many milliseconds.
    Now(Vec<i64>),
    /// `cumulative[k]` is the sum of the weights of values 0..=k.
    Weighted {
        values: Vec<Value>,
        cumulative: Vec<f64>,
    },
}

impl Draw {
    /// The draw a `[params.NAME]` (or an ingest column) asks for; `column_values` holds a
    /// `kind = "column"` parameter's values, read before.
    pub fn new(
        name: &str,
        spec: &ParamSpec,
        column_values: Option<&Vec<Value>>,
    ) -> anyhow::Result<Draw> {
        Ok(match spec {
            ParamSpec::Sequence { start } => {
                Draw::Sequence(std::sync::atomic::AtomicI64::new(*start))
            }
            ParamSpec::Uniform { min, max } => Draw::Uniform {
                min: *min,
                span: max.abs_diff(*min),
            },
            ParamSpec::Choice { values } => Draw::Pick(
                values
                    .iter()
                    .map(Value::from_toml)
                    .collect::<anyhow::Result<_>>()
                    .with_context(|| format!("param `{name}`"))?,
            ),
            ParamSpec::Zipf {
                values,
                n,
                exponent,
            } => {
                let values = match (values, n) {
                    (Some(values), _) => values
                        .iter()
                        .map(Value::from_toml)
                        .collect::<anyhow::Result<_>>()
                        .with_context(|| format!("param `{name}`"))?,
                    (None, Some(n)) => (1..=*n).map(|i| Value::Number(i.to_string())).collect(),
                    (None, None) => bail!("zipf param `{name}` has nothing to draw"),
                };
                Draw::zipf(values, *exponent)
            }
            ParamSpec::Now { minus } => Draw::Now(
                minus
                    .iter()
                    .map(|text| {
                        crate::scenario::parse_duration(text)
                            .map(|d| d.as_millis() as i64)
                            .map_err(|e| anyhow::anyhow!("param `{name}`: {e}"))
                    })
                    .collect::<anyhow::Result<_>>()?,
            ),
            ParamSpec::Column { zipf, .. } => {
                let values = column_values.cloned().unwrap_or_default();
                if values.is_empty() {
                    bail!("param `{name}`: its query returned no values");
                }
                match zipf {
                    Some(exponent) => Draw::zipf(values, *exponent),
                    None => Draw::Pick(values),
                }
            }
        })
    }

    fn zipf(values: Vec<Value>, exponent: f64) -> Draw {
        let mut total = 0.0;
        let cumulative = (1..=values.len())
            .map(|k| {
                total += 1.0 / (k as f64).powf(exponent);
                total
            })
            .collect();
        Draw::Weighted { values, cumulative }
    }

    pub fn sample(&self, rng: &mut Rng) -> Value {
        match self {
            Draw::Sequence(next) => Value::Number(
                next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    .to_string(),
            ),
            Draw::Uniform { min, span } => {
                let offset = if *span == u64::MAX {
                    rng.next_u64()
                } else {
                    rng.below(span + 1)
                };
                Value::Number(min.wrapping_add(offset as i64).to_string())
            }
            Draw::Pick(values) => values[rng.below(values.len() as u64) as usize].clone(),
            Draw::Now(offsets) => {
                let offset = offsets[rng.below(offsets.len() as u64) as usize];
                Value::Number((crate::unix_ms() - offset).to_string())
            }
            Draw::Weighted { values, cumulative } => {
                let total = cumulative.last().copied().unwrap_or(0.0);
                let point = rng.unit() * total;
                let index = cumulative.partition_point(|&c| c <= point);
                values[index.min(values.len() - 1)].clone()
            }
        }
    }
}

#[derive(Debug)]
enum Piece {
    Literal(String),
    Param(usize),
}

/// A query of the mix, its text split at the placeholders.
#[derive(Debug)]
pub struct Template {
    pub name: String,
    pieces: Vec<Piece>,
    pub get: Option<String>,
    pub query_options: Option<String>,
    pub expect_rows: Option<u64>,
}

/// What one request sends.
#[derive(Debug, Clone)]
pub enum Payload {
    Sql(String),
    Get(String),
}

#[derive(Debug)]
pub struct Mix {
    pub templates: Vec<Template>,
    /// Cumulative weights of the templates.
    cumulative: Vec<f64>,
    draws: Vec<Draw>,
    rng: Rng,
}

impl Mix {
    /// `column_values` holds the values read for each `kind = "column"` parameter.
    pub fn new(
        queries: &[QuerySpec],
        params: &BTreeMap<String, ParamSpec>,
        column_values: &BTreeMap<String, Vec<Value>>,
        seed: u64,
    ) -> anyhow::Result<Mix> {
        let names: Vec<&String> = params.keys().collect();
        let mut draws = Vec::new();
        for (name, spec) in params {
            draws.push(Draw::new(name, spec, column_values.get(name))?);
        }
        let mut templates = Vec::new();
        let mut total = 0.0;
        let mut cumulative = Vec::new();
        for query in queries {
            let pieces = match &query.sql {
                Some(sql) => split_template(sql, &names)
                    .with_context(|| format!("query `{}`", query.name))?,
                None => Vec::new(),
            };
            templates.push(Template {
                name: query.name.clone(),
                pieces,
                get: query.get.clone(),
                query_options: query.query_options.clone(),
                expect_rows: query.expect_rows,
            });
            total += query.weight;
            cumulative.push(total);
        }
        Ok(Mix {
            templates,
            cumulative,
            draws,
            rng: Rng::new(seed),
        })
    }

    /// The next request: its template's index and what it sends.
    pub fn next(&mut self) -> (usize, Payload) {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let point = self.rng.unit() * total;
        let index = self
            .cumulative
            .partition_point(|&c| c <= point)
            .min(self.templates.len() - 1);
        let template = &self.templates[index];
        if let Some(path) = &template.get {
            return (index, Payload::Get(path.clone()));
        }
        // A name used twice in one query (`'{year}-01-01' … '{year}-12-31'`) is one value.
        let mut drawn: Vec<Option<Value>> = vec![None; self.draws.len()];
        let mut sql = String::new();
        for piece in &template.pieces {
            match piece {
                Piece::Literal(text) => sql.push_str(text),
                Piece::Param(p) => drawn[*p]
                    .get_or_insert_with(|| self.draws[*p].sample(&mut self.rng))
                    .write(&mut sql),
            }
        }
        (index, Payload::Sql(sql))
    }
}

fn split_template(sql: &str, names: &[&String]) -> anyhow::Result<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let index = names
                    .iter()
                    .position(|n| **n == name)
                    .with_context(|| format!("`{{{name}}}` names no [params.{name}]"))?;
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                pieces.push(Piece::Param(index));
            }
            c => literal.push(c),
        }
    }
    pieces.push(Piece::Literal(literal));
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(seed: u64) -> Mix {
        let scenario: crate::scenario::Scenario = toml::from_str(
            r#"
name = "m"
targets = [{ url = "http://x" }]
phases = [{ kind = "steady", qps = 1, duration = "1s" }]
[[queries]]
name = "a"
weight = 3
sql = "SELECT * FROM t WHERE c = '{country}' AND id = {id} AND s = '{{x}}'"
[[queries]]
name = "b"
sql = "SELECT {rank}"
[params.country]
kind = "choice"
values = ["US", "O'Neil"]
[params.id]
kind = "uniform"
min = 5
max = 7
[params.rank]
kind = "zipf"
n = 100
exponent = 1.2
"#,
        )
        .expect("scenario");
        Mix::new(&scenario.queries, &scenario.params, &BTreeMap::new(), seed).expect("mix")
    }

    #[test]
    fn same_seed_same_requests() {
        let (mut a, mut b, mut c) = (mix(7), mix(7), mix(8));
        let draw =
            |m: &mut Mix| -> Vec<String> { (0..50).map(|_| format!("{:?}", m.next())).collect() };
        let first = draw(&mut a);
        assert_eq!(first, draw(&mut b));
        assert_ne!(first, draw(&mut c));
    }

    #[test]
    fn templates_fill_quote_and_weigh() {
        let mut m = mix(1);
        let mut counts = [0u32; 2];
        let mut ranks = vec![0u32; 101];
        for _ in 0..20_000 {
            let (index, payload) = m.next();
            counts[index] += 1;
            let Payload::Sql(sql) = payload else {
                panic!("sql expected")
            };
            if index == 0 {
                assert!(sql.ends_with("AND s = '{x}'"), "{sql}");
                assert!(
                    sql.contains("c = 'US'") || sql.contains("c = 'O''Neil'"),
                    "{sql}"
                );
                let id: i64 = sql
                    .split("id = ")
                    .nth(1)
                    .and_then(|r| r.split(' ').next())
                    .and_then(|v| v.parse().ok())
                    .expect("id");
                assert!((5..=7).contains(&id));
            } else {
                let rank: usize = sql["SELECT ".len()..].parse().expect("rank");
                ranks[rank] += 1;
            }
        }
        // Weights 3:1.
        let share = f64::from(counts[0]) / 20_000.0;
        assert!((share - 0.75).abs() < 0.02, "{share}");
        // Zipf: rank 1 drawn more than rank 2, rank 2 more than rank 10.
        assert!(
            ranks[1] > ranks[2] && ranks[2] > ranks[10],
            "{:?}",
            &ranks[..11]
        );
    }

    #[test]
    fn a_name_used_twice_is_one_value_per_request() {
        let queries = vec![QuerySpec {
            name: "q".into(),
            weight: 1.0,
            sql: Some("{y}-{y}".into()),
            get: None,
            query_options: None,
            expect_rows: None,
            expect_result: None,
        }];
        let params = BTreeMap::from([("y".to_string(), ParamSpec::Uniform { min: 1, max: 1000 })]);
        let mut m = Mix::new(&queries, &params, &BTreeMap::new(), 1).expect("mix");
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..100 {
            let (_, Payload::Sql(sql)) = m.next() else {
                panic!("sql expected")
            };
            let (a, b) = sql.split_once('-').expect("two values");
            assert_eq!(a, b);
            distinct.insert(a.to_string());
        }
        assert!(distinct.len() > 50, "values vary between requests");
    }

    #[test]
    fn unknown_placeholder_is_an_error() {
        let queries = vec![QuerySpec {
            name: "q".into(),
            weight: 1.0,
            sql: Some("SELECT {nope}".into()),
            get: None,
            query_options: None,
            expect_rows: None,
            expect_result: None,
        }];
        let error = Mix::new(&queries, &BTreeMap::new(), &BTreeMap::new(), 1).expect_err("unknown");
        assert!(format!("{error:#}").contains("{nope}"), "{error:#}");
    }
}
