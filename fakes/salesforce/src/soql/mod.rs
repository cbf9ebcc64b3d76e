//! The SOQL subset the connector needs: `SELECT fields FROM Lead|Contact|Opportunity|LeadStatus
//! [WHERE …] [ORDER BY field [ASC|DESC], …] [LIMIT n]`, where a condition compares a field with a literal
//! (`= != <> < <= > >=`) or tests `IN (…)`, joined by `AND`/`OR` with parentheses. As in
//! Salesforce, mixing `AND` and `OR` on one level without parentheses is a `MALFORMED_QUERY`.

use chrono::{DateTime, Utc};

mod eval;
mod lex;

pub(crate) use eval::order;
use lex::{Token, describe, is_kw, lex};

use crate::errors::ApiError;
use crate::store::{Kind, SObject};

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

    /// A literal of the type `field` takes: dateTime and date fields take unquoted values.
    fn literal(&mut self, field: &str) -> Result<Literal, ApiError> {
        let kind = self.sobject.kind(field);
        let temporal = matches!(kind, Kind::DateTime | Kind::Date);
        let literal = match self.next() {
            Some(Token::Str(s)) if !temporal => Literal::Str(s),
            Some(Token::Lit(raw)) if kind == Kind::DateTime => Literal::DateTime(
                parse_datetime(&raw)
                    .ok_or_else(|| ApiError::malformed(format!("invalid dateTime: {raw}")))?,
            ),
            Some(Token::Lit(raw)) if kind == Kind::Date => {
                chrono::NaiveDate::parse_from_str(&raw, "%Y-%m-%d")
                    .map_err(|_| ApiError::malformed(format!("invalid date: {raw}")))?;
                // ISO dates compare as text.
                Literal::Str(raw)
            }
            Some(Token::Lit(raw)) => Literal::Number(
                raw.parse()
                    .map_err(|_| ApiError::malformed(format!("invalid number: {raw}")))?,
            ),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Literal::Null,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Literal::Bool(false),
            _ if temporal => {
                let kind = if kind == Kind::Date {
                    "date"
                } else {
                    "dateTime"
                };
                return Err(ApiError::malformed(format!(
                    "value of filter criterion for field '{field}' must be of type {kind} \
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
