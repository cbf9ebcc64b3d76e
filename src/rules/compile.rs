//! Compiling one CEL condition, once, with every check that can be made before any person is
//! seen: syntax, unknown facts, and types (by evaluating against typed sample facts).

use super::facts::{FACTS, Facts, SCORE_FACTS};
use super::native::{self, Constants, Node};
use cel::common::ast::{EntryExpr, Expr, IdedEntryExpr, IdedExpr};
use cel::{Context, Program, Value};
use std::fmt;

/// A compiled condition.
#[derive(Debug)]
pub(super) struct Condition {
    source: String,
    program: Program,
    /// The native form, when the condition has one.
    native: Option<Node>,
    /// The facts it reads, for evidence.
    pub(super) facts: Vec<String>,
}

/// Why a condition cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub rule: String,
    /// 1-based line and column in the condition, or in the rules file once located there.
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The condition, or the rules file once located there (the line shown under the message).
    pub source: String,
}

impl CompileError {
    /// Moves the position from the condition to the rules file `text` that holds it, so the
    /// line is the one an editor shows. The condition is found after its rule's quoted name
    /// (or anywhere, when the name comes after it); one written with escapes cannot be found
    /// verbatim and keeps its position within the condition.
    pub(super) fn locate_in(&mut self, text: &str) {
        let after_name = text.find(&format!("\"{}\"", self.rule)).unwrap_or(0);
        let Some(start) = text[after_name..]
            .find(&self.source)
            .map(|at| after_name + at)
            .or_else(|| text.find(&self.source))
        else {
            return;
        };
        let offset_in_condition: usize = self
            .source
            .split_inclusive('\n')
            .take(self.line.saturating_sub(1))
            .map(|l| l.chars().count())
            .sum::<usize>()
            + self.column.saturating_sub(1);
        let offset = text[..start].chars().count() + offset_in_condition;
        (self.line, self.column) = line_col(text, offset);
        self.source = text.to_string();
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self
            .source
            .lines()
            .nth(self.line.saturating_sub(1))
            .unwrap_or_default();
        write!(
            f,
            "rule `{}`, line {} column {}: {}\n    {}\n    {}^",
            self.rule,
            self.line,
            self.column,
            self.message,
            line,
            " ".repeat(self.column.saturating_sub(1))
        )
    }
}

impl Condition {
    /// Compiles `source` for rule `name`. `scores_allowed` is false for scoring conditions (the
    /// scores are what they compute). `root` holds the functions conditions may call; the samples
    /// are facts of every type, filled and empty, to catch type errors now rather than per person;
    /// `constants` are the thresholds and lists, built into the native form.
    pub(super) fn compile(
        name: &str,
        source: &str,
        scores_allowed: bool,
        root: &Context<'_, '_>,
        samples: &[Facts],
        constants: &Constants,
    ) -> Result<Condition, CompileError> {
        let at = |offset: Option<usize>, message: String| {
            let (line, column) = line_col(source, offset.unwrap_or(0));
            CompileError {
                rule: name.to_string(),
                line,
                column,
                message,
                source: source.to_string(),
            }
        };
        let program = Program::compile(source).map_err(|errors| {
            let first = errors.errors.first();
            let (line, column) = first.map_or((1, 1), |e| {
                (e.pos.0.max(1) as usize, e.pos.1.max(0) as usize + 1)
            });
            let message = first.map_or_else(|| "syntax error".to_string(), |e| e.msg.clone());
            CompileError {
                rule: name.to_string(),
                line,
                column,
                message: format!("syntax error: {message}"),
                source: source.to_string(),
            }
        })?;
        let references = program.references();
        // Names a macro binds (`lists.x.exists(w, title.contains(w))`) are not facts.
        let mut bound = std::collections::HashSet::new();
        bound_names(program.expression(), &mut bound);
        let mut facts = Vec::new();
        for var in references.variables() {
            if bound.contains(var) {
                continue;
            }
            let known = FACTS.iter().any(|(n, _, _)| *n == var);
            if !known || (!scores_allowed && SCORE_FACTS.contains(&var)) {
                let why = if known {
                    format!(
                        "`{var}` cannot be used in a scoring condition (scores are computed from these conditions)"
                    )
                } else {
                    format!(
                        "unknown field `{var}`; known: {}",
                        FACTS
                            .iter()
                            .map(|(n, _, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                return Err(at(
                    offset_of_ident(&program, program.expression(), var),
                    why,
                ));
            }
            facts.push(var.to_string());
        }
        facts.sort();
        for sample in samples {
            let mut ctx = root.new_inner_scope();
            ctx.set_variable_resolver(sample);
            match program.execute(&ctx) {
                Ok(Value::Bool(_)) => {}
                Ok(other) => {
                    return Err(at(
                        Some(0),
                        format!(
                            "the condition must be true or false, not {:?}",
                            other.type_of()
                        ),
                    ));
                }
                Err(e) => {
                    let (offset, message) = deepest_error(&program, program.expression(), &ctx)
                        .unwrap_or((Some(0), e.to_string()));
                    return Err(at(offset, format!("wrong type or value: {message}")));
                }
            }
        }
        let native = native::compile(program.expression(), constants);
        Ok(Condition {
            source: source.to_string(),
            program,
            native,
            facts,
        })
    }

    /// Evaluates the condition for `facts`: natively when it has a native form, else (and for
    /// the message of an error) by CEL in a scope of `root`. The same as [`Condition::eval`].
    pub(super) fn holds(
        &self,
        facts: &Facts,
        root: &Context<'static, 'static>,
    ) -> Result<bool, String> {
        if let Some(Ok(b)) = self.native.as_ref().map(|n| n.holds(facts)) {
            return Ok(b);
        }
        let mut ctx = root.new_inner_scope();
        ctx.set_variable_resolver(facts);
        self.eval(&ctx)
    }

    /// The native form, if any.
    #[cfg(test)]
    pub(super) fn native(&self) -> Option<&Node> {
        self.native.as_ref()
    }

    /// Evaluates the condition; an error (a value of an unexpected shape at run time) is false,
    /// and reported.
    pub(super) fn eval(&self, ctx: &Context<'_, '_>) -> Result<bool, String> {
        match self.program.execute(ctx) {
            Ok(Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("not true or false: {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The parts of the condition joined by `&&`, `||` and `!`, each with its source text and
    /// value: what `explain` shows.
    pub(super) fn parts(&self, ctx: &Context<'_, '_>) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.collect_parts(self.program.expression(), ctx, &mut out);
        out
    }

    fn collect_parts(
        &self,
        node: &IdedExpr,
        ctx: &Context<'_, '_>,
        out: &mut Vec<(String, String)>,
    ) {
        if let Expr::Call(call) = &node.expr
            && matches!(call.func_name.as_str(), "_&&_" | "_||_" | "!_")
        {
            for arg in &call.args {
                self.collect_parts(arg, ctx, out);
            }
            return;
        }
        let text = self.text_of(node).unwrap_or_default();
        let value = match Value::resolve(node, ctx) {
            Ok(v) => render(&v),
            Err(e) => format!("error: {e}"),
        };
        out.push((text, value));
    }

    fn text_of(&self, node: &IdedExpr) -> Option<String> {
        let (start, stop) = span(&self.program, node)?;
        Some(
            self.source
                .chars()
                .skip(start)
                .take(stop.saturating_sub(start))
                .collect::<String>()
                .trim()
                .to_string(),
        )
    }
}

/// A value as an admin would write it.
pub(super) fn render(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::List(l) => format!("[{}]", l.iter().map(render).collect::<Vec<_>>().join(", ")),
        other => format!("{other:?}"),
    }
}

/// The start and end (char offsets, end exclusive) of a node and everything under it. CEL
/// records one position per node (a field selection at its dot, a call at its parenthesis), so
/// selections are widened by their field name and calls to their closing parenthesis.
fn span(program: &Program, node: &IdedExpr) -> Option<(usize, usize)> {
    let info = program.source_info();
    let mut lo = usize::MAX;
    let mut hi = 0usize;
    let mut visit = |n: &IdedExpr| {
        if let Some((s, e)) = info.offset_for(n.id) {
            let (s, e) = match &n.expr {
                Expr::Select(select) => (s as usize, e as usize + select.field.chars().count()),
                // A global call (`flag('x')`) is recorded at its parenthesis: include the name.
                Expr::Call(call)
                    if call.target.is_none()
                        && call
                            .func_name
                            .chars()
                            .all(|c| c.is_alphanumeric() || c == '_') =>
                {
                    (
                        (s as usize).saturating_sub(call.func_name.chars().count()),
                        e as usize,
                    )
                }
                _ => (s as usize, e as usize),
            };
            lo = lo.min(s);
            hi = hi.max(e + 1);
        }
    };
    walk(node, &mut visit);
    if lo == usize::MAX {
        return None;
    }
    let chars: Vec<char> = info.source.chars().collect();
    let depth = |text: &[char]| {
        text.iter().fold(0i32, |d, c| match c {
            '(' | '[' => d + 1,
            ')' | ']' => d - 1,
            _ => d,
        })
    };
    let mut open = depth(chars.get(lo..hi.min(chars.len())).unwrap_or_default());
    while open > 0 && hi < chars.len() {
        match chars[hi] {
            ')' | ']' => open -= 1,
            '(' | '[' => open += 1,
            _ => {}
        }
        hi += 1;
    }
    Some((lo, hi.max(lo)))
}

fn walk(node: &IdedExpr, visit: &mut dyn FnMut(&IdedExpr)) {
    visit(node);
    for child in children(node) {
        walk(child, visit);
    }
}

/// Direct sub-expressions worth evaluating on their own. Comprehensions (`exists`, `all` …)
/// are leaves: their bodies use loop variables that mean nothing outside them.
fn children(node: &IdedExpr) -> Vec<&IdedExpr> {
    match &node.expr {
        Expr::Call(call) => call
            .target
            .iter()
            .map(|t| t.as_ref())
            .chain(call.args.iter())
            .collect(),
        Expr::Select(select) => vec![select.operand.as_ref()],
        Expr::List(list) => list.elements.iter().collect(),
        _ => Vec::new(),
    }
}

/// The variables the comprehensions (macros: `exists`, `all`, `map`, `filter` …) of `node` bind.
fn bound_names<'a>(node: &'a IdedExpr, out: &mut std::collections::HashSet<&'a str>) {
    let entries = |entries: &'a [IdedEntryExpr]| {
        entries.iter().flat_map(|e| match &e.expr {
            EntryExpr::MapEntry(m) => vec![&m.key, &m.value],
            EntryExpr::StructField(f) => vec![&f.value],
        })
    };
    let inner: Vec<&IdedExpr> = match &node.expr {
        Expr::Comprehension(c) => {
            out.insert(&c.iter_var);
            out.extend(c.iter_var2.as_deref());
            out.insert(&c.accu_var);
            vec![
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ]
        }
        Expr::Map(m) => entries(&m.entries).collect(),
        Expr::Struct(st) => entries(&st.entries).collect(),
        _ => children(node),
    };
    for child in inner {
        bound_names(child, out);
    }
}

fn offset_of_ident(program: &Program, node: &IdedExpr, name: &str) -> Option<usize> {
    if let Expr::Ident(n) = &node.expr
        && n == name
    {
        return program
            .source_info()
            .offset_for(node.id)
            .map(|(s, _)| s as usize);
    }
    children(node)
        .into_iter()
        .find_map(|c| offset_of_ident(program, c, name))
}

/// The innermost sub-expression that fails on its own, with its start offset and the error.
fn deepest_error(
    program: &Program,
    node: &IdedExpr,
    ctx: &Context<'_, '_>,
) -> Option<(Option<usize>, String)> {
    for child in children(node) {
        if let Some(found) = deepest_error(program, child, ctx) {
            return Some(found);
        }
    }
    Value::resolve(node, ctx)
        .err()
        .map(|e| (span(program, node).map(|(s, _)| s), e.to_string()))
}

/// 1-based line and column of a char offset.
fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for c in source.chars().take(offset) {
        if c == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}
