//! `TEXT_MATCH` query strings, parsed as tantivy's query parser parses them for one
//! text field: words (a word the tokenizer splits is a phrase), `"phrases"`, `prefix*`,
//! `*` (every doc), `+must`, `-must_not`, `NOT`, `AND`, `OR` and parentheses. `AND`
//! binds tighter than `OR`; words side by side are optional clauses of one boolean
//! query (at least one must match unless another clause is required). Field names,
//! ranges, boosts, fuzzy and slop operators, regular expressions and sets are refused
//! with an error naming them.

use crate::{Error, Result};

/// How a clause counts in a boolean query (tantivy's `Occur`); `None` is optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Occur {
    Should,
    Must,
    MustNot,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Ast {
    /// A word or a quoted phrase, tokenized at evaluation.
    Text(String),
    /// `word*`: the terms starting with the word's one token.
    Prefix(String),
    /// `*`.
    All,
    Clause(Vec<(Option<Occur>, Ast)>),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Operator {
    And,
    Or,
}

/// Queries nest at most this deep (parentheses), so parsing a hostile string cannot
/// exhaust the stack.
const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

fn unsupported(what: &str, query: &str) -> Error {
    Error::TextQuery(format!(
        "{what} is not supported in TEXT_MATCH query=`{query}`"
    ))
}

/// Parse a query string. A query of exclusions alone is an error (as tantivy's parser
/// makes it); an empty one matches nothing.
pub(super) fn parse(query: &str) -> Result<Ast> {
    let mut parser = Parser { text: query, at: 0 };
    let ast = parser.sequence(0)?;
    parser.skip_space();
    if parser.at < query.len() {
        return Err(Error::TextQuery(format!(
            "unexpected `)` at byte {} query=`{query}`",
            parser.at
        )));
    }
    if let Ast::Clause(children) = &ast
        && !children.is_empty()
        && all_negative(&ast)
    {
        return Err(Error::TextQuery(format!(
            "a query of exclusions alone matches nothing to exclude from; add a term, or `*` for every row query=`{query}`"
        )));
    }
    Ok(ast)
}

fn all_negative(ast: &Ast) -> bool {
    match ast {
        Ast::Clause(children) => children
            .iter()
            .all(|(occur, child)| *occur == Some(Occur::MustNot) || all_negative(child)),
        _ => false,
    }
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.at = self.text.len() - trimmed.len();
    }

    /// A word ends at whitespace, a parenthesis or a quote.
    fn word_len(&self) -> usize {
        self.rest()
            .find(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | '"'))
            .unwrap_or(self.rest().len())
    }

    /// `AND`, `OR` (also `&&`, `||`) as a whole word.
    fn operator(&mut self) -> Option<Operator> {
        let len = self.word_len();
        let operator = match &self.rest()[..len] {
            "AND" | "&&" => Operator::And,
            "OR" | "||" => Operator::Or,
            _ => return None,
        };
        self.at += len;
        Some(operator)
    }

    /// Leaves up to the end or a `)`, grouped as tantivy groups them: runs joined by
    /// `AND` become one conjunction; runs are joined as optional clauses.
    fn sequence(&mut self, depth: usize) -> Result<Ast> {
        if depth > MAX_DEPTH {
            return Err(Error::TextQuery(format!(
                "TEXT_MATCH query nests deeper than {MAX_DEPTH} parentheses"
            )));
        }
        let mut leaves: Vec<(Option<Operator>, Option<Occur>, Ast)> = Vec::new();
        loop {
            self.skip_space();
            if self.rest().is_empty() || self.rest().starts_with(')') {
                break;
            }
            let operator = self.operator();
            if operator.is_some() {
                self.skip_space();
                if leaves.is_empty() {
                    return Err(Error::TextQuery(format!(
                        "a boolean operator before any term query=`{}`",
                        self.text
                    )));
                }
                if self.rest().is_empty() || self.rest().starts_with(')') {
                    return Err(Error::TextQuery(format!(
                        "a boolean operator without a term after it query=`{}`",
                        self.text
                    )));
                }
            }
            let (occur, leaf) = self.occur_leaf(depth)?;
            leaves.push((operator, occur, leaf));
        }
        Ok(group(leaves))
    }

    fn occur_leaf(&mut self, depth: usize) -> Result<(Option<Occur>, Ast)> {
        let occur = if let Some(after) = self.rest().strip_prefix('+') {
            self.at = self.text.len() - after.len();
            Some(Occur::Must)
        } else if let Some(after) = self.rest().strip_prefix('-') {
            self.at = self.text.len() - after.len();
            Some(Occur::MustNot)
        } else if self.rest().starts_with("NOT")
            && self.rest()[3..].starts_with(|c: char| c.is_whitespace() || c == '(')
        {
            self.at += 3;
            self.skip_space();
            Some(Occur::MustNot)
        } else {
            None
        };
        Ok((occur, self.leaf(depth)?))
    }

    fn leaf(&mut self, depth: usize) -> Result<Ast> {
        let query = self.text;
        if let Some(after) = self.rest().strip_prefix('(') {
            self.at = self.text.len() - after.len();
            let inner = self.sequence(depth + 1)?;
            self.skip_space();
            let Some(after) = self.rest().strip_prefix(')') else {
                return Err(Error::TextQuery(format!(
                    "a `(` without its `)` query=`{query}`"
                )));
            };
            self.at = self.text.len() - after.len();
            return Ok(inner);
        }
        if let Some(after) = self.rest().strip_prefix('"') {
            let Some(end) = after.find('"') else {
                return Err(Error::TextQuery(format!(
                    "a `\"` without its closing quote query=`{query}`"
                )));
            };
            let phrase = after[..end].to_string();
            self.at = self.text.len() - after.len() + end + 1;
            if self.rest().starts_with(['~', '^', '*']) {
                return Err(unsupported("a phrase's slop, boost or prefix", query));
            }
            return Ok(Ast::Text(phrase));
        }
        let len = self.word_len();
        let text = self.text;
        let word = &text[self.at..self.at + len];
        if word.is_empty() {
            return Err(Error::TextQuery(format!(
                "a term expected at byte {} query=`{query}`",
                self.at
            )));
        }
        self.at += len;
        if word.contains(':') {
            return Err(unsupported(
                "a field name (the query searches its column)",
                query,
            ));
        }
        if let Some(c) = word.chars().find(|c| "^~[]{}/\\".contains(*c)) {
            return Err(unsupported(&format!("`{c}`"), query));
        }
        if word == "*" {
            return Ok(Ast::All);
        }
        match word.strip_suffix('*') {
            Some(prefix) if !prefix.contains('*') => Ok(Ast::Prefix(prefix.to_string())),
            _ if word.contains('*') => Err(unsupported("`*` inside a word", query)),
            _ => Ok(Ast::Text(word.to_string())),
        }
    }
}

/// Tantivy's grouping of a sequence of leaves, each with the operator before it: a
/// leaf after `AND` joins the previous group as required; any other leaf starts a
/// group, required when an `AND` follows it, optional when `OR` does. `-x` after `OR`
/// becomes an optional clause that excludes `x` (which alone matches nothing).
fn group(leaves: Vec<(Option<Operator>, Option<Occur>, Ast)>) -> Ast {
    if leaves.is_empty() {
        return Ast::Clause(Vec::new());
    }
    let next_operators: Vec<Option<Operator>> = leaves
        .iter()
        .skip(1)
        .map(|(operator, _, _)| *operator)
        .chain(std::iter::once(None))
        .collect();
    let mut groups: Vec<Vec<(Option<Occur>, Ast)>> = Vec::new();
    for ((operator, occur, ast), next) in leaves.into_iter().zip(next_operators) {
        match operator {
            Some(Operator::And) => {
                let item = (occur.or(Some(Occur::Must)), ast);
                match groups.last_mut() {
                    Some(last) => last.push(item),
                    None => groups.push(vec![item]),
                }
            }
            _ => {
                let default = match next {
                    Some(Operator::And) => Some(Occur::Must),
                    Some(Operator::Or) => Some(Occur::Should),
                    None if operator == Some(Operator::Or) => Some(Occur::Should),
                    None => None,
                };
                if occur == Some(Occur::MustNot) && default == Some(Occur::Should) {
                    groups.push(vec![(
                        Some(Occur::Should),
                        Ast::Clause(vec![(Some(Occur::MustNot), ast)]),
                    )]);
                } else {
                    groups.push(vec![(occur.or(default), ast)]);
                }
            }
        }
    }
    if groups.len() == 1 {
        let mut only = groups.remove(0);
        if only.len() == 1 && only[0].0 != Some(Occur::MustNot) {
            return only.remove(0).1;
        }
        return Ast::Clause(only);
    }
    Ast::Clause(
        groups
            .into_iter()
            .map(|mut items| {
                if items.len() == 1 {
                    items.remove(0)
                } else {
                    (Some(Occur::Should), Ast::Clause(items))
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(word: &str) -> Ast {
        Ast::Text(word.to_string())
    }

    #[test]
    fn words_operators_and_groups_parse_as_tantivy_groups_them() {
        assert_eq!(parse("quick").expect("parses"), text("quick"));
        assert_eq!(
            parse("a AND b OR c").expect("parses"),
            Ast::Clause(vec![
                (
                    Some(Occur::Should),
                    Ast::Clause(vec![
                        (Some(Occur::Must), text("a")),
                        (Some(Occur::Must), text("b"))
                    ])
                ),
                (Some(Occur::Should), text("c")),
            ])
        );
        assert_eq!(
            parse("+a -b c").expect("parses"),
            Ast::Clause(vec![
                (Some(Occur::Must), text("a")),
                (Some(Occur::MustNot), text("b")),
                (None, text("c")),
            ])
        );
        assert!(parse("NOT b").is_err() && parse("-a -b").is_err());
        assert_eq!(
            parse("* -b").expect("parses"),
            Ast::Clause(vec![(None, Ast::All), (Some(Occur::MustNot), text("b"))])
        );
        assert_eq!(
            parse("(\"a b\" OR pre*)").expect("parses"),
            Ast::Clause(vec![
                (Some(Occur::Should), text("a b")),
                (Some(Occur::Should), Ast::Prefix("pre".into())),
            ])
        );
    }

    #[test]
    fn malformed_and_unsupported_queries_are_errors() {
        for query in [
            "AND (",
            "a AND",
            "(a",
            "a)",
            "\"open",
            "f:x",
            "a^2",
            "a~1",
            "[a TO b]",
            "/re/",
            "a*b",
            "\"a b\"~2",
        ] {
            assert!(parse(query).is_err(), "{query}");
        }
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(parse(&deep).is_err());
        let fine = format!("{}a{}", "(".repeat(10), ")".repeat(10));
        assert_eq!(parse(&fine).expect("parses"), text("a"));
    }
}
