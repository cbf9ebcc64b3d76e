//! A condition compiled to a native evaluator: a tree that reads the person's facts directly,
//! without building CEL values or contexts. It covers what rules are made of (literals, facts,
//! `thresholds.X`, `lists.X`, `custom.X`, `&&`, `||`, `!`, `?:`, comparisons, `in`, `contains`,
//! `startsWith`, `endsWith`, `size`, `field`, `flag`) with the semantics of the `cel` crate's
//! interpreter (0.15), errors included. A condition using anything else has no native form and
//! is evaluated by CEL; so is every evaluation that ends in an error here, for CEL's message.

use super::facts::{FACTS, FactValue, Facts, Kind};
use super::file::RulesFile;
use cel::common::ast::{CallExpr, Expr, IdedExpr, LiteralValue, operators};
use std::cmp::Ordering;
use std::collections::HashMap;

/// A constant: a literal, a threshold, an element of a list.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Const {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(String),
}

impl Const {
    fn val(&self) -> V<'_> {
        match self {
            Const::Bool(b) => V::Bool(*b),
            Const::Int(i) => V::Int(*i),
            Const::UInt(u) => V::UInt(*u),
            Const::Double(d) => V::Double(*d),
            Const::Str(s) => V::Str(s),
        }
    }
}

/// The `[thresholds]` and `[lists]` of a rules file as conditions see them: whole numbers as
/// ints (CEL compares `employees >= 50` but not an int with a double), list words trimmed and
/// lower-case.
#[derive(Debug, Clone)]
pub(super) struct Constants {
    pub(super) thresholds: HashMap<String, Const>,
    pub(super) lists: HashMap<String, Vec<Const>>,
}

impl Constants {
    pub(super) fn of(file: &RulesFile) -> Constants {
        let thresholds = file
            .thresholds
            .iter()
            .map(|(k, v)| {
                let value = if v.fract() == 0.0 && v.abs() < 9e15 {
                    Const::Int(*v as i64)
                } else {
                    Const::Double(*v)
                };
                (k.clone(), value)
            })
            .collect();
        let lists = file
            .lists
            .iter()
            .map(|(k, v)| {
                let words = v.iter().map(|w| Const::Str(w.trim().to_lowercase()));
                (k.clone(), words.collect())
            })
            .collect();
        Constants { thresholds, lists }
    }
}

/// A value during evaluation, borrowed from the tree or the facts.
#[derive(Debug, Clone, Copy)]
enum V<'a> {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(&'a str),
    List(&'a [Const]),
}

/// An evaluation error; CEL is asked again for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Failed;

type R<'a> = Result<V<'a>, Failed>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StrOp {
    Contains,
    StartsWith,
    EndsWith,
}

/// A compiled (sub-)condition.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Const(Const),
    List(Vec<Const>),
    /// Always an error (a key missing from `thresholds` or `lists`).
    Fail,
    /// A fact by its index in [`FACTS`] (never a map).
    Fact(usize),
    /// `custom.NAME`: an error when the person has no such field.
    Custom(String),
    /// `field('NAME')`
    Field(String),
    /// `flag('NAME')`
    Flag(String),
    Not(Box<Node>),
    Neg(Box<Node>),
    And(Box<(Node, Node)>),
    Or(Box<(Node, Node)>),
    If(Box<(Node, Node, Node)>),
    /// `==`, or `!=` when the flag is set.
    Eq(Box<(Node, Node)>, bool),
    Cmp(Box<(Node, Node)>, Cmp),
    In(Box<(Node, Node)>),
    Str(Box<(Node, Node)>, StrOp),
    Size(Box<Node>),
}

/// Measurement only (feature `compare-copies`): `LEADSYNC_COMPARE=cel`, read once.
fn cel_only() -> bool {
    #[cfg(feature = "compare-copies")]
    {
        static CEL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *CEL.get_or_init(|| std::env::var("LEADSYNC_COMPARE").is_ok_and(|v| v == "cel"))
    }
    #[cfg(not(feature = "compare-copies"))]
    {
        false
    }
}

/// Compiles a parsed condition; `None` when it uses anything without a native form.
pub(super) fn compile(expr: &IdedExpr, constants: &Constants) -> Option<Node> {
    // Measurement only: CEL alone, to re-measure this copy's gain (docs/hand-written-copies.md).
    if cel_only() {
        return None;
    }
    match &expr.expr {
        Expr::Literal(literal) => literal_const(literal).map(Node::Const),
        Expr::Ident(name) => {
            let index = FACTS.iter().position(|(n, _, _)| n == name)?;
            (FACTS[index].1 != Kind::Map).then_some(Node::Fact(index))
        }
        Expr::Select(select) if !select.test => {
            let Expr::Ident(map) = &select.operand.expr else {
                return None;
            };
            let field = &select.field;
            Some(match map.as_str() {
                "thresholds" => constants
                    .thresholds
                    .get(field)
                    .map_or(Node::Fail, |c| Node::Const(c.clone())),
                "lists" => constants
                    .lists
                    .get(field)
                    .map_or(Node::Fail, |l| Node::List(l.clone())),
                "custom" => Node::Custom(field.clone()),
                _ => return None,
            })
        }
        Expr::List(list) if list.optional_indices.is_empty() => {
            let elements = list.elements.iter().map(|e| match &e.expr {
                Expr::Literal(literal) => literal_const(literal),
                _ => None,
            });
            elements.collect::<Option<Vec<_>>>().map(Node::List)
        }
        Expr::Call(call) => compile_call(call, constants),
        _ => None,
    }
}

fn compile_call(call: &CallExpr, constants: &Constants) -> Option<Node> {
    let node = |e: &IdedExpr| compile(e, constants);
    let pair = |a: &IdedExpr, b: &IdedExpr| Some(Box::new((node(a)?, node(b)?)));
    let args = call.args.as_slice();
    if let Some(target) = &call.target {
        let target = target.as_ref();
        let op = match call.func_name.as_str() {
            "contains" => StrOp::Contains,
            "startsWith" => StrOp::StartsWith,
            "endsWith" => StrOp::EndsWith,
            "size" if args.is_empty() && !names_a_namespace(target) => {
                return Some(Node::Size(Box::new(node(target)?)));
            }
            _ => return None,
        };
        if args.len() != 1 || names_a_namespace(target) {
            return None;
        }
        return Some(Node::Str(pair(target, &args[0])?, op));
    }
    Some(match (call.func_name.as_str(), args) {
        (operators::LOGICAL_AND, [a, b]) => Node::And(pair(a, b)?),
        (operators::LOGICAL_OR, [a, b]) => Node::Or(pair(a, b)?),
        (operators::LOGICAL_NOT, [a]) => Node::Not(Box::new(node(a)?)),
        (operators::NEGATE, [a]) => Node::Neg(Box::new(node(a)?)),
        (operators::CONDITIONAL, [c, a, b]) => Node::If(Box::new((node(c)?, node(a)?, node(b)?))),
        (operators::EQUALS, [a, b]) => Node::Eq(pair(a, b)?, false),
        (operators::NOT_EQUALS, [a, b]) => Node::Eq(pair(a, b)?, true),
        (operators::LESS, [a, b]) => Node::Cmp(pair(a, b)?, Cmp::Lt),
        (operators::LESS_EQUALS, [a, b]) => Node::Cmp(pair(a, b)?, Cmp::Le),
        (operators::GREATER, [a, b]) => Node::Cmp(pair(a, b)?, Cmp::Gt),
        (operators::GREATER_EQUALS, [a, b]) => Node::Cmp(pair(a, b)?, Cmp::Ge),
        (operators::IN, [a, b]) => Node::In(pair(a, b)?),
        ("size", [a]) => Node::Size(Box::new(node(a)?)),
        ("field" | "flag", [a]) => {
            let Expr::Literal(LiteralValue::String(name)) = &a.expr else {
                return None;
            };
            let name = name.inner().to_string();
            if call.func_name == "field" {
                Node::Field(name)
            } else {
                Node::Flag(name)
            }
        }
        _ => return None,
    })
}

/// Whether a call's target could name a function namespace (`strings.quote(…)` is a call of
/// `strings.quote`, not of `quote` on `strings`): only facts are known not to.
fn names_a_namespace(target: &IdedExpr) -> bool {
    let root = match &target.expr {
        Expr::Ident(name) => name,
        Expr::Select(select) => match &select.operand.expr {
            Expr::Ident(name) => name,
            _ => return false,
        },
        _ => return false,
    };
    !FACTS.iter().any(|(n, _, _)| n == root)
}

fn literal_const(literal: &LiteralValue) -> Option<Const> {
    Some(match literal {
        LiteralValue::Boolean(b) => Const::Bool(*b.inner()),
        LiteralValue::Int(i) => Const::Int(*i.inner()),
        LiteralValue::UInt(u) => Const::UInt(*u.inner()),
        LiteralValue::Double(d) => Const::Double(*d.inner()),
        LiteralValue::String(s) => Const::Str(s.inner().to_string()),
        LiteralValue::Bytes(_) | LiteralValue::Null => return None,
    })
}

impl Node {
    /// The condition's value: `Ok(b)` when it is true or false, `Err` when CEL would fail or
    /// give something else.
    pub(super) fn holds(&self, facts: &Facts) -> Result<bool, Failed> {
        match self.eval(facts)? {
            V::Bool(b) => Ok(b),
            _ => Err(Failed),
        }
    }

    fn eval<'a>(&'a self, facts: &'a Facts) -> R<'a> {
        match self {
            Node::Const(c) => Ok(c.val()),
            Node::List(l) => Ok(V::List(l)),
            Node::Fail => Err(Failed),
            Node::Fact(i) => match &facts.values[*i] {
                FactValue::Text(s) => Ok(V::Str(s)),
                FactValue::Int(i) => Ok(V::Int(*i)),
                FactValue::Bool(b) => Ok(V::Bool(*b)),
                FactValue::Map => Err(Failed),
            },
            Node::Custom(name) => facts.custom(name).map(V::Str).ok_or(Failed),
            Node::Field(name) => Ok(V::Str(facts.custom(name).unwrap_or_default())),
            Node::Flag(name) => Ok(V::Bool(facts.custom(name).is_some_and(is_yes))),
            Node::Not(a) => match a.eval(facts)? {
                V::Bool(b) => Ok(V::Bool(!b)),
                _ => Err(Failed),
            },
            Node::Neg(a) => match a.eval(facts)? {
                V::Int(i) => i.checked_neg().map(V::Int).ok_or(Failed),
                V::Double(d) => Ok(V::Double(-d)),
                _ => Err(Failed),
            },
            Node::And(ab) => logical(false, &ab.0, &ab.1, facts),
            Node::Or(ab) => logical(true, &ab.0, &ab.1, facts),
            Node::If(cab) => {
                if bool_of(cab.0.eval(facts))? {
                    cab.1.eval(facts)
                } else {
                    cab.2.eval(facts)
                }
            }
            Node::Eq(ab, negate) => {
                let (a, b) = (ab.0.eval(facts)?, ab.1.eval(facts)?);
                Ok(V::Bool(equals(a, b) != *negate))
            }
            Node::Cmp(ab, op) => {
                let (a, b) = (ab.0.eval(facts)?, ab.1.eval(facts)?);
                let order = compare(a, b)?;
                Ok(V::Bool(match op {
                    Cmp::Lt => order == Ordering::Less,
                    Cmp::Le => order != Ordering::Greater,
                    Cmp::Gt => order == Ordering::Greater,
                    Cmp::Ge => order != Ordering::Less,
                }))
            }
            Node::In(ab) => {
                let (a, b) = (ab.0.eval(facts)?, ab.1.eval(facts)?);
                match b {
                    V::List(list) => Ok(V::Bool(list.iter().any(|c| equals(c.val(), a)))),
                    _ => Err(Failed),
                }
            }
            Node::Str(ab, op) => {
                let (a, b) = (ab.0.eval(facts)?, ab.1.eval(facts)?);
                let (V::Str(a), V::Str(b)) = (a, b) else {
                    return Err(Failed);
                };
                Ok(V::Bool(match op {
                    StrOp::Contains => a.contains(b),
                    StrOp::StartsWith => a.starts_with(b),
                    StrOp::EndsWith => a.ends_with(b),
                }))
            }
            Node::Size(a) => match a.eval(facts)? {
                V::Str(s) => Ok(V::Int(s.chars().count() as i64)),
                V::List(l) => Ok(V::Int(l.len() as i64)),
                _ => Err(Failed),
            },
        }
    }
}

/// What `flag('x')` holds for: true, yes, y, 1, x, checked (trimmed, any case).
pub(super) fn is_yes(value: &str) -> bool {
    const YES: [&str; 6] = ["true", "yes", "y", "1", "x", "checked"];
    let value = value.trim();
    if value.is_ascii() {
        YES.iter().any(|y| value.eq_ignore_ascii_case(y))
    } else {
        // Unicode lower-casing can make ASCII (the Kelvin sign is a `k`).
        YES.contains(&value.to_lowercase().as_str())
    }
}

/// `&&` (`decisive` false) and `||` (`decisive` true), as the crate does them: the left side
/// first, and a decisive one is the result; else the right side, whose error is the result;
/// an error on the left is absorbed by a decisive right.
fn logical<'a>(decisive: bool, left: &'a Node, right: &'a Node, facts: &'a Facts) -> R<'a> {
    let left = bool_of(left.eval(facts));
    if left == Ok(decisive) {
        return Ok(V::Bool(decisive));
    }
    match (left, right.eval(facts)?) {
        (Ok(_), V::Bool(r)) => Ok(V::Bool(r)),
        (Err(_), V::Bool(r)) if r == decisive => Ok(V::Bool(r)),
        _ => Err(Failed),
    }
}

fn bool_of(value: R<'_>) -> Result<bool, Failed> {
    match value? {
        V::Bool(b) => Ok(b),
        _ => Err(Failed),
    }
}

/// CEL's `==`: numbers compare across int, uint and double; other types only with their own;
/// never an error.
fn equals(a: V<'_>, b: V<'_>) -> bool {
    match (a, b) {
        (V::Bool(a), V::Bool(b)) => a == b,
        (V::Str(a), V::Str(b)) => a == b,
        (V::List(a), V::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equals(x.val(), y.val()))
        }
        (V::Bool(_) | V::Str(_) | V::List(_), _) => false,
        _ => compare(a, b) == Ok(Ordering::Equal),
    }
}

/// CEL's ordering: numbers across types (NaN is incomparable), strings, bools.
fn compare(a: V<'_>, b: V<'_>) -> Result<Ordering, Failed> {
    let float = |x: f64, y: f64| x.partial_cmp(&y).ok_or(Failed);
    match (a, b) {
        (V::Int(a), V::Int(b)) => Ok(a.cmp(&b)),
        (V::UInt(a), V::UInt(b)) => Ok(a.cmp(&b)),
        (V::Int(a), V::UInt(b)) => Ok(u64::try_from(a).map_or(Ordering::Less, |a| a.cmp(&b))),
        (V::UInt(a), V::Int(b)) => Ok(i64::try_from(a).map_or(Ordering::Greater, |a| a.cmp(&b))),
        (V::Double(a), V::Double(b)) => float(a, b),
        (V::Int(a), V::Double(b)) => float(a as f64, b),
        (V::Double(a), V::Int(b)) => float(a, b as f64),
        (V::UInt(a), V::Double(b)) => float(a as f64, b),
        (V::Double(a), V::UInt(b)) => float(a, b as f64),
        (V::Str(a), V::Str(b)) => Ok(a.cmp(b)),
        (V::Bool(a), V::Bool(b)) => Ok(a.cmp(&b)),
        _ => Err(Failed),
    }
}
