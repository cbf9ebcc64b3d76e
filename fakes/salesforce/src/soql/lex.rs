//! Tokens of the SOQL subset.

use crate::errors::ApiError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Word(String),
    Str(String),
    /// A number or datetime literal, kept raw.
    Lit(String),
    Sym(&'static str),
}

pub(super) fn lex(q: &str) -> Result<Vec<Token>, ApiError> {
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

pub(super) fn is_kw(token: Option<&Token>, kw: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
}

pub(super) fn describe(token: Option<&Token>) -> String {
    match token {
        None => "end of query".to_owned(),
        Some(Token::Word(w) | Token::Lit(w) | Token::Str(w)) => format!("'{w}'"),
        Some(Token::Sym(s)) => format!("'{s}'"),
    }
}
