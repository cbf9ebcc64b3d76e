//! The pages' shell (head, navigation, styles) and the small formatting helpers they share.

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// Which page the navigation marks as open.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Tab {
    Funnel,
    Sync,
    Person,
    Review,
}

const STYLE: &str = r#"
:root { --ink:#1d2433; --muted:#5b6578; --line:#dde2ea; --bg:#f6f7f9; --card:#fff;
  --accent:#2f6fde; --good:#1b8a5a; --warn:#b7791f; --bad:#c53030; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--ink); background:var(--bg); }
header { background:#1d2433; color:#fff; padding:.6rem 1rem; display:flex; flex-wrap:wrap;
  align-items:center; gap:.4rem 1.2rem; }
header .brand { font-weight:700; letter-spacing:.02em; }
header nav { display:flex; flex-wrap:wrap; gap:.2rem; }
header nav a { color:#cfd6e4; text-decoration:none; padding:.3rem .6rem; border-radius:4px; }
header nav a.open, header nav a:hover { background:#33405a; color:#fff; }
header form { margin-left:auto; }
main { max-width:1200px; margin:0 auto; padding:1rem; }
h1 { font-size:1.35rem; margin:.2rem 0 .8rem; }
h2 { font-size:1.05rem; margin:0 0 .6rem; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px;
  padding:1rem; margin-bottom:1rem; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(300px,1fr)); gap:1rem;
  margin-bottom:1rem; }
.grid .card { margin-bottom:0; }
.kpis { display:flex; flex-wrap:wrap; gap:1.5rem; }
.kpi b { display:block; font-size:1.5rem; }
.kpi span, .muted, .note { color:var(--muted); font-size:.85rem; }
.scroll { overflow-x:auto; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:.35rem .5rem; border-bottom:1px solid var(--line);
  white-space:nowrap; }
td.n, th.n { text-align:right; }
th { font-size:.8rem; color:var(--muted); font-weight:600; }
form.inline { display:inline; margin:0; }
.filters { display:flex; flex-wrap:wrap; gap:.6rem; align-items:end; }
label { display:flex; flex-direction:column; font-size:.8rem; color:var(--muted); gap:.2rem; }
input, select, button { font:inherit; padding:.35rem .5rem; border:1px solid #b9c1cf;
  border-radius:4px; background:#fff; color:var(--ink); }
button { background:var(--accent); border-color:var(--accent); color:#fff; cursor:pointer; }
button.quiet { background:#fff; color:var(--ink); border-color:#b9c1cf; }
header button { background:transparent; border-color:#56627c; color:#cfd6e4; }
.flash { padding:.6rem .8rem; border-radius:6px; margin-bottom:1rem; background:#e6f4ec;
  border:1px solid #b5dcc5; }
.flash.bad, .error { background:#fdecec; border:1px solid #f2b8b8; }
.error { padding:.6rem .8rem; border-radius:6px; margin-bottom:1rem; }
.ok { color:var(--good); } .warn { color:var(--warn); } .bad { color:var(--bad); }
svg text { font:12px system-ui,sans-serif; fill:var(--ink); }
svg { max-width:100%; height:auto; }
.legend { display:flex; flex-wrap:wrap; gap:.3rem .9rem; font-size:.8rem; color:var(--muted); }
.legend i { display:inline-block; width:.8rem; height:.8rem; border-radius:2px;
  vertical-align:-1px; margin-right:.3rem; }
.login { max-width:380px; margin:4rem auto; }
.login form { display:flex; flex-direction:column; gap:.8rem; }
@media (max-width:600px) { main { padding:.5rem; } .card { padding:.7rem; }
  th, td { padding:.3rem .35rem; } header form { margin-left:0; } }
"#;

/// Colours of the ladder's tiers in charts, in ladder order (repeating past the last).
pub(super) const PALETTE: [&str; 8] = [
    "#9fb3d9", "#6f93d6", "#2f6fde", "#1f4fa8", "#7b4fd0", "#1b8a5a", "#b7791f", "#8a94a6",
];

/// A whole page: the navigation (with a logout button when a session is open) and `body`.
pub(super) fn page(title: &str, tab: Option<Tab>, csrf: Option<&str>, body: Markup) -> Markup {
    let link = |href: &str, name: &str, t: Tab| {
        html! { a href=(href) class=[(tab == Some(t)).then_some("open")] { (name) } }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · leadsync" }
                link rel="icon" href="data:,";
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    span.brand { "leadsync" }
                    @if tab.is_some() {
                        nav {
                            (link("/", "Funnel", Tab::Funnel))
                            (link("/sync", "Sync", Tab::Sync))
                            (link("/person", "Person", Tab::Person))
                            (link("/review", "Review & follow-up", Tab::Review))
                        }
                    }
                    @if let Some(csrf) = csrf {
                        form.inline method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// 1234567 → "1,234,567".
pub(super) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A share (0.6667) as a percentage ("66.67%"); "–" for none.
pub(super) fn percent(share: Option<f64>) -> String {
    share.map_or_else(|| "–".into(), |s| format!("{:.2}%", s * 100.0))
}

/// A time as the pages show it: UTC to the second.
pub(super) fn when(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_and_shares_are_percentages() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(percent(Some(0.6667)), "66.67%");
        assert_eq!(percent(None), "–");
    }
}
