//! The funnel page: persons per tier and reached per tier as a funnel chart, the conversion
//! between adjacent tiers, cohorts since a date, every source side by side, and the weekly
//! trend of new persons and of how many of each week's leads went on to mql and sql.

use super::facts::{Filter, FunnelView, Week};
use super::layout::{PALETTE, count, percent};
use crate::report::Funnel;
use leadsync_connector_core::{Ladder, Tier};
use maud::{Markup, html};

/// The page's body.
pub(super) fn body(view: &FunnelView, filter: &Filter, sources: &[String]) -> Markup {
    let f = &view.funnel;
    let ladder = Ladder::current();
    let tiers: Vec<Tier> = ladder.tiers().collect();
    html! {
        h1 {
            "Funnel"
            @if let Some(s) = &filter.source { " · source " span #filtered-source { (s) } }
        }
        form.card.filters method="get" action="/" {
            label { "Source"
                select name="source" {
                    option value="" selected[filter.source.is_none()] { "All sources" }
                    @for s in sources {
                        option value=(s) selected[filter.source.as_deref() == Some(s.as_str())] { (s) }
                    }
                }
            }
            label { "Cohort: reached a tier on or after"
                input type="date" name="since" value=[filter.since.map(|d| d.to_string())];
            }
            button type="submit" { "Apply" }
            @if filter != &Filter::default() { a href="/" { "Clear" } }
        }
        div.card.kpis {
            div.kpi { b #total { (count(f.total)) } span { "persons" } }
            div.kpi { b #unqualified { (count(f.unqualified)) } span { "unqualified" } }
            @for pair in tiers.windows(2).rev().take(1) {
                div.kpi {
                    b { (percent(conversion(f, pair[0], pair[1]))) }
                    span { (label(pair[0])) " → " (label(pair[1])) }
                }
            }
            @if let (Some(first), Some(last)) = (tiers.first(), tiers.last()) {
                div.kpi {
                    b #overall-conversion { (percent(share(f.reached[last.as_str()], f.reached[first.as_str()]))) }
                    span { (label(*first)) " → " (label(*last)) ", overall" }
                }
            }
        }
        div.grid {
            div.card {
                h2 { "Reached per tier" }
                (funnel_chart(f, &tiers))
            }
            div.card.scroll {
                h2 { "Tiers and conversion" }
                table #funnel-table {
                    thead { tr { th { "Tier" } th.n { "Now" } th.n { "Reached" } th.n { "On to the next" } } }
                    tbody {
                        @for t in &tiers {
                            tr data-tier=(t.as_str()) {
                                td { (label(*t)) }
                                td.n.count { (count(f.tiers[t.as_str()])) }
                                td.n.reached { (count(f.reached[t.as_str()])) }
                                @let next = t.next().filter(|n| tiers.contains(n));
                                @let share = next.and_then(|n| conversion(f, *t, n));
                                td.n.conversion data-key=[next.map(|n| format!("{t}_to_{n}"))]
                                    data-value=(share.map(|s| serde_json::to_string(&s).expect("a share serialises")).unwrap_or_default()) {
                                    @if next.is_some() { (percent(share)) }
                                }
                            }
                        }
                    }
                }
                @if let Some(side) = &f.side {
                    h2 style="margin-top:1rem" { "Side tiers" }
                    table #side-table {
                        tbody {
                            @for (name, n) in side {
                                tr data-tier=(name) { td { (side_label(name)) } td.n.count { (count(*n)) } }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(c) = &f.cohorts {
            div.card.scroll {
                h2 { "Cohorts since " (c.since) }
                table #cohort-table {
                    thead { tr { th { "Step" } th.n { "Entered" } th.n { "Advanced" } th.n { "Share" } th.n { "Median days" } } }
                    tbody {
                        @for s in &c.steps {
                            tr data-step=(format!("{}_to_{}", s.from, s.to)) {
                                td { (label(s.from)) " → " (label(s.to)) }
                                td.n.entered { (count(s.entered)) }
                                td.n.advanced { (count(s.advanced)) }
                                td.n { (percent(s.share)) }
                                td.n { (s.median_days.map_or("–".into(), |d| format!("{d:.1}"))) }
                            }
                        }
                    }
                }
            }
        }
        div.card.scroll {
            h2 { "By source" }
            p.note { "Conversion between adjacent tiers per source: which channels bring persons who go on." }
            table #source-table {
                thead {
                    tr {
                        th { "Source" } th.n { "Persons" }
                        @for pair in tiers.windows(2) { th.n title=(format!("{} → {}", label(pair[0]), label(pair[1]))) { (pair[0]) " → " (pair[1]) } }
                    }
                }
                tbody {
                    @for name in sources {
                        @if let Some(s) = view.by_source.get(name) {
                            tr data-source=(name) {
                                td { a href=(format!("/?source={}", urlencode(name))) { (name) } }
                                td.n.total { (count(s.total)) }
                                @for pair in tiers.windows(2) {
                                    td.n data-key=(format!("{}_to_{}", pair[0], pair[1])) { (percent(conversion(s, pair[0], pair[1]))) }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.card.scroll {
            h2 { "Weekly trend" }
            p.note { "New persons per week by the tier they hold now, and of the persons who became leads each week, the share that has reached mql and sql: quality beside quantity." }
            (trend_chart(&view.weeks, &tiers))
            table #trend-table {
                thead { tr { th { "Week of" } th.n { "New" } th.n { "New leads" } th.n { "Reached mql" } th.n { "Reached sql" } } }
                tbody {
                    @for w in &view.weeks {
                        tr data-week=(w.monday.to_string()) {
                            td { (w.monday.format("%Y-%m-%d")) }
                            td.n.new { (count(w.new_by_tier.iter().map(|(_, n)| n).sum())) }
                            td.n.leads { (count(w.leads)) }
                            td.n { (percent(share(w.to_mql, w.leads))) }
                            td.n { (percent(share(w.to_sql, w.leads))) }
                        }
                    }
                }
            }
        }
    }
}

fn label(t: Tier) -> String {
    Ladder::current()
        .rung(t)
        .map_or_else(|| t.as_str().to_string(), |r| r.label.clone())
}

fn side_label(name: &str) -> String {
    Ladder::current()
        .get(name)
        .map_or_else(|| name.to_string(), label)
}

fn conversion(f: &Funnel, from: Tier, to: Tier) -> Option<f64> {
    f.conversions
        .get(&format!("{from}_to_{to}"))
        .copied()
        .flatten()
}

fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// A query value, percent-encoded.
pub(super) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Centred bars, one per tier, as wide as the persons who reached it; beside each, how many
/// hold it now and the share that went on to the next.
fn funnel_chart(f: &Funnel, tiers: &[Tier]) -> Markup {
    let (width, row) = (640.0_f64, 46.0_f64);
    let height = row * tiers.len() as f64 + 8.0;
    let most = tiers.first().map_or(0, |t| f.reached[t.as_str()]).max(1) as f64;
    let bar_space = 340.0;
    html! {
        svg #funnel-chart viewBox=(format!("0 0 {width} {height}")) role="img"
            aria-label="Persons who reached each tier" {
            @for (i, t) in tiers.iter().enumerate() {
                @let reached = f.reached[t.as_str()];
                @let w = (reached as f64 / most * bar_space).max(2.0);
                @let y = i as f64 * row + 4.0;
                @let x = 100.0 + (bar_space - w) / 2.0;
                text x="0" y=(y + 22.0) { (label(*t)) }
                rect x=(format!("{x:.1}")) y=(y) width=(format!("{w:.1}")) height="30" rx="3"
                    fill=(PALETTE[i % PALETTE.len()]) { title { (label(*t)) ": " (count(reached)) " reached" } }
                text x=(100.0 + bar_space + 10.0) y=(y + 14.0) { (count(reached)) " reached" }
                text x=(100.0 + bar_space + 10.0) y=(y + 29.0) fill="#5b6578" {
                    (count(f.tiers[t.as_str()])) " now"
                    @if let Some(n) = t.next().filter(|n| tiers.contains(n)) {
                        " · " (percent(conversion(f, *t, n))) " on"
                    }
                }
            }
        }
    }
}

/// New persons per week, stacked by the tier they hold now.
fn trend_chart(weeks: &[Week], tiers: &[Tier]) -> Markup {
    let (width, height, left, bottom) = (1000.0_f64, 240.0_f64, 48.0_f64, 24.0_f64);
    let most = weeks
        .iter()
        .map(|w| w.new_by_tier.iter().map(|(_, n)| n).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let plot = height - bottom - 8.0;
    let step = (width - left) / weeks.len().max(1) as f64;
    html! {
        svg #trend-chart viewBox=(format!("0 0 {width} {height}")) role="img"
            aria-label="New persons per week by tier" {
            line x1=(left) y1=(plot + 8.0) x2=(width) y2=(plot + 8.0) stroke="#dde2ea" {}
            text x="0" y="14" { (count(most as u64)) }
            text x="0" y=(plot + 8.0) { "0" }
            @for (i, w) in weeks.iter().enumerate() {
                @let x = left + i as f64 * step + step * 0.15;
                @for (j, tier, n, top, h) in stack(w, most, plot) {
                    rect x=(format!("{x:.1}")) y=(format!("{top:.1}")) width=(format!("{:.1}", step * 0.7))
                        height=(format!("{h:.1}"))
                        fill=(tier.map_or("#c9ced8", |_| PALETTE[j % PALETTE.len()])) {
                        title { (w.monday) ": " (count(n)) " " (tier.map_or("unqualified".to_string(), label)) }
                    }
                }
                @if i % 2 == 0 {
                    text x=(format!("{x:.1}")) y=(height - 6.0) { (w.monday.format("%m-%d")) }
                }
            }
        }
        div.legend {
            @for (j, t) in tiers.iter().enumerate() {
                span { i style=(format!("background:{}", PALETTE[j % PALETTE.len()])) {} (label(*t)) }
            }
            span { i style="background:#c9ced8" {} "unqualified" }
        }
    }
}

/// A week's bar segments, bottom up: (tier's place, tier, persons, top, height).
fn stack(w: &Week, most: f64, plot: f64) -> Vec<(usize, Option<Tier>, u64, f64, f64)> {
    let mut top = plot + 8.0;
    w.new_by_tier
        .iter()
        .enumerate()
        .filter(|(_, (_, n))| *n > 0)
        .map(|(j, (tier, n))| {
            let h = *n as f64 / most * plot;
            top -= h;
            (j, *tier, *n, top, h)
        })
        .collect()
}
