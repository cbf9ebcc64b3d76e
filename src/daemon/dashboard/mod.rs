//! The dashboard: HTML pages served by the admin HTTP at `/`, drawn on the server (charts are
//! inline SVG; no script, nothing fetched from elsewhere). Pages: the funnel, sync health,
//! a person's explain view, and the review queue with overdue follow-ups.
//!
//! Every page sits behind the admin token: a login form opens a session cookie (see [`auth`]);
//! actions are POSTs carrying the session's CSRF token. The funnel page answers from the facts
//! kept in memory ([`cache`]); the other pages read a bounded slice of the store.

mod auth;
pub(super) mod cache;
mod facts;
mod funnel;
mod layout;
mod person;
mod review;
mod sync;

pub(super) use auth::Sessions;

use super::admin::{AdminState, Handle, carries_token, same};
use axum::extract::{Form, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use layout::Tab;
use maud::{Markup, html};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

/// How long a funnel page waits for fresher figures before it shows the ones it has.
const FRESH_WAIT: Duration = Duration::from_millis(250);

/// How a request reached a page: through a session (whose CSRF token its forms carry), or with
/// the bearer token (a script: no CSRF token needed, no browser sends it on its own).
#[derive(Clone)]
enum Access {
    Session(auth::Session),
    Bearer,
}

impl Access {
    fn csrf(&self) -> &str {
        match self {
            Access::Session(s) => &s.csrf,
            Access::Bearer => "",
        }
    }

    fn allows(&self, csrf: &str) -> bool {
        match self {
            Access::Session(s) => s.allows(csrf),
            Access::Bearer => true,
        }
    }
}

/// The pages and their actions, behind the session guard; the login form outside it.
pub(super) fn routes(state: &Handle) -> Router<Handle> {
    let guarded = Router::new()
        .route("/", get(funnel_page))
        .route("/sync", get(sync_page))
        .route(
            "/drops/{connector}/{stream}/rejects.csv",
            get(rejects_download),
        )
        .route("/dead-letters/{id}/retry", post(retry_dead))
        .route("/person", get(person_search))
        .route("/person/{id}", get(person_page))
        .route("/review", get(review_page))
        .route("/review/{id}/{decision}", post(review_action))
        .route("/logout", post(logout))
        .route_layer(middleware::from_fn_with_state(Arc::clone(state), guard));
    Router::new()
        .route("/login", get(login_form).post(login))
        .merge(guarded)
}

/// Lets a page through with a live session or the bearer token. Without an admin token,
/// everyone gets a session at the first visit. Otherwise a page asks for the login form and an
/// action is refused.
async fn guard(State(state): State<Handle>, mut request: Request, next: Next) -> Response {
    if let Some(session) = state.sessions.of(request.headers()) {
        request.extensions_mut().insert(Access::Session(session));
        return secured(next.run(request).await);
    }
    let Some(token) = &state.token else {
        let session = state.sessions.open();
        let cookie = session.set_cookie();
        request.extensions_mut().insert(Access::Session(session));
        let mut response = next.run(request).await;
        response.headers_mut().append(header::SET_COOKIE, cookie);
        return secured(response);
    };
    if carries_token(request.headers(), token) {
        request.extensions_mut().insert(Access::Bearer);
        return secured(next.run(request).await);
    }
    if request.method() == axum::http::Method::GET {
        let here = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        return secured(
            Redirect::to(&format!("/login?next={}", funnel::urlencode(&here))).into_response(),
        );
    }
    secured(
        (
            StatusCode::UNAUTHORIZED,
            "log in first: the admin token is required\n",
        )
            .into_response(),
    )
}

/// The headers every page carries: no caching, no framing, and a policy that allows nothing
/// but the page's own inline styles and forms.
fn secured(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn html_page(title: &str, tab: Tab, access: &Access, body: Markup) -> Response {
    let csrf = match access {
        Access::Session(s) => Some(s.csrf.as_str()),
        Access::Bearer => None,
    };
    Html(layout::page(title, Some(tab), csrf, body).into_string()).into_response()
}

fn error_page(status: StatusCode, access: &Access, message: &str) -> Response {
    let mut r = html_page(
        "Error",
        Tab::Funnel,
        access,
        html! { div.error { (message) } },
    );
    *r.status_mut() = status;
    r
}

/// Runs a blocking store read on the admin connection (see `admin::off_runtime`).
async fn read<T: Send + 'static>(
    state: &Handle,
    query: impl FnOnce(&AdminState, &mut dyn crate::store::Store) -> T + Send + 'static,
) -> Result<T, String> {
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || {
        let mut store = state
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        query(&state, store.as_mut())
    })
    .await
    .map_err(|e| format!("the query stopped: {e}"))
}

/// [`read`] for a query that can fail: either failure becomes the 500 error page.
async fn query<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    state: &Handle,
    access: &Access,
    f: impl FnOnce(&AdminState, &mut dyn crate::store::Store) -> Result<T, E> + Send + 'static,
) -> Result<T, Response> {
    match read(state, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            access,
            &e.to_string(),
        )),
        Err(e) => Err(error_page(StatusCode::INTERNAL_SERVER_ERROR, access, &e)),
    }
}

#[derive(serde::Deserialize, Default)]
struct FunnelQuery {
    source: Option<String>,
    since: Option<String>,
}

async fn funnel_page(
    State(state): State<Handle>,
    Extension(access): Extension<Access>,
    Query(q): Query<FunnelQuery>,
) -> Response {
    let since = match q.since.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    &access,
                    &format!("since `{s}`: a date is YYYY-MM-DD"),
                );
            }
        },
    };
    let filter = facts::Filter {
        source: q.source.filter(|s| !s.is_empty()),
        since,
    };
    let mark = match query(&state, &access, |_, store| store.change_mark()).await {
        Ok(mark) => mark,
        Err(page) => return page,
    };
    let current = state.facts.current(&mark, FRESH_WAIT).await;
    let Some(facts) = current.facts else {
        let body = html! {
            h1 { "Funnel" }
            @if let Some(e) = &current.error { div.error { "The figures could not be read: " (e) } }
            @else { div.card #computing { "The figures are being read from the store; this page shows them once they are ready. Reload in a moment." } }
        };
        return html_page("Funnel", Tab::Funnel, &access, body);
    };
    let now = crate::clock::now();
    let view = tokio::task::spawn_blocking({
        let facts = Arc::clone(&facts);
        let filter = filter.clone();
        move || (facts.view(&filter, now), facts.source_names())
    })
    .await;
    let Ok((view, sources)) = view else {
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &access,
            "the funnel could not be drawn",
        );
    };
    let body = html! {
        (funnel::body(&view, &filter, &sources))
        p.note #as-of {
            "Figures as of " (layout::when(&facts.built_at)) " (" (layout::count(facts.persons() as u64)) " persons read in "
            (format!("{:.1}", facts.took.as_secs_f64())) " s)"
            @if current.refreshing { span #refreshing { "; newer figures are being read" } }
        }
        @if let Some(e) = &current.error { div.error { "The last refresh failed: " (e) } }
    };
    html_page("Funnel", Tab::Funnel, &access, body)
}

#[derive(serde::Deserialize, Default)]
struct FlashQuery {
    done: Option<String>,
}

async fn sync_page(
    State(state): State<Handle>,
    Extension(access): Extension<Access>,
    Query(q): Query<FlashQuery>,
) -> Response {
    let data = query(&state, &access, |state, store| {
        sync::read(store, state.live.connectors(), &state.replica.instance)
    })
    .await;
    match data {
        Ok(data) => {
            let body = sync::body(&data, access.csrf(), q.done.as_deref());
            html_page("Sync", Tab::Sync, &access, body)
        }
        Err(page) => page,
    }
}

/// A drop's rejects as `row,reason,<the file's headers>` CSV, as written beside the file.
async fn rejects_download(
    State(state): State<Handle>,
    Extension(access): Extension<Access>,
    Path((connector, stream)): Path<(String, String)>,
) -> Response {
    let found = query(&state, &access, move |_, store| {
        let cursor = store.cursor(&connector, &stream)?;
        let rejects = store.rejects(&connector, &stream)?;
        Ok::<_, crate::store::StoreError>(cursor.map(|c| {
            let file = leadsync_spreadsheet::TakenFile::from_state(&c.state);
            let headers = file.as_ref().map(|f| f.headers.clone()).unwrap_or_default();
            let name = file.map_or(stream.clone(), |f| f.name);
            (name, leadsync_spreadsheet::rejects_csv(&headers, &rejects))
        }))
    })
    .await;
    match found {
        Ok(Some((name, csv))) => {
            let file: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            secured(
                (
                    [
                        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                        (
                            header::CONTENT_DISPOSITION,
                            format!("attachment; filename=\"{file}.rejects.csv\""),
                        ),
                    ],
                    csv,
                )
                    .into_response(),
            )
        }
        Ok(None) => error_page(StatusCode::NOT_FOUND, &access, "no such file was taken"),
        Err(page) => page,
    }
}

#[derive(serde::Deserialize)]
struct ActionForm {
    #[serde(default)]
    csrf: String,
}

fn refused(access: &Access) -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        access,
        "This form is stale or did not come from this dashboard (its CSRF token is missing or wrong). Reload the page and try again.",
    )
}

async fn retry_dead(
    State(state): State<Handle>,
    Extension(access): Extension<Access>,
    Path(id): Path<i64>,
    Form(form): Form<ActionForm>,
) -> Response {
    if !access.allows(&form.csrf) {
        return refused(&access);
    }
    match query(&state, &access, move |_, store| store.retry_dead(id)).await {
        Ok(true) => {
            tracing::info!(
                outbox_id = id,
                "Dead letter sent back to the outbox from the dashboard."
            );
            Redirect::to(&format!(
                "/sync?done={}",
                funnel::urlencode(&format!(
                    "Push {id} is back in the outbox; the next push turn sends it."
                ))
            ))
            .into_response()
        }
        Ok(false) => error_page(
            StatusCode::NOT_FOUND,
            &access,
            &format!("Push {id} is no dead letter (already retried?)."),
        ),
        Err(page) => page,
    }
}

#[derive(serde::Deserialize, Default)]
struct PersonQuery {
    q: Option<String>,
}

async fn person_search(
    State(state): State<Handle>,
    Extension(access): Extension<Access>,
    Query(q): Query<PersonQuery>,
) -> Response {
    let Some(who) = q.q.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) else {
        return html_page("Person", Tab::Person, &access, person::search(None, false));
    };
    let found = query(&state, &access, {
        let who = who.clone();
        move |state, store| crate::explain::find(store, &state.identity, &who)
    })
    .await;
    match found {
        Ok(Some(id)) => Redirect::to(&format!("/person/{id}")).into_response(),
        // A search that finds nobody is an answer, not an error.
        Ok(None) => html_page(
            "Person",
            Tab::Person,
            &access,
            person::search(Some(&who), true),
        ),
        Err(page) => page,
    }
}

async fn person_page(
    State(state): State<Handle>,
    Extension(access): Extension<Access>,
    Path(id): Path<i64>,
) -> Response {
    let view = query(&state, &access, move |state, store| {
        // A merged-away id leads to its survivor.
        let id = crate::explain::find(store, &state.identity, &id.to_string())?.unwrap_or(id);
        crate::explain::view(store, id, &state.rules, crate::clock::now())
    })
    .await;
    match view {
        Ok(Some(v)) => {
            let body = person::body(&v, &state.record_links);
            html_page(&v.name, Tab::Person, &access, body)
        }
        Ok(None) => error_page(StatusCode::NOT_FOUND, &access, &format!("No person {id}.")),
        Err(page) => page,
    }
}

async fn review_page(
    State(state): State<Handle>,
    Extension(access): Extension<Access>,
    Query(q): Query<FlashQuery>,
) -> Response {
    let queue = query(&state, &access, |_, store| {
        let items = store.reviews(Some(crate::store::ReviewStatus::Pending))?;
        let pending = items.len();
        let shown: Vec<_> = items.into_iter().take(review::SHOWN).collect();
        let mut names = std::collections::HashMap::new();
        for item in &shown {
            for id in [item.a, item.b] {
                if let std::collections::hash_map::Entry::Vacant(e) = names.entry(id) {
                    let name = store
                        .person(id)?
                        .map_or_else(|| format!("#{id}"), |p| p.display_name());
                    e.insert(name);
                }
            }
        }
        Ok::<_, crate::store::StoreError>((shown, pending, names))
    })
    .await;
    let (queue, pending, names) = match queue {
        Ok(q) => q,
        Err(page) => return page,
    };
    // Overdue persons come with the funnel's facts (a pass over every person), as they are.
    let overdue = if state.rules.commitments().is_some() {
        let mark = read(&state, |_, store| store.change_mark())
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        Some(state.facts.current(&mark, FRESH_WAIT).await.facts)
    } else {
        None
    };
    let name_of = |id: i64| names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"));
    let body = review::body(
        &queue,
        pending,
        overdue
            .as_ref()
            .map(|f| f.as_ref().map_or(&[][..], |f| f.overdue.as_slice())),
        &name_of,
        access.csrf(),
        q.done.as_deref(),
    );
    html_page("Review", Tab::Review, &access, body)
}

async fn review_action(
    State(state): State<Handle>,
    Extension(access): Extension<Access>,
    Path((id, decision)): Path<(i64, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    if !access.allows(&form.csrf) {
        return refused(&access);
    }
    let accept = match decision.as_str() {
        "accept" => true,
        "reject" => false,
        _ => {
            return error_page(
                StatusCode::NOT_FOUND,
                &access,
                "a decision is accept or reject",
            );
        }
    };
    let decided = query(&state, &access, move |state, store| {
        crate::pipeline::matcher::decide(store, &state.ingest, id, accept)
    })
    .await;
    match decided {
        Ok(Ok(message)) => {
            state.facts.invalidate();
            Redirect::to(&format!("/review?done={}", funnel::urlencode(&message))).into_response()
        }
        Ok(Err(message)) => error_page(StatusCode::NOT_FOUND, &access, &message),
        Err(page) => page,
    }
}

async fn logout(
    State(state): State<Handle>,
    Extension(access): Extension<Access>,
    Form(form): Form<ActionForm>,
) -> Response {
    if !access.allows(&form.csrf) {
        return refused(&access);
    }
    if let Access::Session(s) = &access {
        state.sessions.close(&s.id);
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, auth::clear_cookie());
    r
}

#[derive(serde::Deserialize, Default)]
struct LoginQuery {
    next: Option<String>,
}

/// Only a path of this site: `/…`, not `//host` (another site) nor a backslash trick.
fn safe_next(next: Option<&str>) -> &str {
    next.filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
        .unwrap_or("/")
}

fn login_markup(next: &str, failed: bool) -> Markup {
    layout::page(
        "Log in",
        None,
        None,
        html! {
            div.card.login {
                h1 { "Log in" }
                @if failed { div.error #login-failed { "That is not the admin token." } }
                form method="post" action="/login" {
                    label { "Admin token (admin.token)"
                        input #token type="password" name="token" autocomplete="current-password" required autofocus;
                    }
                    input type="hidden" name="next" value=(next);
                    button type="submit" { "Log in" }
                }
            }
        },
    )
}

async fn login_form(State(state): State<Handle>, Query(q): Query<LoginQuery>) -> Response {
    if state.token.is_none() {
        return Redirect::to(safe_next(q.next.as_deref())).into_response();
    }
    secured(Html(login_markup(safe_next(q.next.as_deref()), false).into_string()).into_response())
}

#[derive(serde::Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
    next: Option<String>,
}

async fn login(
    State(state): State<Handle>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref()).to_string();
    let Some(token) = &state.token else {
        return Redirect::to(&next).into_response();
    };
    if !same(form.token.as_bytes(), token.expose_secret().as_bytes()) {
        tracing::warn!(from = ?headers.get("x-forwarded-for"), "Dashboard login with a wrong token.");
        // A guess costs time.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut r = Html(login_markup(&next, true).into_string()).into_response();
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return secured(r);
    }
    let session = state.sessions.open();
    let mut r = Redirect::to(&next).into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session.set_cookie());
    secured(r)
}
