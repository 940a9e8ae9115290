//! Bound expressions: the planner's output, typed and resolved against the table.
//! [`Expr::Column`] reads a segment column (leaf scope); [`Expr::Slot`] reads a group key
//! or an aggregate of the current group (post-aggregation scope).

use std::fmt;
use std::sync::Arc;

use regex::Regex;

use crate::time::{Field, TimeUnit};
use crate::types::{Scalar, SqlType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl ArithOp {
    pub fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    pub fn negate(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::NotEq,
            CmpOp::NotEq => CmpOp::Eq,
            CmpOp::Lt => CmpOp::GtEq,
            CmpOp::LtEq => CmpOp::Gt,
            CmpOp::Gt => CmpOp::LtEq,
            CmpOp::GtEq => CmpOp::Lt,
        }
    }

    /// The same comparison with its operands swapped (`5 < x` is `x > 5`).
    pub fn flip(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::LtEq => CmpOp::GtEq,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::GtEq => CmpOp::LtEq,
            other => other,
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::NotEq => "<>",
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtEq => ">=",
        }
    }

    pub fn holds(self, ordering: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Eq => ordering == Equal,
            CmpOp::NotEq => ordering != Equal,
            CmpOp::Lt => ordering == Less,
            CmpOp::LtEq => ordering != Greater,
            CmpOp::Gt => ordering == Greater,
            CmpOp::GtEq => ordering != Less,
        }
    }
}

/// Scalar functions.
#[derive(Debug, Clone)]
pub enum Func {
    Lower,
    Upper,
    /// SUBSTR(s, start [, length]), 1-based, in characters.
    Substr,
    /// CONCAT(a, b, ...): NULL arguments are skipped.
    Concat,
    Length,
    Trim,
    Replace,
    Abs,
    Floor,
    Ceil,
    /// ROUND(x [, digits]).
    Round,
    Coalesce,
    /// DATE_TRUNC('unit', ts) → TIMESTAMP.
    DateTrunc(TimeUnit),
    /// EXTRACT(field FROM ts).
    Extract(Field),
    /// Pinot DATETRUNC('unit', value [, inputUnit [, tz [, outputUnit]]]) → LONG.
    PinotDateTrunc {
        unit: TimeUnit,
        input_millis: i64,
        output_millis: i64,
    },
    /// Pinot DATETIMECONVERT(value, inFormat, outFormat, granularity) over epoch formats.
    DateTimeConvert {
        input: EpochFormat,
        output: EpochFormat,
        granularity_millis: i64,
    },
    /// FROMDATETIME(text, pattern) → LONG epoch ms (chrono pattern).
    FromDateTime(String),
    /// TODATETIME(ms, pattern) → STRING (chrono pattern).
    ToDateTime(String),
}

/// Pinot's `size:UNIT:EPOCH` or `SIMPLE_DATE_FORMAT|pattern` (as chrono pattern).
#[derive(Debug, Clone)]
pub enum EpochFormat {
    Epoch { unit_millis: i64 },
    Pattern(String),
}

/// A compiled LIKE pattern.
#[derive(Debug)]
pub struct LikePattern {
    pub pattern: String,
    pub regex: Regex,
    /// The pattern is `%literal%` with no other wildcard: a substring test.
    pub contains: Option<String>,
    /// The pattern is `literal%`: a prefix test (also a dictionary range).
    pub prefix: Option<String>,
    /// The pattern has no wildcard: equality.
    pub exact: Option<String>,
    /// The pattern is `%literal`: a suffix test.
    pub suffix: Option<String>,
    /// The runs of literal characters between wildcards: every matching value contains
    /// each of them (prefilters for scans and text-index candidates).
    pub literals: Vec<String>,
    /// The literal every match starts with (the pattern's run before its first
    /// wildcard), and the one every match ends with (the run after its last).
    pub starts: Option<String>,
    pub ends: Option<String>,
}

/// A REGEXP_LIKE pattern, compiled once when the query is planned, with the literals
/// every match contains (prefilters for scans and text-index candidates).
#[derive(Debug)]
pub struct RegexPattern {
    pub regex: Regex,
    pub literals: Vec<String>,
}

impl RegexPattern {
    pub fn new(regex: Regex) -> RegexPattern {
        let literals = regex_literals(regex.as_str());
        RegexPattern { regex, literals }
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }
}

/// The literals every match of `pattern` (a REGEXP_LIKE regex, searched anywhere in the
/// value) must contain: the literals of its top-level concatenation. Empty when there
/// are none (alternations, case-insensitive letters, classes only) or it does not parse.
fn regex_literals(pattern: &str) -> Vec<String> {
    use regex_syntax::hir::{Hir, HirKind};
    let Ok(hir) = regex_syntax::Parser::new().parse(pattern) else {
        return Vec::new();
    };
    let literal = |node: &Hir| match node.kind() {
        HirKind::Literal(literal) => std::str::from_utf8(&literal.0).ok().map(str::to_string),
        _ => None,
    };
    let literals: Vec<String> = match hir.kind() {
        HirKind::Concat(children) => children.iter().filter_map(literal).collect(),
        _ => literal(&hir).into_iter().collect(),
    };
    literals.into_iter().filter(|l| !l.is_empty()).collect()
}

/// The literals every match of a `[NOT] LIKE` or `[NOT] REGEXP_LIKE` leaf must contain
/// (ignoring the negation); empty for other expressions.
pub fn match_literals(expr: &Expr) -> &[String] {
    match expr {
        Expr::Like { pattern, .. } => &pattern.literals,
        Expr::RegexpLike { regex, .. } => &regex.literals,
        _ => &[],
    }
}

impl LikePattern {
    pub fn compile(pattern: &str, escape: Option<char>) -> Result<LikePattern, String> {
        let mut regex = String::from("(?s)^");
        let mut literal = String::new();
        let mut pieces: Vec<Option<String>> = Vec::new(); // None = %, Some = literal run
        let mut has_underscore = false;
        // Literal runs between any two wildcards (`%` or `_`).
        let mut run = String::new();
        let mut literals = Vec::new();
        // What every match starts with: decided at the first wildcard (the run before
        // it, if any); with no wildcard, the whole pattern.
        let mut starts: Option<Option<String>> = None;
        let mut end_run = |run: &mut String| {
            if !run.is_empty() {
                literals.push(std::mem::take(run));
            }
        };
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if Some(c) == escape {
                let Some(next) = chars.next() else {
                    return Err(format!(
                        "LIKE pattern `{pattern}` ends with its escape character"
                    ));
                };
                regex.push_str(&regex::escape(&next.to_string()));
                literal.push(next);
                run.push(next);
                continue;
            }
            match c {
                '%' => {
                    starts.get_or_insert_with(|| (!run.is_empty()).then(|| run.clone()));
                    end_run(&mut run);
                    regex.push_str(".*");
                    if !literal.is_empty() {
                        pieces.push(Some(std::mem::take(&mut literal)));
                    }
                    pieces.push(None);
                }
                '_' => {
                    starts.get_or_insert_with(|| (!run.is_empty()).then(|| run.clone()));
                    end_run(&mut run);
                    regex.push('.');
                    has_underscore = true;
                }
                other => {
                    regex.push_str(&regex::escape(&other.to_string()));
                    literal.push(other);
                    run.push(other);
                }
            }
        }
        // The run left at the end is what every match ends with.
        let ends = (!run.is_empty()).then(|| run.clone());
        end_run(&mut run);
        let starts = starts.unwrap_or_else(|| ends.clone());
        if !literal.is_empty() {
            pieces.push(Some(literal));
        }
        regex.push('$');
        let compiled =
            Regex::new(&regex).map_err(|e| format!("bad LIKE pattern `{pattern}`: {e}"))?;
        let mut contains = None;
        let mut prefix = None;
        let mut exact = None;
        let mut suffix = None;
        if !has_underscore {
            match pieces.as_slice() {
                [None, Some(text), None] => contains = Some(text.clone()),
                [Some(text), None] => prefix = Some(text.clone()),
                [Some(text)] => exact = Some(text.clone()),
                [None, Some(text)] => suffix = Some(text.clone()),
                [] => exact = Some(String::new()),
                _ => {}
            }
        }
        Ok(LikePattern {
            pattern: pattern.to_string(),
            regex: compiled,
            contains,
            prefix,
            exact,
            suffix,
            literals,
            starts,
            ends,
        })
    }

    pub fn matches(&self, text: &str) -> bool {
        if let Some(needle) = &self.contains {
            return text.contains(needle.as_str());
        }
        if let Some(prefix) = &self.prefix {
            return text.starts_with(prefix.as_str());
        }
        if let Some(exact) = &self.exact {
            return text == exact;
        }
        if let Some(suffix) = &self.suffix {
            return text.ends_with(suffix.as_str());
        }
        self.regex.is_match(text)
    }

    /// [`LikePattern::matches`] on stored bytes (UTF-8), without making a string: the
    /// literal shapes compare bytes; the rest go through the regex.
    pub fn matches_bytes(&self, bytes: &[u8]) -> bool {
        if let Some(needle) = &self.contains {
            return memchr::memmem::find(bytes, needle.as_bytes()).is_some();
        }
        if let Some(prefix) = &self.prefix {
            return bytes.starts_with(prefix.as_bytes());
        }
        if let Some(exact) = &self.exact {
            return bytes == exact.as_bytes();
        }
        if let Some(suffix) = &self.suffix {
            return bytes.ends_with(suffix.as_bytes());
        }
        // Borrowed, not copied, when the bytes are UTF-8 (they always are: strings).
        self.regex.is_match(&String::from_utf8_lossy(bytes))
    }
}

#[derive(Debug, Clone)]
pub enum Expr {
    Column {
        name: String,
        ty: SqlType,
        single_value: bool,
    },
    /// Group key or aggregate `index` of the current group.
    Slot {
        index: usize,
        ty: SqlType,
        multi_value: bool,
    },
    Literal {
        value: Scalar,
        ty: SqlType,
    },
    Arith {
        op: ArithOp,
        left: Box<Expr>,
        right: Box<Expr>,
        ty: SqlType,
    },
    Negate(Box<Expr>),
    Compare {
        op: CmpOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Scalar>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Arc<LikePattern>,
        negated: bool,
    },
    RegexpLike {
        expr: Box<Expr>,
        regex: Arc<RegexPattern>,
        negated: bool,
    },
    TextMatch {
        column: String,
        query: String,
    },
    Case {
        branches: Vec<(Expr, Expr)>,
        otherwise: Box<Expr>,
        ty: SqlType,
    },
    Cast {
        expr: Box<Expr>,
        to: SqlType,
    },
    Call {
        func: Func,
        args: Vec<Expr>,
        ty: SqlType,
    },
}

impl Expr {
    /// The other side, operator (that side on the left) and literal of `e op literal` or
    /// `literal op e`.
    pub fn literal_comparison(&self) -> Option<(&Expr, CmpOp, &Scalar)> {
        let Expr::Compare { op, left, right } = self else {
            return None;
        };
        match (&**left, &**right) {
            (e, Expr::Literal { value, .. }) => Some((e, *op, value)),
            (Expr::Literal { value, .. }, e) => Some((e, op.flip(), value)),
            _ => None,
        }
    }

    pub fn ty(&self) -> SqlType {
        match self {
            Expr::Column { ty, .. } | Expr::Slot { ty, .. } | Expr::Literal { ty, .. } => *ty,
            Expr::Arith { ty, .. } | Expr::Case { ty, .. } | Expr::Call { ty, .. } => *ty,
            Expr::Negate(inner) => inner.ty(),
            Expr::Cast { to, .. } => *to,
            Expr::Compare { .. }
            | Expr::And(_)
            | Expr::Or(_)
            | Expr::Not(_)
            | Expr::IsNull { .. }
            | Expr::InList { .. }
            | Expr::Like { .. }
            | Expr::RegexpLike { .. }
            | Expr::TextMatch { .. } => SqlType::Boolean,
        }
    }

    /// Whether values are arrays (a bare multi-value column).
    pub fn multi_value(&self) -> bool {
        match self {
            Expr::Column { single_value, .. } => !single_value,
            Expr::Slot { multi_value, .. } => *multi_value,
            _ => false,
        }
    }

    pub fn literal(value: Scalar, ty: SqlType) -> Expr {
        Expr::Literal { value, ty }
    }

    /// Columns this expression reads.
    pub fn columns(&self, out: &mut Vec<String>) {
        self.visit_columns(&mut |name| {
            if !out.iter().any(|c| c == name) {
                out.push(name.to_string());
            }
        });
    }

    /// Every column reference, repeats included.
    pub fn visit_columns(&self, visit: &mut dyn FnMut(&str)) {
        match self {
            Expr::Column { name, .. } | Expr::TextMatch { column: name, .. } => visit(name),
            Expr::Slot { .. } | Expr::Literal { .. } => {}
            Expr::Arith { left, right, .. } | Expr::Compare { left, right, .. } => {
                left.visit_columns(visit);
                right.visit_columns(visit);
            }
            Expr::Negate(inner) | Expr::Not(inner) => inner.visit_columns(visit),
            Expr::And(items) | Expr::Or(items) => items.iter().for_each(|e| e.visit_columns(visit)),
            Expr::IsNull { expr, .. }
            | Expr::InList { expr, .. }
            | Expr::Like { expr, .. }
            | Expr::RegexpLike { expr, .. }
            | Expr::Cast { expr, .. } => expr.visit_columns(visit),
            Expr::Case {
                branches,
                otherwise,
                ..
            } => {
                for (when, then) in branches {
                    when.visit_columns(visit);
                    then.visit_columns(visit);
                }
                otherwise.visit_columns(visit);
            }
            Expr::Call { args, .. } => args.iter().for_each(|e| e.visit_columns(visit)),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Column { name, .. } => f.write_str(name),
            Expr::Slot { index, .. } => write!(f, "#{index}"),
            Expr::Literal { value, .. } => match value {
                Scalar::Str(text) => write!(f, "'{}'", text.replace('\'', "''")),
                Scalar::Null => f.write_str("NULL"),
                Scalar::Long(v) => write!(f, "{v}"),
                Scalar::Double(v) => write!(f, "{v}"),
                Scalar::Bool(v) => write!(f, "{v}"),
                other => write!(f, "{other:?}"),
            },
            Expr::Arith {
                op, left, right, ..
            } => write!(f, "({left} {} {right})", op.symbol()),
            Expr::Negate(inner) => write!(f, "-{inner}"),
            Expr::Compare { op, left, right } => write!(f, "{left} {} {right}", op.symbol()),
            Expr::And(items) => write_joined(f, items, " AND "),
            Expr::Or(items) => write_joined(f, items, " OR "),
            Expr::Not(inner) => write!(f, "NOT ({inner})"),
            Expr::IsNull { expr, negated } => {
                write!(f, "{expr} IS {}NULL", if *negated { "NOT " } else { "" })
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                write!(f, "{expr} {}IN (", if *negated { "NOT " } else { "" })?;
                for (i, value) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", Expr::literal(value.clone(), SqlType::Null))?;
                }
                f.write_str(")")
            }
            Expr::Like {
                expr,
                pattern,
                negated,
            } => write!(
                f,
                "{expr} {}LIKE '{}'",
                if *negated { "NOT " } else { "" },
                pattern.pattern
            ),
            Expr::RegexpLike {
                expr,
                regex,
                negated,
            } => write!(
                f,
                "{}REGEXP_LIKE({expr}, '{}')",
                if *negated { "NOT " } else { "" },
                regex.as_str()
            ),
            Expr::TextMatch { column, query } => write!(f, "TEXT_MATCH({column}, '{query}')"),
            Expr::Case { .. } => f.write_str("CASE ..."),
            Expr::Cast { expr, to } => write!(f, "CAST({expr} AS {})", to.pinot_name()),
            Expr::Call { func, args, .. } => {
                write!(f, "{func:?}(")?;
                write_joined(f, args, ", ")?;
                f.write_str(")")
            }
        }
    }
}

fn write_joined(f: &mut fmt::Formatter<'_>, items: &[Expr], separator: &str) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        write!(f, "{item}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_on_bytes_agrees_with_like_on_text() {
        let texts = [
            "",
            "a",
            "abc",
            "special deposits",
            "deposits",
            "café au lait",
            "x%y",
            "ab_c",
        ];
        let patterns = [
            "%",
            "",
            "a%",
            "%s",
            "%deposits",
            "special%",
            "%ci%",
            "abc",
            "a_c",
            "%é%",
            "caf_%",
            "x!%y",
            "%!_%",
            "a%c",
            "%a%b%",
        ];
        for pattern in patterns {
            let compiled = LikePattern::compile(pattern, Some('!')).expect("compiles");
            for text in texts {
                assert_eq!(
                    compiled.matches_bytes(text.as_bytes()),
                    compiled.matches(text),
                    "{text:?} LIKE {pattern:?}"
                );
                assert_eq!(
                    compiled.matches(text),
                    compiled.regex.is_match(text),
                    "{text:?} LIKE {pattern:?}"
                );
                // The prefilters' literals are in every match.
                if compiled.matches(text) {
                    for literal in &compiled.literals {
                        assert!(text.contains(literal.as_str()), "{text:?} LIKE {pattern:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn required_literals_of_like_patterns_and_regexes() {
        let like = |pattern| {
            LikePattern::compile(pattern, Some('!'))
                .expect("compiles")
                .literals
        };
        assert_eq!(like("carefully%"), ["carefully"]);
        assert_eq!(like("%a_bcd%ef"), ["a", "bcd", "ef"]);
        assert_eq!(like("50!%%"), ["50%"]);
        assert!(like("%_%").is_empty());
        let regex = regex_literals;
        assert_eq!(regex("fox.*bold"), ["fox", "bold"]);
        assert_eq!(regex("^carefully"), ["carefully"]);
        assert_eq!(regex("fox"), ["fox"]);
        assert_eq!(regex("a+b"), ["b"], "`a` may repeat; `b` is there");
        assert!(regex("fox|bold").is_empty());
        assert!(regex("(?i)fox").is_empty());
        assert!(regex("[a-z]+").is_empty());
        assert!(regex("(unclosed").is_empty());
    }

    #[test]
    fn like_patterns() {
        let p = LikePattern::compile("%special%", None).expect("compiles");
        assert_eq!(p.contains.as_deref(), Some("special"));
        assert!(p.matches("a specially"));
        let p = LikePattern::compile("a_c%", None).expect("compiles");
        assert!(p.matches("abcd") && !p.matches("ac"));
        let p = LikePattern::compile("50!%", Some('!')).expect("compiles");
        assert!(p.matches("50%") && !p.matches("500"));
        let p = LikePattern::compile("a.b*", None).expect("compiles");
        assert!(p.matches("a.b*") && !p.matches("axb*"));
        let p = LikePattern::compile("x\ny%", None).expect("compiles");
        assert!(p.matches("x\nyz"));
    }

    #[test]
    fn like_patterns_name_what_every_match_starts_and_ends_with() {
        for (pattern, starts, ends) in [
            (
                "quickly regular deposits",
                Some("quickly regular deposits"),
                Some("quickly regular deposits"),
            ),
            ("ab%cd", Some("ab"), Some("cd")),
            ("ab_cd%", Some("ab"), None),
            ("%cd", None, Some("cd")),
            ("_x", None, Some("x")),
            ("%", None, None),
            ("", None, None),
            ("50!%%", Some("50%"), None),
        ] {
            let p = LikePattern::compile(pattern, Some('!')).expect("compiles");
            assert_eq!(
                (p.starts.as_deref(), p.ends.as_deref()),
                (starts, ends),
                "{pattern}"
            );
        }
    }
}
