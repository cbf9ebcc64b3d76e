//! The person page: find a person by email, phone or id and see the `explain` view: the golden
//! record with where each value came from, each CRM record (linked when the connector has a
//! record link), tier history with its evidence, the rules evaluated now, follow-up clocks,
//! pushes and conflicts.

use super::layout::{count, when};
use crate::explain::ExplainView;
use leadsync_connector_core::Locator;
use maud::{Markup, html};
use std::collections::BTreeMap;

pub(super) fn search(q: Option<&str>, missing: bool) -> Markup {
    html! {
        h1 { "Person" }
        form.card.filters method="get" action="/person" {
            label style="flex:1" { "Email, phone or person id"
                input #q type="search" name="q" value=[q] required autofocus placeholder="ada@example.com";
            }
            button type="submit" { "Find" }
        }
        @if missing {
            div.error #not-found { "No person matches “" (q.unwrap_or("")) "”." }
        }
    }
}

pub(super) fn body(v: &ExplainView, links: &BTreeMap<String, String>) -> Markup {
    html! {
        (search(None, false))
        div.card #person data-id=(v.id) {
            h2 { (v.name) " " span.muted { "#" (v.id) } }
            div.kpis {
                div.kpi { b #tier { (v.tier.map_or("unqualified", |t| t.as_str())) } span { "tier" } }
                @if let Some(side) = v.side { div.kpi { b { (side) } span { "side tier" } } }
                div.kpi { b { (v.qualification.score) } span { "score (" (v.qualification.temperature) ")" } }
                @if let Some(d) = &v.decided_by {
                    div.kpi { b { (d.rule.as_deref().unwrap_or(d.by)) } span { "decided by" @if let Some(c) = &d.connector { " " (c) } } }
                }
            }
            @if let Some(d) = &v.would_demote {
                p.error { "The rules now would put this person at " (d.to.map_or("no tier", |t| t.as_str())) "; tiers are never lowered, so " (d.from) " stays." }
            }
        }
        div.grid {
            div.card.scroll {
                h2 { "Golden record" }
                table #fields {
                    thead { tr { th { "Field" } th { "Value" } th { "From" } th { "Seen" } } }
                    tbody {
                        @for (field, values) in &v.fields {
                            @for (i, value) in values.iter().enumerate() {
                                tr data-field=(field) {
                                    td { @if i == 0 { (field) } }
                                    td { (value.value) }
                                    td.muted { (value.connector) " " (value.locator) }
                                    td.muted { (when(&value.observed_at)) }
                                }
                            }
                        }
                    }
                }
            }
            div.card.scroll {
                h2 { "Records" }
                table #records {
                    thead { tr { th { "Connector" } th { "Record" } th { "Seen" } } }
                    tbody {
                        @for r in &v.records {
                            tr {
                                td { (r.connector) }
                                td {
                                    @match &r.locator {
                                        Locator::Crm { id } => {
                                            @match links.get(&r.connector) {
                                                Some(template) => a href=(template.replace("{id}", id)) rel="noreferrer" target="_blank" { (id) },
                                                None => (id),
                                            }
                                        }
                                        Locator::File { name, row, .. } => { (name) " row " (row) }
                                    }
                                    @if r.archived { span.muted { " (archived)" } }
                                }
                                td.muted { (when(&r.observed_at)) }
                            }
                        }
                    }
                }
            }
        }
        div.card.scroll {
            h2 { "Tier history" }
            table #history {
                thead { tr { th { "When" } th { "From" } th { "To" } th { "Rule" } th { "Evidence" } } }
                tbody {
                    @for h in &v.history {
                        tr {
                            td { (when(&h.at)) }
                            td { (h.from.map_or("–", |t| t.as_str())) }
                            td { b { (h.to) } }
                            td { (h.rule) }
                            td.muted style="white-space:normal" {
                                @for (k, val) in &h.evidence { (k) " = " (val) "; " }
                            }
                        }
                    }
                }
            }
        }
        div.card.scroll {
            h2 { "Rules now" }
            table #rules {
                thead { tr { th { "Rule" } th { "Tier" } th { "Holds" } } }
                tbody {
                    @for r in &v.qualification.rules {
                        tr {
                            td { (r.name) }
                            td { (r.tier) }
                            td {
                                @match &r.result {
                                    Ok(true) => span.ok { "yes" },
                                    Ok(false) => span.muted { "no" },
                                    Err(e) => span.bad { "error: " (e) },
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !v.follow_up.is_empty() {
            div.card.scroll {
                h2 { "Follow-up" }
                table #clocks {
                    thead { tr { th { "Commitment" } th { "Tier" } th { "Reached" } th { "Due" } th { "State" } } }
                    tbody {
                        @for c in &v.follow_up {
                            tr {
                                td { (c.sla) " (" (c.within) ")" }
                                td { (c.tier) }
                                td { (when(&c.reached_at)) }
                                td { (c.due_at.as_ref().map_or("–".into(), when)) }
                                td { (c.state.as_str()) }
                            }
                        }
                    }
                }
            }
        }
        div.grid {
            div.card.scroll {
                h2 { "Pushes" }
                @if v.pushes.is_empty() { p.muted { "None." } }
                @else {
                    table {
                        thead { tr { th { "Connector" } th { "Record" } th { "Tier" } th { "Status" } th.n { "Attempts" } } }
                        tbody {
                            @for p in &v.pushes {
                                tr { td { (p.connector) } td { (p.record_id) } td { (p.tier) } td { (p.status) } td.n { (count(u64::from(p.attempts))) } }
                            }
                        }
                    }
                }
            }
            div.card.scroll {
                h2 { "Conflicts" }
                @if v.conflicts.is_empty() { p.muted { "None." } }
                @else {
                    table {
                        tbody {
                            @for c in &v.conflicts {
                                tr { td { (c.key_kind) " " (c.key_value) } td style="white-space:normal" { (c.reason) } td { a href=(format!("/person/{}", if c.person == v.id { c.other_person } else { c.person })) { "the other person" } } }
                            }
                        }
                    }
                }
            }
        }
    }
}
