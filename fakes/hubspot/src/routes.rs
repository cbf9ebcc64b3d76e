//! The router and the single-record endpoints. Each handler only parses its input and hands a
//! closure to [`gate::run`], which does auth, limits and faults around it.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{self, ConnectInfo, Path, RawQuery};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use leadsync_fake_support::conn::ConnAddr;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::errors::ApiError;
use crate::gate::{self, Endpoint, Outcome, Shared, State};
use crate::render::{self, QueryParams, Selection, contact_json};
use crate::{batch, lifecycle, search};

const CONTACTS: &str = "/crm/v3/objects/contacts";

type App = extract::State<Arc<Shared>>;
type Conn = ConnectInfo<ConnAddr>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(CONTACTS, get(list).post(create))
        .route(&format!("{CONTACTS}/search"), post(search::handler))
        .route(&format!("{CONTACTS}/batch/read"), post(batch::read))
        .route(&format!("{CONTACTS}/batch/update"), post(batch::update))
        .route(&format!("{CONTACTS}/merge"), post(batch::merge))
        .route(
            &format!("{CONTACTS}/{{id}}"),
            get(get_one).patch(update_one).delete(delete_one),
        )
        .route("/crm/v3/properties/contacts/{name}", get(property))
        .fallback(|| async { ApiError::not_found("No such endpoint in the fake HubSpot.") })
        .with_state(shared)
}

/// `GET /contacts`: pages in id order; `after` is the id the next page starts at.
async fn list(
    extract::State(app): App,
    ConnectInfo(conn): Conn,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = QueryParams::parse(query);
    gate::run(&app, Endpoint::List, &headers, &conn, move |state| {
        list_page(state, &query)
    })
    .await
}

fn list_page(state: &mut State, query: &QueryParams) -> Outcome {
    let limit = match query.get("limit") {
        None => 10,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("limit must be 1..=100, got {raw}")))?,
    };
    let after = match query.get("after") {
        None | Some("") => 0,
        Some(raw) => raw
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request(format!("Invalid paging cursor after={raw}")))?,
    };
    let archived = query.archived();
    let selection = Selection::new(query.list("properties"));
    let mut records = state
        .store
        .range(after)
        .filter(|r| r.archived() == archived);
    let results: Vec<Value> = records
        .by_ref()
        .take(limit)
        .map(|r| contact_json(r, &selection))
        .collect();
    let mut body = json!({ "results": results });
    if let Some(next) = records.next() {
        let link = format!("{CONTACTS}?limit={limit}&after={}", next.id);
        body["paging"] = json!({"next": {"after": next.id.to_string(), "link": link}});
    }
    Ok((StatusCode::OK, body))
}

/// `GET /contacts/{id}`: merged ids answer with the survivor (its new id), not a redirect.
async fn get_one(
    extract::State(app): App,
    ConnectInfo(conn): Conn,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let query = QueryParams::parse(query);
    gate::run(&app, Endpoint::Get, &headers, &conn, move |state| {
        let archived = query.archived();
        let record = state
            .store
            .find(&id, query.get("idProperty"))
            .and_then(|found| state.store.get(found))
            .filter(|r| r.archived() == archived)
            .ok_or_else(|| ApiError::not_found(format!("Object not found. objectId={id}")))?;
        let selection = Selection::new(query.list("properties"));
        Ok((StatusCode::OK, contact_json(record, &selection)))
    })
    .await
}

#[derive(Deserialize)]
struct PropertiesBody {
    #[serde(default)]
    properties: Map<String, Value>,
}

/// `PATCH /contacts/{id}`: HubSpot's rules apply (lifecycle forward only, `""` clears).
async fn update_one(
    extract::State(app): App,
    ConnectInfo(conn): Conn,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    bytes: Bytes,
) -> Response {
    let query = QueryParams::parse(query);
    gate::run(&app, Endpoint::Update, &headers, &conn, move |state| {
        let input: PropertiesBody = render::body(&bytes)?;
        let props = render::properties(&input.properties)?;
        render::check_writable(&props)?;
        let found = state
            .store
            .find_live(&id, query.get("idProperty"))
            .ok_or_else(|| ApiError::not_found(format!("Object not found. objectId={id}")))?;
        let changed = state.store.apply(found, &props);
        state.stats.items_updated += 1;
        state.stats.items_changed += u64::from(changed);
        let record = state
            .store
            .get(found)
            .ok_or_else(|| ApiError::not_found(&id))?;
        Ok((
            StatusCode::OK,
            contact_json(record, &Selection::written(&props)),
        ))
    })
    .await
}

/// `POST /contacts`: 409 when the email already belongs to a contact, as in HubSpot.
async fn create(
    extract::State(app): App,
    ConnectInfo(conn): Conn,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    gate::run(&app, Endpoint::Create, &headers, &conn, move |state| {
        let input: PropertiesBody = render::body(&bytes)?;
        let props = render::properties(&input.properties)?;
        render::check_writable(&props)?;
        if let Some(email) = props.get("email").filter(|e| !e.is_empty())
            && let Some(existing) = state.store.find_live(email, Some("email"))
        {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "CONFLICT",
                format!("Contact already exists. Existing ID: {existing}"),
            ));
        }
        let id = state.store.insert(props.clone());
        let record = state
            .store
            .get(id)
            .ok_or_else(|| ApiError::not_found("new"))?;
        Ok((
            StatusCode::CREATED,
            contact_json(record, &Selection::written(&props)),
        ))
    })
    .await
}

/// `DELETE /contacts/{id}`: archives; `lastmodifieddate` stays as it was.
async fn delete_one(
    extract::State(app): App,
    ConnectInfo(conn): Conn,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    gate::run(&app, Endpoint::Delete, &headers, &conn, move |state| {
        if let Some(found) = state.store.find_live(&id, None) {
            state.store.archive(found);
        }
        Ok((StatusCode::NO_CONTENT, Value::Null))
    })
    .await
}

/// `GET /properties/contacts/{name}`: the stage order the client must read, not hard-code.
async fn property(
    extract::State(app): App,
    ConnectInfo(conn): Conn,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    gate::run(&app, Endpoint::Properties, &headers, &conn, move |state| {
        lifecycle::property_json(&state.store.stages, &name)
            .map(|body| (StatusCode::OK, body))
            .ok_or_else(|| ApiError::not_found(format!("Property {name} does not exist")))
    })
    .await
}
