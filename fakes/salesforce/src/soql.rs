//! The SOQL subset the connector needs: `SELECT fields FROM Lead|Contact [WHERE …]
//! [ORDER BY field [ASC|DESC], …] [LIMIT n]`, where a condition compares a field with a literal
//! (`= != <> < <= > >=`) or tests `IN (…)`, joined by `AND`/`OR` with parentheses. As in
//! Salesforce, mixing `AND` and `OR` on one level without parentheses is a `MALFORMED_QUERY`.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::errors::ApiError;
use crate::store::{Record, SObject};

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    /// A number or datetime literal, kept raw.
    Lit(String),
    Sym(&'static str),
}

fn lex(q: &str) -> Result<Vec<Token>, ApiError> {
    let chars: Vec<char> = q.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_.".contains(chars[i])) {
                i += 1;
            }
            tokens.push(Token::Word(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() || c == '-' {
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "-:.+".contains(chars[i]))
            {
                i += 1;
            }
            tokens.push(Token::Lit(chars[start..i].iter().collect()));
        } else if c == '\'' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(ApiError::malformed("unterminated string literal")),
                    Some('\'') => break,
                    Some('\\') => {
                        s.extend(chars.get(i + 1));
                        i += 2;
                    }
                    Some(&ch) => {
                        s.push(ch);
                        i += 1;
                    }
                }
            }
            i += 1;
            tokens.push(Token::Str(s));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let sym = ["!=", "<>", "<=", ">="]
                .into_iter()
                .find(|s| *s == two)
                .or_else(|| {
                    ["(", ")", ",", "=", "<", ">"]
                        .into_iter()
                        .find(|s| s.starts_with(c))
                })
                .ok_or_else(|| ApiError::malformed(format!("unexpected character '{c}'")))?;
            i += sym.len();
            tokens.push(Token::Sym(sym));
        }
    }
    Ok(tokens)
}

/// A literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Str(String),
    DateTime(DateTime<Utc>),
    Number(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cond {
    Cmp {
        field: String,
        op: &'static str,
        value: Literal,
    },
    In {
        field: String,
        values: Vec<Literal>,
    },
    And(Vec<Cond>),
    Or(Vec<Cond>),
}

/// A parsed query; field names are in their canonical spelling.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    pub(crate) sobject: SObject,
    pub(crate) fields: Vec<String>,
    pub(crate) filter: Option<Cond>,
    pub(crate) order: Vec<(String, bool)>,
    pub(crate) limit: Option<usize>,
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    sobject: SObject,
}

fn is_kw(token: Option<&Token>, kw: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "end of query".to_owned(),
        Some(Token::Word(w) | Token::Lit(w) | Token::Str(w)) => format!("'{w}'"),
        Some(Token::Sym(s)) => format!("'{s}'"),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn unexpected(&self) -> ApiError {
        ApiError::malformed(format!("unexpected token: {}", describe(self.peek())))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let found = is_kw(self.peek(), kw);
        if found {
            self.at += 1;
        }
        found
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), ApiError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn eat_sym(&mut self, sym: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Sym(s)) if *s == sym);
        if found {
            self.at += 1;
        }
        found
    }

    fn word(&mut self) -> Result<String, ApiError> {
        match self.peek() {
            Some(Token::Word(w)) => {
                let w = w.clone();
                self.at += 1;
                Ok(w)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn field(&mut self) -> Result<String, ApiError> {
        let name = self.word()?;
        self.sobject
            .canonical(&name)
            .ok_or_else(|| ApiError::invalid_field(self.sobject.name(), &name))
    }

    /// `or := and (OR and)*`, `and := atom (AND atom)*`, but one level may not mix them.
    fn condition(&mut self) -> Result<Cond, ApiError> {
        let first = self.atom()?;
        let joiner = if is_kw(self.peek(), "AND") {
            "AND"
        } else if is_kw(self.peek(), "OR") {
            "OR"
        } else {
            return Ok(first);
        };
        let mut parts = vec![first];
        while self.eat_kw(joiner) {
            parts.push(self.atom()?);
        }
        if is_kw(self.peek(), "AND") || is_kw(self.peek(), "OR") {
            return Err(self.unexpected());
        }
        Ok(if joiner == "AND" {
            Cond::And(parts)
        } else {
            Cond::Or(parts)
        })
    }

    fn atom(&mut self) -> Result<Cond, ApiError> {
        if self.eat_sym("(") {
            let inner = self.condition()?;
            return if self.eat_sym(")") {
                Ok(inner)
            } else {
                Err(self.unexpected())
            };
        }
        let field = self.field()?;
        if self.eat_kw("IN") {
            if !self.eat_sym("(") {
                return Err(self.unexpected());
            }
            let mut values = vec![self.literal(&field)?];
            while self.eat_sym(",") {
                values.push(self.literal(&field)?);
            }
            if !self.eat_sym(")") {
                return Err(self.unexpected());
            }
            return Ok(Cond::In { field, values });
        }
        let op = match self.next() {
            Some(Token::Sym(op)) if !["(", ")", ","].contains(&op) => op,
            _ => {
                self.at -= 1;
                return Err(self.unexpected());
            }
        };
        let value = self.literal(&field)?;
        Ok(Cond::Cmp { field, op, value })
    }

    /// A literal of the type `field` takes: dateTime fields take unquoted datetimes.
    fn literal(&mut self, field: &str) -> Result<Literal, ApiError> {
        let datetime_field = matches!(
            field,
            "SystemModstamp" | "CreatedDate" | "LastModifiedDate" | "ConvertedDate"
        );
        let literal = match self.next() {
            Some(Token::Str(s)) if !datetime_field => Literal::Str(s),
            Some(Token::Lit(raw)) if datetime_field => Literal::DateTime(
                parse_datetime(&raw)
                    .ok_or_else(|| ApiError::malformed(format!("invalid dateTime: {raw}")))?,
            ),
            Some(Token::Lit(raw)) => Literal::Number(
                raw.parse()
                    .map_err(|_| ApiError::malformed(format!("invalid number: {raw}")))?,
            ),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            _ if datetime_field => {
                return Err(ApiError::malformed(format!(
                    "value of filter criterion for field '{field}' must be of type dateTime \
                     and should not be enclosed in quotes"
                )));
            }
            _ => {
                self.at -= 1;
                return Err(self.unexpected());
            }
        };
        Ok(literal)
    }
}

fn parse_datetime(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .or_else(|_| DateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// Parses `q`; errors are what Salesforce answers (`MALFORMED_QUERY`, `INVALID_FIELD`,
/// `INVALID_TYPE`).
pub(crate) fn parse(q: &str) -> Result<Query, ApiError> {
    let tokens = lex(q)?;
    let from = tokens
        .iter()
        .position(|t| is_kw(Some(t), "FROM"))
        .ok_or_else(|| ApiError::malformed("a query needs SELECT … FROM"))?;
    let object = match tokens.get(from + 1) {
        Some(Token::Word(w)) => w.clone(),
        other => {
            return Err(ApiError::malformed(format!(
                "unexpected token: {}",
                describe(other)
            )));
        }
    };
    let sobject = SObject::parse(&object).ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "INVALID_TYPE",
            format!("sObject type '{object}' is not supported."),
        )
    })?;
    let mut p = Parser {
        tokens,
        at: 0,
        sobject,
    };
    p.expect_kw("SELECT")?;
    let mut fields = vec![p.field()?];
    while p.eat_sym(",") {
        fields.push(p.field()?);
    }
    p.expect_kw("FROM")?;
    p.at += 1;
    let filter = if p.eat_kw("WHERE") {
        Some(p.condition()?)
    } else {
        None
    };
    let mut order = Vec::new();
    if p.eat_kw("ORDER") {
        p.expect_kw("BY")?;
        loop {
            let field = p.field()?;
            let ascending = !p.eat_kw("DESC");
            if ascending {
                p.eat_kw("ASC");
            }
            order.push((field, ascending));
            if !p.eat_sym(",") {
                break;
            }
        }
    }
    let limit = if p.eat_kw("LIMIT") {
        match p.next() {
            Some(Token::Lit(n)) => Some(
                n.parse()
                    .map_err(|_| ApiError::malformed(format!("invalid LIMIT: {n}")))?,
            ),
            _ => {
                p.at -= 1;
                return Err(p.unexpected());
            }
        }
    } else {
        None
    };
    if p.peek().is_some() {
        return Err(p.unexpected());
    }
    Ok(Query {
        sobject,
        fields,
        filter,
        order,
        limit,
    })
}

/// Orders two field values the way SOQL does: nulls first, datetimes by instant, else by value.
fn compare(record: &Record, field: &str, value: &Literal) -> Option<Ordering> {
    let current = record.value(field);
    match (value, &current) {
        (Literal::Null, Value::Null) => Some(Ordering::Equal),
        (_, Value::Null) | (Literal::Null, _) => None,
        (Literal::DateTime(at), Value::String(s)) => parse_datetime(s).map(|v| v.cmp(at)),
        (Literal::Str(lit), Value::String(s)) => Some(s.as_str().cmp(lit.as_str())),
        (Literal::Number(n), Value::Number(v)) => v.as_f64()?.partial_cmp(n),
        (Literal::Bool(b), Value::Bool(v)) => Some(v.cmp(b)),
        _ => None,
    }
}

impl Cond {
    pub(crate) fn matches(&self, record: &Record) -> bool {
        match self {
            Self::And(parts) => parts.iter().all(|c| c.matches(record)),
            Self::Or(parts) => parts.iter().any(|c| c.matches(record)),
            Self::In { field, values } => values
                .iter()
                .any(|v| compare(record, field, v) == Some(Ordering::Equal)),
            Self::Cmp { field, op, value } => {
                let ordering = compare(record, field, value);
                match *op {
                    "=" => ordering == Some(Ordering::Equal),
                    // Nulls count as different, as in SOQL (`MasterRecordId != null`).
                    "!=" | "<>" => ordering != Some(Ordering::Equal),
                    "<" => ordering == Some(Ordering::Less),
                    "<=" => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
                    ">" => ordering == Some(Ordering::Greater),
                    _ => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
                }
            }
        }
    }
}

/// The `ORDER BY` comparison of two records (nulls first when ascending).
pub(crate) fn order(query: &Query, a: &Record, b: &Record) -> Ordering {
    for (field, ascending) in &query.order {
        let (x, y) = (a.value(field), b.value(field));
        let ordering = match (&x, &y) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Less,
            (_, Value::Null) => Ordering::Greater,
            (Value::Number(m), Value::Number(n)) => m
                .as_f64()
                .partial_cmp(&n.as_f64())
                .unwrap_or(Ordering::Equal),
            (Value::Bool(m), Value::Bool(n)) => m.cmp(n),
            // Datetimes are all rendered in UTC with the same width, so text order is time order.
            _ => x.to_string().cmp(&y.to_string()),
        };
        let ordering = if *ascending {
            ordering
        } else {
            ordering.reverse()
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_modstamp_walk() {
        let q = parse(
            "SELECT Id, email FROM lead WHERE SystemModstamp > 2026-01-01T00:00:00Z OR \
             (SystemModstamp = 2026-01-01T00:00:00.000+0000 AND Id > '00Q') \
             ORDER BY SystemModstamp, Id LIMIT 10",
        )
        .unwrap();
        assert_eq!(q.sobject, SObject::Lead);
        assert_eq!(q.fields, ["Id", "Email"]);
        assert!(matches!(q.filter, Some(Cond::Or(ref parts)) if parts.len() == 2));
        assert_eq!(q.limit, Some(10));
    }

    #[test]
    fn rejects_mixed_and_or_quoted_datetimes_and_unknown_fields() {
        let mixed = "SELECT Id FROM Lead WHERE Id > 'a' AND Id < 'b' OR Id = 'c'";
        assert_eq!(parse(mixed).unwrap_err().code, "MALFORMED_QUERY");
        let quoted = "SELECT Id FROM Lead WHERE SystemModstamp > '2026-01-01T00:00:00Z'";
        assert_eq!(parse(quoted).unwrap_err().code, "MALFORMED_QUERY");
        assert_eq!(
            parse("SELECT Nope FROM Lead").unwrap_err().code,
            "INVALID_FIELD"
        );
        assert_eq!(
            parse("SELECT Id FROM Account").unwrap_err().code,
            "INVALID_TYPE"
        );
    }
}
