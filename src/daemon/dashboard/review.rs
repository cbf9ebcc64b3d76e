//! The review and follow-up page: the identity review queue (pairs that scored between
//! `review_at` and `link_at`) with accept and reject, and the qualified persons overdue on a
//! follow-up commitment.

use super::facts::Overdue;
use super::layout::when;
use crate::store::ReviewItem;
use maud::{Markup, html};

/// Pairs shown at once.
pub(super) const SHOWN: usize = 100;

pub(super) fn body(
    queue: &[ReviewItem],
    pending: usize,
    overdue: Option<&[Overdue]>,
    names: &dyn Fn(i64) -> String,
    csrf: &str,
    flash: Option<&str>,
) -> Markup {
    html! {
        h1 { "Review & follow-up" }
        @if let Some(flash) = flash { div.flash #flash { (flash) } }
        div.card.scroll #review-queue {
            h2 { "Identity review (" (pending) " pending)" }
            @if queue.is_empty() {
                p.muted { "Nothing to review." }
            } @else {
                p.note { "Pairs that may be one person. Accept merges them (the person pushed to a CRM first keeps its id); reject keeps them apart for good." }
                table {
                    thead { tr { th { "Pair" } th.n { "Score" } th { "Fields" } th {} } }
                    tbody {
                        @for item in queue.iter().take(SHOWN) {
                            tr data-review=(item.id) {
                                td {
                                    a href=(format!("/person/{}", item.a)) { (names(item.a)) } " · "
                                    a href=(format!("/person/{}", item.b)) { (names(item.b)) }
                                }
                                td.n { (format!("{:.1}", item.score)) }
                                td.muted style="white-space:normal" {
                                    @for f in item.detail["fields"].as_array().into_iter().flatten() {
                                        (f["field"].as_str().unwrap_or("?")) " "
                                        (f["weight"].as_f64().map_or("–".into(), |w| format!("{w:+.1}"))) "; "
                                    }
                                }
                                td {
                                    @for (decision, class) in [("accept", ""), ("reject", "quiet")] {
                                        form.inline method="post" action=(format!("/review/{}/{decision}", item.id)) {
                                            input type="hidden" name="csrf" value=(csrf);
                                            button type="submit" class=(class) { (decision) }
                                        }
                                        " "
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.card.scroll #overdue {
            @match overdue {
                None => {
                    h2 { "Overdue follow-ups" }
                    p.muted { "No follow-up commitments are set ([[follow_up.sla]] in the rules file)." }
                }
                Some(list) => {
                    h2 { "Overdue follow-ups (" (list.len()) ")" }
                    @if list.is_empty() { p.muted { "Nobody is overdue." } }
                    @else {
                        table {
                            thead { tr { th { "Person" } th { "Owner" } th { "Commitment" } th { "Tier" } th { "Was due" } } }
                            tbody {
                                @for o in list.iter().take(SHOWN) {
                                    tr data-person=(o.person) {
                                        td { a href=(format!("/person/{}", o.person)) { (o.name) } }
                                        td { (o.owner.as_deref().unwrap_or("–")) }
                                        td { (o.sla) }
                                        td { (o.tier) }
                                        td { (o.due_at.as_ref().map_or("–".into(), when)) }
                                    }
                                }
                            }
                        }
                        @if list.len() > SHOWN { p.note { "The " (SHOWN) " longest overdue; `leadsync report sla` has all." } }
                    }
                }
            }
        }
    }
}
