//! Vectorized expression evaluation: an [`Expr`] over a block of rows → a [`Vector`].
//! SQL NULL semantics throughout: NULL in, NULL out; AND/OR/NOT three-valued.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::rc::Rc;

use crate::error::{QueryError, QueryResult};
use crate::expr::{ArithOp, CmpOp, EpochFormat, Expr, Func};
use crate::time;
use crate::types::{Scalar, SqlType, cmp_i64_f64};
use crate::vector::{Data, Vector, merge_nulls};

/// What an expression reads: segment columns (leaf) or group slots (post-aggregation).
pub trait Columns {
    /// Rows in this block.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn column(&mut self, name: &str) -> QueryResult<Vector>;
    /// The column's vector shared with the reader's cache where it keeps one: no copy.
    fn column_shared(&mut self, name: &str) -> QueryResult<Rc<Vector>> {
        Ok(Rc::new(self.column(name)?))
    }
    fn slot(&mut self, index: usize) -> QueryResult<Vector>;
    /// Rows matching a TEXT_MATCH query.
    fn text_match(&mut self, column: &str, query: &str) -> QueryResult<Vec<bool>>;
}

/// As [`eval`], without copying a column the input already holds.
pub fn eval_shared(expr: &Expr, input: &mut dyn Columns) -> QueryResult<Rc<Vector>> {
    match expr {
        Expr::Column { name, .. } => input.column_shared(name),
        _ => Ok(Rc::new(eval(expr, input)?)),
    }
}

/// A non-NULL numeric literal as f64.
fn numeric_literal(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::Literal {
            value: Scalar::Long(v),
            ..
        } => Some(*v as f64),
        Expr::Literal {
            value: Scalar::Double(v),
            ..
        } => Some(*v),
        _ => None,
    }
}

/// `literal op column` and `column op literal` on floating values without NULLs: one
/// pass, no constant vector. `None` when the shape does not apply.
fn arith_with_literal(
    op: ArithOp,
    left: &Expr,
    right: &Expr,
    ty: SqlType,
    input: &mut dyn Columns,
) -> QueryResult<Option<Vector>> {
    if !ty.is_floating() || !matches!(op, ArithOp::Add | ArithOp::Sub | ArithOp::Mul) {
        return Ok(None);
    }
    let (constant, other, constant_left) = match (numeric_literal(left), numeric_literal(right)) {
        (Some(c), None) => (c, right, true),
        (None, Some(c)) => (c, left, false),
        _ => return Ok(None),
    };
    let v = eval_shared(other, input)?;
    if v.nulls.is_some() || v.multi_value || !matches!(v.data, Data::Double(_) | Data::Long(_)) {
        // Let the general kernel handle NULLs and the rest.
        let c = Vector::constant(ty, &Scalar::Double(constant), v.len());
        let (l, r) = if constant_left { (&c, &*v) } else { (&*v, &c) };
        return arith(op, l, r, ty, left).map(Some);
    }
    let values = f64s(&v);
    let out: Vec<f64> = match (op, constant_left) {
        (ArithOp::Add, _) => values.iter().map(|x| constant + x).collect(),
        (ArithOp::Sub, true) => values.iter().map(|x| constant - x).collect(),
        (ArithOp::Sub, false) => values.iter().map(|x| x - constant).collect(),
        _ => values.iter().map(|x| constant * x).collect(),
    };
    Ok(Some(Vector::new(ty, Data::Double(out), None)))
}

/// A non-NULL integer literal.
fn long_literal(expr: &Expr) -> Option<i64> {
    match expr {
        Expr::Literal {
            value: Scalar::Long(v),
            ..
        } => Some(*v),
        _ => None,
    }
}

/// `column op literal` (and `literal + column`, `literal * column`, `literal - column`)
/// on LONG values: one pass over the values, NULLs passed through, no constant vector.
/// A modulo or division by a literal zero is NULL, as in [`arith`].
fn long_arith_with_literal(
    op: ArithOp,
    left: &Expr,
    right: &Expr,
    ty: SqlType,
    expr: &Expr,
    input: &mut dyn Columns,
) -> QueryResult<Option<Vector>> {
    if ty != SqlType::Long {
        return Ok(None);
    }
    let (constant, other, constant_left) = match (long_literal(left), long_literal(right)) {
        (None, Some(c)) => (c, left, false),
        (Some(c), None) if matches!(op, ArithOp::Add | ArithOp::Sub | ArithOp::Mul) => {
            (c, right, true)
        }
        _ => return Ok(None),
    };
    let v = eval_shared(other, input)?;
    let Data::Long(values) = &v.data else {
        return Ok(None);
    };
    if v.multi_value {
        return Ok(None);
    }
    let len = values.len();
    if matches!(op, ArithOp::Mod | ArithOp::Div) && constant == 0 {
        return Ok(Some(Vector::constant(ty, &Scalar::Null, len)));
    }
    let is_null = |i: usize| v.nulls.as_ref().is_some_and(|n| n[i]);
    let checked = |f: fn(i64, i64) -> Option<i64>| -> QueryResult<Vec<i64>> {
        let mut out = Vec::with_capacity(len);
        for (i, x) in values.iter().enumerate() {
            let (a, b) = if constant_left {
                (constant, *x)
            } else {
                (*x, constant)
            };
            out.push(match f(a, b) {
                Some(value) => value,
                None if is_null(i) => 0,
                None => return Err(overflow(expr)),
            });
        }
        Ok(out)
    };
    let out = match op {
        ArithOp::Add => checked(i64::checked_add)?,
        ArithOp::Sub => checked(i64::checked_sub)?,
        ArithOp::Mul => checked(i64::checked_mul)?,
        ArithOp::Mod | ArithOp::Div => divide_by_constant(values, constant, op == ArithOp::Mod),
    };
    Ok(Some(Vector::new(ty, Data::Long(out), v.nulls.clone())))
}

/// `x % divisor` (with `remainder`) or `x / divisor` for every value, as `wrapping_rem`
/// and `wrapping_div` give them, by a multiply and a shift per value: a hardware
/// division costs tens of cycles, and a divisor known only at run time is not turned
/// into a multiplication by the compiler. `divisor` is not 0.
fn divide_by_constant(values: &[i64], divisor: i64, remainder: bool) -> Vec<i64> {
    let magnitude = divisor.unsigned_abs();
    let divider = fastdivide::DividerU64::divide_by(magnitude);
    if remainder {
        // The remainder takes the dividend's sign.
        values
            .iter()
            .map(|x| {
                let n = x.unsigned_abs();
                let r = (n - divider.divide(n) * magnitude) as i64;
                if *x < 0 { r.wrapping_neg() } else { r }
            })
            .collect()
    } else {
        values
            .iter()
            .map(|x| {
                let q = divider.divide(x.unsigned_abs()) as i64;
                if (*x < 0) != (divisor < 0) {
                    q.wrapping_neg()
                } else {
                    q
                }
            })
            .collect()
    }
}

/// `expr op literal` or `literal op expr` on single-value LONG or DOUBLE values: one
/// pass, no constant vector. Orders as [`compare`] does (`total_cmp` for doubles,
/// [`cmp_i64_f64`] across the two).
fn compare_with_literal(expr: &Expr, input: &mut dyn Columns) -> QueryResult<Option<Vector>> {
    let Some((other, op, literal)) = expr.literal_comparison() else {
        return Ok(None);
    };
    if !matches!(literal, Scalar::Long(_) | Scalar::Double(_)) {
        return Ok(None);
    }
    let v = eval_shared(other, input)?;
    if v.multi_value || v.ty == SqlType::Null {
        return Ok(None);
    }
    // One loop per operator, so the comparison is not dispatched per row.
    fn bits<T: Copy>(values: &[T], op: CmpOp, order: impl Fn(T) -> Ordering) -> Vec<bool> {
        let it = values.iter();
        match op {
            CmpOp::Eq => it.map(|x| order(*x) == Ordering::Equal).collect(),
            CmpOp::NotEq => it.map(|x| order(*x) != Ordering::Equal).collect(),
            CmpOp::Lt => it.map(|x| order(*x) == Ordering::Less).collect(),
            CmpOp::LtEq => it.map(|x| order(*x) != Ordering::Greater).collect(),
            CmpOp::Gt => it.map(|x| order(*x) == Ordering::Greater).collect(),
            CmpOp::GtEq => it.map(|x| order(*x) != Ordering::Less).collect(),
        }
    }
    let out = match (&v.data, literal) {
        (Data::Long(values), Scalar::Long(c)) => bits(values, op, |x: i64| x.cmp(c)),
        (Data::Long(values), Scalar::Double(c)) => bits(values, op, |x: i64| cmp_i64_f64(x, *c)),
        (Data::Double(values), Scalar::Double(c)) => bits(values, op, |x: f64| x.total_cmp(c)),
        (Data::Double(values), Scalar::Long(c)) => {
            bits(values, op, |x: f64| cmp_i64_f64(*c, x).reverse())
        }
        _ => return Ok(None),
    };
    Ok(Some(Vector::new(
        SqlType::Boolean,
        Data::Bool(out),
        v.nulls.clone(),
    )))
}

pub fn eval(expr: &Expr, input: &mut dyn Columns) -> QueryResult<Vector> {
    let len = input.len();
    match expr {
        Expr::Column { name, .. } => input.column(name),
        Expr::Slot { index, .. } => input.slot(*index),
        Expr::Literal { value, ty } => Ok(Vector::constant(*ty, value, len)),
        Expr::Arith {
            op,
            left,
            right,
            ty,
        } => {
            if let Some(v) = arith_with_literal(*op, left, right, *ty, input)? {
                return Ok(v);
            }
            if let Some(v) = long_arith_with_literal(*op, left, right, *ty, expr, input)? {
                return Ok(v);
            }
            let l = eval_shared(left, input)?;
            let r = eval_shared(right, input)?;
            arith(*op, &l, &r, *ty, expr)
        }
        Expr::Negate(inner) => {
            let v = eval(inner, input)?;
            Ok(match &v.data {
                Data::Long(values) => {
                    let mut out = Vec::with_capacity(values.len());
                    for (i, x) in values.iter().enumerate() {
                        out.push(if v.is_null(i) {
                            0
                        } else {
                            x.checked_neg().ok_or_else(|| overflow(expr))?
                        });
                    }
                    Vector::new(v.ty, Data::Long(out), v.nulls.clone())
                }
                Data::Double(values) => Vector::new(
                    v.ty,
                    Data::Double(values.iter().map(|x| -x).collect()),
                    v.nulls.clone(),
                ),
                _ => v,
            })
        }
        Expr::Compare { op, left, right } => {
            if let Some(v) = compare_with_literal(expr, input)? {
                return Ok(v);
            }
            let l = eval_shared(left, input)?;
            let r = eval_shared(right, input)?;
            Ok(compare(*op, &l, &r))
        }
        Expr::And(items) | Expr::Or(items) => {
            let is_and = matches!(expr, Expr::And(_));
            let mut value = vec![is_and; len];
            let mut unknown = vec![false; len];
            for item in items {
                let v = eval(item, input)?;
                let Data::Bool(bits) = &v.data else {
                    return Err(QueryError::invalid(format!("`{item}` is not boolean")));
                };
                for i in 0..len {
                    if v.is_null(i) {
                        unknown[i] = true;
                    } else if bits[i] != is_and {
                        value[i] = !is_and;
                    }
                }
            }
            // A decided row (FALSE for AND, TRUE for OR) is not unknown.
            let nulls: Vec<bool> = (0..len).map(|i| unknown[i] && value[i] == is_and).collect();
            Ok(Vector::new(
                SqlType::Boolean,
                Data::Bool(value),
                Some(nulls),
            ))
        }
        Expr::Not(inner) => {
            let v = eval(inner, input)?;
            let Data::Bool(bits) = v.data else {
                return Err(QueryError::invalid(format!("`{inner}` is not boolean")));
            };
            Ok(Vector::new(
                SqlType::Boolean,
                Data::Bool(bits.into_iter().map(|b| !b).collect()),
                v.nulls,
            ))
        }
        Expr::IsNull {
            expr: inner,
            negated,
        } => {
            let v = eval(inner, input)?;
            let bits = (0..len).map(|i| v.is_null(i) != *negated).collect();
            Ok(Vector::new(SqlType::Boolean, Data::Bool(bits), None))
        }
        Expr::InList {
            expr: inner,
            list,
            negated,
        } => {
            let v = eval(inner, input)?;
            let has_null = list.iter().any(Scalar::is_null);
            let values: Vec<&Scalar> = list.iter().filter(|s| !s.is_null()).collect();
            let mut bits = vec![false; len];
            let mut nulls = vec![false; len];
            for i in 0..len {
                if v.is_null(i) {
                    nulls[i] = true;
                    continue;
                }
                let found = match v.scalar(i) {
                    Scalar::Array(items) => items.iter().any(|x| values.iter().any(|y| *x == **y)),
                    one => values.iter().any(|y| one == **y),
                };
                if found {
                    bits[i] = !negated;
                } else if has_null {
                    nulls[i] = true;
                } else {
                    bits[i] = *negated;
                }
            }
            Ok(Vector::new(SqlType::Boolean, Data::Bool(bits), Some(nulls)))
        }
        Expr::Like {
            expr: inner,
            pattern,
            negated,
        } => {
            let v = eval(inner, input)?;
            string_predicate(&v, *negated, |text| pattern.matches(text))
        }
        Expr::RegexpLike {
            expr: inner,
            regex,
            negated,
        } => {
            let v = eval(inner, input)?;
            string_predicate(&v, *negated, |text| regex.is_match(text))
        }
        Expr::TextMatch { column, query } => {
            let bits = input.text_match(column, query)?;
            Ok(Vector::new(SqlType::Boolean, Data::Bool(bits), None))
        }
        Expr::Case {
            branches,
            otherwise,
            ty,
        } => {
            let mut result: Vec<Scalar> = vec![Scalar::Null; len];
            let mut decided = vec![false; len];
            for (when, then) in branches {
                let condition = eval(when, input)?.true_rows();
                if !condition.iter().zip(&decided).any(|(c, d)| *c && !d) {
                    continue;
                }
                let value = eval(then, input)?;
                for i in 0..len {
                    if condition[i] && !decided[i] {
                        decided[i] = true;
                        result[i] = convert_scalar(value.scalar(i), *ty);
                    }
                }
            }
            if decided.iter().any(|d| !d) {
                let value = eval(otherwise, input)?;
                for i in 0..len {
                    if !decided[i] {
                        result[i] = convert_scalar(value.scalar(i), *ty);
                    }
                }
            }
            Ok(Vector::from_scalars(*ty, false, &result))
        }
        Expr::Cast { expr: inner, to } => {
            let v = eval(inner, input)?;
            cast(&v, *to)
        }
        Expr::Call { func, args, ty } => {
            let mut values = Vec::with_capacity(args.len());
            for arg in args {
                values.push(eval(arg, input)?);
            }
            call(func, &values, *ty, len, expr)
        }
    }
}

fn overflow(expr: &Expr) -> QueryError {
    QueryError::data(format!("integer overflow in `{expr}`"))
}

/// Numbers widened for a binary kernel.
pub fn f64s(v: &Vector) -> Cow<'_, [f64]> {
    match &v.data {
        Data::Double(values) => Cow::Borrowed(values),
        _ => Cow::Owned(v.to_f64()),
    }
}

pub fn i64s(v: &Vector) -> Cow<'_, [i64]> {
    match &v.data {
        Data::Long(values) => Cow::Borrowed(values),
        Data::Double(values) => Cow::Owned(values.iter().map(|x| *x as i64).collect()),
        Data::Bool(values) => Cow::Owned(values.iter().map(|x| i64::from(*x)).collect()),
        _ => Cow::Owned(vec![0; v.len()]),
    }
}

fn arith(op: ArithOp, l: &Vector, r: &Vector, ty: SqlType, expr: &Expr) -> QueryResult<Vector> {
    let len = l.len();
    if l.ty == SqlType::Null || r.ty == SqlType::Null {
        return Ok(Vector::constant(ty, &Scalar::Null, len));
    }
    if ty != SqlType::Long
        && matches!(op, ArithOp::Add | ArithOp::Sub | ArithOp::Mul)
        && l.nulls.is_none()
        && r.nulls.is_none()
    {
        // The common case: no NULLs, nothing that can make one.
        let (a, b) = (f64s(l), f64s(r));
        let pairs = a.iter().zip(b.iter());
        let out: Vec<f64> = match op {
            ArithOp::Add => pairs.map(|(x, y)| x + y).collect(),
            ArithOp::Sub => pairs.map(|(x, y)| x - y).collect(),
            _ => pairs.map(|(x, y)| x * y).collect(),
        };
        return Ok(Vector::new(ty, Data::Double(out), None));
    }
    let mut nulls = merge_nulls(&l.nulls, &r.nulls).unwrap_or_else(|| vec![false; len]);
    if l.ty == SqlType::Null || r.ty == SqlType::Null {
        return Ok(Vector::constant(ty, &Scalar::Null, len));
    }
    if ty == SqlType::Long {
        let (a, b) = (i64s(l), i64s(r));
        let mut out = vec![0i64; len];
        for i in 0..len {
            if nulls[i] {
                continue;
            }
            out[i] = match op {
                ArithOp::Add => a[i].checked_add(b[i]).ok_or_else(|| overflow(expr))?,
                ArithOp::Sub => a[i].checked_sub(b[i]).ok_or_else(|| overflow(expr))?,
                ArithOp::Mul => a[i].checked_mul(b[i]).ok_or_else(|| overflow(expr))?,
                ArithOp::Mod | ArithOp::Div => {
                    if b[i] == 0 {
                        nulls[i] = true;
                        0
                    } else if op == ArithOp::Mod {
                        a[i].wrapping_rem(b[i])
                    } else {
                        a[i].wrapping_div(b[i])
                    }
                }
            };
        }
        return Ok(Vector::new(ty, Data::Long(out), Some(nulls)));
    }
    let (a, b) = (f64s(l), f64s(r));
    let pairs = a.iter().zip(b.iter());
    let out: Vec<f64> = match op {
        ArithOp::Add => pairs.map(|(x, y)| x + y).collect(),
        ArithOp::Sub => pairs.map(|(x, y)| x - y).collect(),
        ArithOp::Mul => pairs.map(|(x, y)| x * y).collect(),
        ArithOp::Div | ArithOp::Mod => {
            // Division by zero is NULL.
            let mut out = Vec::with_capacity(len);
            for (i, (x, y)) in pairs.enumerate() {
                if *y == 0.0 {
                    nulls[i] = true;
                    out.push(0.0);
                } else if op == ArithOp::Div {
                    out.push(x / y);
                } else {
                    out.push(x % y);
                }
            }
            out
        }
    };
    Ok(Vector::new(ty, Data::Double(out), Some(nulls)))
}

/// Compare two non-null cells.
pub fn cmp_cells(l: &Vector, i: usize, r: &Vector, j: usize) -> Ordering {
    match (&l.data, &r.data) {
        (Data::Long(a), Data::Long(b)) => a[i].cmp(&b[j]),
        (Data::Double(a), Data::Double(b)) => a[i].total_cmp(&b[j]),
        (Data::Long(a), Data::Double(b)) => cmp_i64_f64(a[i], b[j]),
        (Data::Double(a), Data::Long(b)) => cmp_i64_f64(b[j], a[i]).reverse(),
        (Data::Str(a), Data::Str(b)) => a[i].cmp(&b[j]),
        (Data::Bool(a), Data::Bool(b)) => a[i].cmp(&b[j]),
        (Data::Bytes(a), Data::Bytes(b)) => a[i].cmp(&b[j]),
        _ => l.scalar(i).sql_cmp(&r.scalar(j)),
    }
}

fn compare(op: CmpOp, l: &Vector, r: &Vector) -> Vector {
    let len = l.len();
    let nulls = merge_nulls(&l.nulls, &r.nulls);
    if l.ty == SqlType::Null || r.ty == SqlType::Null {
        return Vector::constant(SqlType::Boolean, &Scalar::Null, len);
    }
    let mut bits = vec![false; len];
    if l.multi_value || r.multi_value {
        // A multi-value cell matches when any element does.
        for (i, bit) in bits.iter_mut().enumerate() {
            let (a, b) = (l.scalar(i), r.scalar(i));
            *bit = match (a, b) {
                (Scalar::Array(items), other) => items
                    .iter()
                    .any(|x| !other.is_null() && op.holds(x.sql_cmp(&other))),
                (other, Scalar::Array(items)) => items
                    .iter()
                    .any(|x| !other.is_null() && op.holds(other.sql_cmp(x))),
                _ => false,
            };
        }
        if op == CmpOp::NotEq {
            // `mv <> x` holds when no element equals x.
            for (i, bit) in bits.iter_mut().enumerate() {
                *bit = match (l.scalar(i), r.scalar(i)) {
                    (Scalar::Array(items), other) | (other, Scalar::Array(items)) => {
                        !items.contains(&other)
                    }
                    _ => false,
                };
            }
        }
        return Vector::new(SqlType::Boolean, Data::Bool(bits), nulls);
    }
    match (&l.data, &r.data) {
        (Data::Long(a), Data::Long(b)) => {
            for i in 0..len {
                bits[i] = op.holds(a[i].cmp(&b[i]));
            }
        }
        (Data::Double(a), Data::Double(b)) => {
            for i in 0..len {
                bits[i] = op.holds(a[i].total_cmp(&b[i]));
            }
        }
        _ => {
            for (i, bit) in bits.iter_mut().enumerate() {
                *bit = op.holds(cmp_cells(l, i, r, i));
            }
        }
    }
    Vector::new(SqlType::Boolean, Data::Bool(bits), nulls)
}

fn string_predicate(v: &Vector, negated: bool, test: impl Fn(&str) -> bool) -> QueryResult<Vector> {
    let len = v.len();
    let mut bits = vec![false; len];
    match &v.data {
        Data::Str(values) => {
            for i in 0..len {
                bits[i] = test(&values[i]) != negated;
            }
        }
        Data::Array(cells) => {
            for i in 0..len {
                let any = cells[i].iter().any(|x| x.as_str().is_some_and(&test));
                bits[i] = any != negated;
            }
        }
        _ if v.ty == SqlType::Null => {
            return Ok(Vector::constant(SqlType::Boolean, &Scalar::Null, len));
        }
        _ => return Err(QueryError::invalid("LIKE / REGEXP_LIKE needs strings")),
    }
    Ok(Vector::new(
        SqlType::Boolean,
        Data::Bool(bits),
        v.nulls.clone(),
    ))
}

/// Convert a scalar to a target type where representations differ (long → double).
fn convert_scalar(value: Scalar, ty: SqlType) -> Scalar {
    match (value, ty) {
        (Scalar::Long(v), t) if t.is_floating() => Scalar::Double(v as f64),
        (other, _) => other,
    }
}

/// Doubles print the way DuckDB and PostgreSQL print them: integral values keep `.0`.
pub fn format_double(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else {
        format!("{v}")
    }
}

fn scalar_to_text(value: &Scalar, ty: SqlType) -> String {
    match value {
        Scalar::Null => String::new(),
        Scalar::Bool(v) => v.to_string(),
        Scalar::Long(v) if ty == SqlType::Timestamp => time::format_pinot(*v),
        Scalar::Long(v) => v.to_string(),
        Scalar::Double(v) => format_double(*v),
        Scalar::Str(v) => v.clone(),
        Scalar::Bytes(v) => tessera_segment::value::hex(v),
        Scalar::Array(items) => {
            let parts: Vec<String> = items.iter().map(|x| scalar_to_text(x, ty)).collect();
            format!("[{}]", parts.join(", "))
        }
    }
}

fn cast(v: &Vector, to: SqlType) -> QueryResult<Vector> {
    let len = v.len();
    if v.ty == to || v.ty == SqlType::Null {
        let mut out = v.clone();
        out.ty = to;
        if v.ty == SqlType::Null {
            return Ok(Vector::constant(to, &Scalar::Null, len));
        }
        return Ok(out);
    }
    let mut nulls = v.nulls.clone().unwrap_or_else(|| vec![false; len]);
    let bad = |value: &Scalar| {
        QueryError::data(format!(
            "cannot CAST {} `{}` to {}",
            v.ty.pinot_name(),
            scalar_to_text(value, v.ty),
            to.pinot_name()
        ))
    };
    let data = match to {
        SqlType::String | SqlType::Json => Data::Str(
            (0..len)
                .map(|i| {
                    if nulls[i] {
                        String::new()
                    } else {
                        scalar_to_text(&v.scalar(i), v.ty)
                    }
                })
                .collect(),
        ),
        SqlType::Int | SqlType::Long | SqlType::Timestamp => {
            let mut out = vec![0i64; len];
            for i in 0..len {
                if nulls[i] {
                    continue;
                }
                let value = v.scalar(i);
                out[i] = match &value {
                    Scalar::Long(x) => *x,
                    Scalar::Bool(x) => i64::from(*x),
                    Scalar::Double(x) => {
                        let rounded = x.round();
                        if !rounded.is_finite() || rounded.abs() >= 9.223_372_036_854_776e18 {
                            return Err(bad(&value));
                        }
                        rounded as i64
                    }
                    Scalar::Str(text) if to == SqlType::Timestamp => time::parse_timestamp(text)
                        .or_else(|| text.trim().parse().ok())
                        .ok_or_else(|| bad(&value))?,
                    Scalar::Str(text) => {
                        let trimmed = text.trim();
                        match trimmed.parse::<i64>() {
                            Ok(x) => x,
                            Err(_) => {
                                let x: f64 = trimmed.parse().map_err(|_| bad(&value))?;
                                if !x.is_finite() {
                                    return Err(bad(&value));
                                }
                                x.round() as i64
                            }
                        }
                    }
                    _ => return Err(bad(&value)),
                };
                if to == SqlType::Int && i32::try_from(out[i]).is_err() {
                    return Err(bad(&value));
                }
            }
            Data::Long(out)
        }
        SqlType::Float | SqlType::Double => {
            let mut out = vec![0f64; len];
            for i in 0..len {
                if nulls[i] {
                    continue;
                }
                let value = v.scalar(i);
                out[i] = match &value {
                    Scalar::Str(text) => text.trim().parse().map_err(|_| bad(&value))?,
                    other => other.as_f64().ok_or_else(|| bad(&value))?,
                };
                if to == SqlType::Float {
                    out[i] = f64::from(out[i] as f32);
                }
            }
            Data::Double(out)
        }
        SqlType::Boolean => {
            let mut out = vec![false; len];
            for i in 0..len {
                if nulls[i] {
                    continue;
                }
                let value = v.scalar(i);
                out[i] = match &value {
                    Scalar::Bool(x) => *x,
                    Scalar::Long(x) => *x != 0,
                    Scalar::Double(x) => *x != 0.0,
                    Scalar::Str(text) => match text.trim().to_ascii_lowercase().as_str() {
                        "true" | "t" | "1" => true,
                        "false" | "f" | "0" => false,
                        _ => return Err(bad(&value)),
                    },
                    _ => return Err(bad(&value)),
                };
            }
            Data::Bool(out)
        }
        SqlType::Bytes => Data::Bytes(
            (0..len)
                .map(|i| match v.scalar(i) {
                    Scalar::Str(text) => text.into_bytes(),
                    Scalar::Bytes(b) => b,
                    _ => Vec::new(),
                })
                .collect(),
        ),
        SqlType::Null => {
            nulls = vec![true; len];
            Data::Array(vec![Vec::new(); len])
        }
    };
    Ok(Vector::new(to, data, Some(nulls)))
}

fn call(func: &Func, args: &[Vector], ty: SqlType, len: usize, expr: &Expr) -> QueryResult<Vector> {
    let arg_nulls = |args: &[Vector]| -> Vec<bool> {
        let mut nulls = vec![false; len];
        for arg in args {
            if arg.ty == SqlType::Null {
                return vec![true; len];
            }
            if let Some(n) = &arg.nulls {
                for i in 0..len {
                    nulls[i] |= n[i];
                }
            }
        }
        nulls
    };
    let strings = |v: &Vector| -> Vec<String> {
        match &v.data {
            Data::Str(values) => values.clone(),
            _ => (0..len)
                .map(|i| scalar_to_text(&v.scalar(i), v.ty))
                .collect(),
        }
    };
    match func {
        Func::Lower | Func::Upper | Func::Trim | Func::Length => {
            let nulls = arg_nulls(args);
            let values = strings(&args[0]);
            if matches!(func, Func::Length) {
                let out = values.iter().map(|s| s.chars().count() as i64).collect();
                return Ok(Vector::new(ty, Data::Long(out), Some(nulls)));
            }
            let out = values
                .iter()
                .map(|s| match func {
                    Func::Lower => s.to_lowercase(),
                    Func::Upper => s.to_uppercase(),
                    _ => s.trim_matches(' ').to_string(),
                })
                .collect();
            Ok(Vector::new(ty, Data::Str(out), Some(nulls)))
        }
        Func::Substr => {
            let nulls = arg_nulls(args);
            let values = strings(&args[0]);
            let starts = i64s(&args[1]);
            let lengths = args.get(2).map(|a| i64s(a));
            let mut out = Vec::with_capacity(len);
            for i in 0..len {
                if nulls[i] {
                    out.push(String::new());
                    continue;
                }
                let chars: Vec<char> = values[i].chars().collect();
                let n = chars.len() as i64;
                let start = starts[i];
                let begin = match start.cmp(&0) {
                    Ordering::Greater => start - 1,
                    Ordering::Equal => -1,
                    Ordering::Less => n + start,
                };
                let end = match &lengths {
                    Some(l) if l[i] < 0 => {
                        return Err(QueryError::data(format!(
                            "SUBSTR length must not be negative in `{expr}`"
                        )));
                    }
                    Some(l) => begin.saturating_add(l[i]),
                    None => n,
                };
                let (b, e) = (begin.clamp(0, n) as usize, end.clamp(0, n) as usize);
                out.push(if b < e {
                    chars[b..e].iter().collect()
                } else {
                    String::new()
                });
            }
            Ok(Vector::new(ty, Data::Str(out), Some(nulls)))
        }
        Func::Concat => {
            let parts: Vec<Vec<String>> = args.iter().map(strings).collect();
            let out = (0..len)
                .map(|i| {
                    let mut s = String::new();
                    for (arg, part) in args.iter().zip(&parts) {
                        if !arg.is_null(i) && arg.ty != SqlType::Null {
                            s.push_str(&part[i]);
                        }
                    }
                    s
                })
                .collect();
            Ok(Vector::new(ty, Data::Str(out), None))
        }
        Func::Replace => {
            let nulls = arg_nulls(args);
            let (a, b, c) = (strings(&args[0]), strings(&args[1]), strings(&args[2]));
            let out = (0..len)
                .map(|i| {
                    if b[i].is_empty() {
                        a[i].clone()
                    } else {
                        a[i].replace(&b[i], &c[i])
                    }
                })
                .collect();
            Ok(Vector::new(ty, Data::Str(out), Some(nulls)))
        }
        Func::Abs | Func::Floor | Func::Ceil | Func::Round => {
            let nulls = arg_nulls(args);
            let digits = args.get(1).map(|a| i64s(a));
            if ty == SqlType::Long {
                let values = i64s(&args[0]);
                let mut out = vec![0i64; len];
                for i in 0..len {
                    if nulls[i] {
                        continue;
                    }
                    out[i] = match func {
                        Func::Abs => values[i].checked_abs().ok_or_else(|| overflow(expr))?,
                        Func::Round => match &digits {
                            Some(d) if d[i] < -18 => 0,
                            Some(d) if d[i] < 0 => {
                                let scale = 10i64.pow(d[i].unsigned_abs() as u32);
                                let half = if values[i] >= 0 {
                                    scale / 2
                                } else {
                                    -(scale / 2)
                                };
                                (values[i].saturating_add(half) / scale).saturating_mul(scale)
                            }
                            _ => values[i],
                        },
                        _ => values[i],
                    };
                }
                return Ok(Vector::new(ty, Data::Long(out), Some(nulls)));
            }
            let values = f64s(&args[0]);
            let mut out = vec![0f64; len];
            for i in 0..len {
                if nulls[i] {
                    continue;
                }
                let x = values[i];
                out[i] = match func {
                    Func::Abs => x.abs(),
                    Func::Floor => x.floor(),
                    Func::Ceil => x.ceil(),
                    _ => match &digits {
                        Some(d) if d[i] != 0 => {
                            let scale = 10f64.powi(d[i].clamp(-300, 300) as i32);
                            (x * scale).round() / scale
                        }
                        _ => x.round(),
                    },
                };
            }
            Ok(Vector::new(ty, Data::Double(out), Some(nulls)))
        }
        Func::Coalesce => {
            let mut result = vec![Scalar::Null; len];
            for (i, cell) in result.iter_mut().enumerate() {
                for arg in args {
                    if !arg.is_null(i) && arg.ty != SqlType::Null {
                        *cell = convert_scalar(arg.scalar(i), ty);
                        break;
                    }
                }
            }
            Ok(Vector::from_scalars(ty, false, &result))
        }
        Func::DateTrunc(unit) => map_i64(args, len, ty, |ms| time::truncate(ms, *unit)),
        Func::Extract(field) => {
            if *field == time::Field::Epoch {
                let nulls = arg_nulls(args);
                let values = i64s(&args[0]);
                let out = values.iter().map(|ms| *ms as f64 / 1000.0).collect();
                return Ok(Vector::new(ty, Data::Double(out), Some(nulls)));
            }
            map_i64(args, len, ty, |ms| time::extract(ms, *field))
        }
        Func::PinotDateTrunc {
            unit,
            input_millis,
            output_millis,
        } => map_i64(args, len, ty, |value| {
            let ms = value.checked_mul(*input_millis)?;
            Some(time::truncate(ms, *unit)?.div_euclid(*output_millis))
        }),
        Func::DateTimeConvert {
            input,
            output,
            granularity_millis,
        } => {
            let mut nulls = arg_nulls(args);
            let mut millis = vec![0i64; len];
            for i in 0..len {
                if nulls[i] {
                    continue;
                }
                let ms = match input {
                    EpochFormat::Epoch { unit_millis } => args[0]
                        .scalar(i)
                        .as_i64()
                        .and_then(|v| v.checked_mul(*unit_millis)),
                    EpochFormat::Pattern(pattern) => args[0]
                        .scalar(i)
                        .as_str()
                        .and_then(|text| time::parse_with(text, pattern)),
                };
                match ms.and_then(|ms| {
                    ms.div_euclid(*granularity_millis)
                        .checked_mul(*granularity_millis)
                }) {
                    Some(bucket) => millis[i] = bucket,
                    None => nulls[i] = true,
                }
            }
            Ok(match output {
                EpochFormat::Epoch { unit_millis } => Vector::new(
                    ty,
                    Data::Long(
                        millis
                            .iter()
                            .map(|ms| ms.div_euclid(*unit_millis))
                            .collect(),
                    ),
                    Some(nulls),
                ),
                EpochFormat::Pattern(pattern) => Vector::new(
                    ty,
                    Data::Str(
                        millis
                            .iter()
                            .map(|ms| time::format_with(*ms, pattern).unwrap_or_default())
                            .collect(),
                    ),
                    Some(nulls),
                ),
            })
        }
        Func::FromDateTime(pattern) => {
            let nulls = arg_nulls(args);
            let values = strings(&args[0]);
            let mut out = vec![0i64; len];
            for i in 0..len {
                if nulls[i] {
                    continue;
                }
                out[i] = time::parse_with(&values[i], pattern).ok_or_else(|| {
                    QueryError::data(format!(
                        "FROMDATETIME cannot parse `{}` with the pattern in `{expr}`",
                        values[i]
                    ))
                })?;
            }
            Ok(Vector::new(ty, Data::Long(out), Some(nulls)))
        }
        Func::ToDateTime(pattern) => {
            let mut nulls = arg_nulls(args);
            let values = i64s(&args[0]);
            let mut out = vec![String::new(); len];
            for i in 0..len {
                if nulls[i] {
                    continue;
                }
                match time::format_with(values[i], pattern) {
                    Some(text) => out[i] = text,
                    None => nulls[i] = true,
                }
            }
            Ok(Vector::new(ty, Data::Str(out), Some(nulls)))
        }
    }
}

/// Apply an i64 → i64 function (NULL where it returns None).
fn map_i64(
    args: &[Vector],
    len: usize,
    ty: SqlType,
    f: impl Fn(i64) -> Option<i64>,
) -> QueryResult<Vector> {
    let arg = &args[0];
    if arg.ty == SqlType::Null {
        return Ok(Vector::constant(ty, &Scalar::Null, len));
    }
    let values = i64s(arg);
    let mut nulls = arg.nulls.clone().unwrap_or_else(|| vec![false; len]);
    let mut out = vec![0i64; len];
    for i in 0..len {
        if nulls[i] {
            continue;
        }
        match f(values[i]) {
            Some(v) => out[i] = v,
            None => nulls[i] = true,
        }
    }
    Ok(Vector::new(ty, Data::Long(out), Some(nulls)))
}

/// Evaluate over precomputed slot vectors (post-aggregation scope).
pub struct SlotColumns<'a> {
    pub slots: &'a [Vector],
    pub rows: usize,
}

impl Columns for SlotColumns<'_> {
    fn len(&self) -> usize {
        self.rows
    }

    fn column(&mut self, name: &str) -> QueryResult<Vector> {
        Err(QueryError::execution(format!(
            "column `{name}` read after aggregation"
        )))
    }

    fn slot(&mut self, index: usize) -> QueryResult<Vector> {
        self.slots
            .get(index)
            .cloned()
            .ok_or_else(|| QueryError::execution(format!("no slot {index}")))
    }

    fn text_match(&mut self, column: &str, _query: &str) -> QueryResult<Vec<bool>> {
        Err(QueryError::execution(format!(
            "TEXT_MATCH on `{column}` after aggregation"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_by_a_constant_equals_the_hardware_division() {
        let mut values = vec![0, 1, -1, 7, -7, 9, -9, 10, -10, 11, 1 << 40, -(1 << 40)];
        values.extend([i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 1]);
        let mut state = 5u64;
        for _ in 0..2000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            values.push(state as i64 >> (state % 60));
        }
        for divisor in [
            1,
            -1,
            2,
            -2,
            3,
            7,
            -7,
            10,
            16,
            1000,
            1 << 33,
            12345678901,
            i64::MAX,
            i64::MIN,
        ] {
            let remainders: Vec<i64> = values.iter().map(|x| x.wrapping_rem(divisor)).collect();
            let quotients: Vec<i64> = values.iter().map(|x| x.wrapping_div(divisor)).collect();
            assert_eq!(
                divide_by_constant(&values, divisor, true),
                remainders,
                "% {divisor}"
            );
            assert_eq!(
                divide_by_constant(&values, divisor, false),
                quotients,
                "/ {divisor}"
            );
        }
    }
}
