//! The SCIM HTTP surface: axum handlers for `/scim/v2`. Each handler parses,
//! asks the store, refreshes the snapshot after a write (so `Check` sees it
//! before the IdP gets its answer), and renders. Errors are [`ScimError`]s.

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tower_http::catch_panic::CatchPanicLayer;

use super::auth::{self, ScimContext};
use super::error::{ScimError, scim_json};
use super::filter::{self, Filter};
use super::patch;
use super::path::AttrPath;
use super::project;
use super::resource;
use super::schema::{self, ResourceKind};
use super::sync_log::{self, Outcome, SyncLog};
use crate::model::Revision;
use crate::refresh::Refresher;
use crate::store::Store;
use crate::store::scim::{GroupLookup, MembersChange, UserLookup, Written};

/// Largest request body accepted (a group PUT or PATCH carrying ~300,000 members).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Most resources one list response carries (`filter.maxResults`).
pub const MAX_RESULTS: usize = 1000;

/// What the SCIM handlers share.
#[derive(Clone)]
pub struct ScimState {
    pub store: Arc<dyn Store>,
    pub refresher: Arc<Refresher>,
    /// `https://host/scim/v2` for `meta.location` and `$ref`; from `Host` when unset.
    pub public_url: Option<String>,
}

/// The `/scim/v2` router (nest it at `/scim/v2`).
pub fn router(state: ScimState) -> Router {
    let log = SyncLog::start(Arc::clone(&state.store));
    let store = Arc::clone(&state.store);
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{name}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{urn}", get(schema_by_urn))
        .route("/Users", get(list_users).post(create_user))
        .route("/Users/.search", axum::routing::post(search_users))
        .route("/Groups/.search", axum::routing::post(search_groups))
        .route("/.search", axum::routing::post(search_all))
        .route(
            "/Users/{id}",
            get(get_user)
                .put(replace_user)
                .patch(patch_user)
                .delete(delete_user),
        )
        .route("/Groups", get(list_groups).post(create_group))
        .route(
            "/Groups/{id}",
            get(get_group)
                .put(replace_group)
                .patch(patch_group)
                .delete(delete_group),
        )
        .route("/Me", axum::routing::any(not_implemented_me))
        .route("/Bulk", axum::routing::any(not_implemented_bulk))
        .fallback(not_found)
        .with_state(state)
        // A panic answers with a SCIM error body (and is logged as one).
        .layer(CatchPanicLayer::custom(|panic: Box<dyn Any + Send>| {
            crate::http::log_panic(&*panic);
            ScimError::internal(
                "the request failed inside rolecall; it may or may not have been applied. Read the resource again before retrying",
            )
            .into_response()
        }))
        // Group writes with tens of thousands of members run to megabytes.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(store, auth::authenticate))
        .layer(middleware::from_fn_with_state(log, sync_log::record))
}

// === plumbing ===

fn base_url(state: &ScimState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!("{proto}://{host}/scim/v2")
}

/// Parses a request body as JSON whatever its content type (`application/scim+json`
/// or `application/json`).
fn json_body(body: &Bytes) -> Result<Value, ScimError> {
    if body.is_empty() {
        return Err(ScimError::invalid_syntax(
            "the request has no body; send a JSON object",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))
}

/// Query parameters, names compared case-insensitively (`+` decodes to a space).
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<String>) -> Self {
        let raw = raw.unwrap_or_default();
        Self(
            form_urlencoded::parse(raw.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn int(&self, name: &str) -> Result<Option<i64>, ScimError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.trim().parse::<i64>().map(Some).map_err(|_| {
                ScimError::invalid_value(format!("`{name}` must be an integer, not `{v}`"))
            }),
        }
    }

    fn attribute_list(&self, name: &str) -> Result<Vec<AttrPath>, ScimError> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(v) => project::parse_attribute_list(v)
                .map_err(|e| ScimError::invalid_value(format!("`{name}`: {e}"))),
        }
    }
}

/// Projection of `attributes` / `excludedAttributes`, validated for `kind`.
struct Projection {
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

impl Projection {
    fn from_query(q: &Query) -> Result<Self, ScimError> {
        Ok(Self {
            attributes: q.attribute_list("attributes")?,
            excluded: q.attribute_list("excludedAttributes")?,
        })
    }

    fn apply(&self, resource: &mut Value, kind: ResourceKind) {
        project::project(resource, kind, &self.attributes, &self.excluded);
    }

    /// Whether the response needs a group's members.
    fn wants_members(&self) -> bool {
        let named = |list: &[AttrPath]| list.iter().any(|p| p.attr.eq_ignore_ascii_case("members"));
        if !self.attributes.is_empty() {
            return named(&self.attributes);
        }
        !named(&self.excluded)
    }
}

fn with_outcome(mut resp: Response, outcome: Outcome) -> Response {
    resp.extensions_mut().insert(outcome);
    resp
}

fn revision_header(resp: &mut Response, revision: Revision) {
    resp.headers_mut()
        .insert("rolecall-revision", HeaderValue::from(revision));
}

fn etag_header(resp: &mut Response, version: u64) {
    if let Ok(v) = HeaderValue::from_str(&resource::etag(version)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
}

/// After a write: bring the snapshot up to the write's revision before answering.
async fn publish(state: &ScimState, revision: Revision) {
    if let Err(e) = state.refresher.refresh().await {
        tracing::error!(revision, error = %format!("{e:#}"), "the write is stored but the snapshot could not be rebuilt");
    }
}

fn resource_response(status: StatusCode, body: &Value, version: u64) -> Response {
    let mut resp = scim_json(body);
    *resp.status_mut() = status;
    etag_header(&mut resp, version);
    resp
}

fn written_outcome<T>(w: &Written<T>, changes: Value) -> Outcome {
    let mut changes = changes;
    if !w.skipped_members.is_empty() {
        changes["skipped_members"] = json!(w.skipped_members);
    }
    Outcome {
        changes: Some(changes),
        revision: Some(w.revision),
        ..Outcome::default()
    }
}

// === discovery ===

async fn service_provider_config(State(state): State<ScimState>, headers: HeaderMap) -> Response {
    scim_json(&schema::service_provider_config_json(
        &base_url(&state, &headers),
        MAX_RESULTS,
    ))
}

fn list_response(resources: Vec<Value>, total: usize, start: usize) -> Value {
    json!({
        "schemas": [schema::LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

async fn resource_types(State(state): State<ScimState>, headers: HeaderMap) -> Response {
    let all = schema::resource_types_json(&base_url(&state, &headers));
    let n = all.len();
    scim_json(&list_response(all, n, 1))
}

async fn resource_type(
    State(state): State<ScimState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ScimError> {
    schema::resource_types_json(&base_url(&state, &headers))
        .into_iter()
        .find(|t| {
            t["id"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(&name))
        })
        .map(|t| scim_json(&t))
        .ok_or_else(|| ScimError::not_found("resource type", &name))
}

async fn schemas() -> Response {
    let all = schema::schemas_json();
    let n = all.len();
    scim_json(&list_response(all, n, 1))
}

async fn schema_by_urn(Path(urn): Path<String>) -> Result<Response, ScimError> {
    schema::schemas_json()
        .into_iter()
        .find(|s| {
            s["id"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(&urn))
        })
        .map(|s| scim_json(&s))
        .ok_or_else(|| ScimError::not_found("schema", &urn))
}

async fn not_implemented_me() -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "/Me is not supported: a SCIM token acts for a directory, not for a user",
    )
}

async fn not_implemented_bulk() -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "bulk operations are not supported (see /ServiceProviderConfig); send one request per resource",
    )
}

async fn not_found() -> ScimError {
    ScimError::new(
        StatusCode::NOT_FOUND,
        None,
        "no such SCIM endpoint: use /Users, /Groups, /ServiceProviderConfig, /ResourceTypes or /Schemas",
    )
}

// === listing ===

struct Page {
    start: usize,
    count: usize,
}

fn page(q: &Query) -> Result<Page, ScimError> {
    let start = q.int("startIndex")?.unwrap_or(1).max(1) as usize;
    let count = match q.int("count")? {
        None => MAX_RESULTS,
        Some(c) => (c.max(0) as usize).min(MAX_RESULTS),
    };
    Ok(Page { start, count })
}

fn parse_filter(q: &Query, kind: ResourceKind) -> Result<Option<Filter>, ScimError> {
    let Some(text) = q.get("filter").filter(|f| !f.trim().is_empty()) else {
        return Ok(None);
    };
    let f = filter::parse(text).map_err(|e| ScimError::invalid_filter(format!("`{text}`: {e}")))?;
    filter::validate(&f, kind).map_err(|e| ScimError::invalid_filter(format!("`{text}`: {e}")))?;
    Ok(Some(f))
}

/// Filters, sorts, pages and projects rendered resources.
fn finish_list(
    q: &Query,
    kind: ResourceKind,
    filter: Option<&Filter>,
    projection: &Projection,
    mut all: Vec<Value>,
) -> Result<Value, ScimError> {
    if let Some(f) = filter {
        all.retain(|r| matches_with_defaults(f, r, kind));
    }
    if let Some(sort_by) = q.get("sortBy").filter(|s| !s.is_empty()) {
        let path = AttrPath::parse(sort_by)
            .map_err(|e| ScimError::invalid_value(format!("`sortBy`: {e}")))?;
        schema::resolve(kind, &path)
            .map_err(|e| ScimError::invalid_value(format!("`sortBy`: {e}")))?;
        let descending = q
            .get("sortOrder")
            .is_some_and(|o| o.eq_ignore_ascii_case("descending"));
        let mut keyed: Vec<_> = all
            .into_iter()
            .map(|r| (project::sort_value(&r, kind, &path), r))
            .collect();
        keyed.sort_by(|(a, _), (b, _)| {
            project::compare_sort_values(a.as_ref(), b.as_ref(), descending)
        });
        all = keyed.into_iter().map(|(_, r)| r).collect();
    }
    let p = page(q)?;
    let total = all.len();
    let mut resources: Vec<Value> = all.into_iter().skip(p.start - 1).take(p.count).collect();
    for r in &mut resources {
        projection.apply(r, kind);
    }
    Ok(list_response(resources, total, p.start))
}

/// Filters see a user written without `active` as active, which is what it is.
fn matches_with_defaults(f: &Filter, r: &Value, kind: ResourceKind) -> bool {
    if kind == ResourceKind::User && r.get("active").is_none() && filter::mentions(f, "active") {
        let mut with = r.clone();
        with["active"] = Value::Bool(true);
        return filter::matches(f, &with, kind);
    }
    filter::matches(f, r, kind)
}

fn user_lookup(f: Option<&Filter>) -> UserLookup {
    match f.and_then(|f| filter::simple_eq(f, ResourceKind::User)) {
        Some((attr, v)) => match attr {
            filter::IndexedAttr::UserName => UserLookup::UserName(v),
            filter::IndexedAttr::ExternalId => UserLookup::ExternalId(v),
            filter::IndexedAttr::Id => UserLookup::Id(v),
            filter::IndexedAttr::Email => UserLookup::Email(v),
            _ => UserLookup::All,
        },
        None => UserLookup::All,
    }
}

fn group_lookup(f: Option<&Filter>) -> GroupLookup {
    match f.and_then(|f| filter::simple_eq(f, ResourceKind::Group)) {
        Some((attr, v)) => match attr {
            filter::IndexedAttr::DisplayName => GroupLookup::DisplayName(v),
            filter::IndexedAttr::ExternalId => GroupLookup::ExternalId(v),
            filter::IndexedAttr::Id => GroupLookup::Id(v),
            filter::IndexedAttr::Member => GroupLookup::Member(v),
            _ => GroupLookup::All,
        },
        None => GroupLookup::All,
    }
}

// === users ===

async fn list_users(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ScimError> {
    let body = users_page(&state, &ctx, &headers, &Query::parse(raw)).await?;
    Ok(scim_json(&body))
}

async fn users_page(
    state: &ScimState,
    ctx: &ScimContext,
    headers: &HeaderMap,
    q: &Query,
) -> Result<Value, ScimError> {
    let f = parse_filter(q, ResourceKind::User)?;
    let projection = Projection::from_query(q)?;
    let base = base_url(state, headers);
    let sorted = q.get("sortBy").is_some_and(|s| !s.is_empty());
    if f.is_none() && !sorted {
        // No filter, no sort: the store pages, and counts.
        let p = page(q)?;
        let total = state.store.count_users(&ctx.directory.id).await?;
        let lookup = UserLookup::Page {
            offset: p.start as u64 - 1,
            limit: p.count as u32,
        };
        let records = state.store.find_users(&ctx.directory.id, &lookup).await?;
        let resources = records
            .iter()
            .map(|r| {
                let mut v = resource::render_user(r, &base, None);
                projection.apply(&mut v, ResourceKind::User);
                v
            })
            .collect();
        return Ok(list_response(resources, total as usize, p.start));
    }
    let records = state
        .store
        .find_users(&ctx.directory.id, &user_lookup(f.as_ref()))
        .await?;
    let all = records
        .iter()
        .map(|r| resource::render_user(r, &base, None))
        .collect();
    finish_list(q, ResourceKind::User, f.as_ref(), &projection, all)
}

/// A `POST …/.search` body (RFC 7644 §3.4.3) as query parameters.
fn search_query(body: &Bytes) -> Result<Query, ScimError> {
    let body = json_body(body)?;
    let Value::Object(fields) = body else {
        return Err(ScimError::invalid_syntax(
            "a search request must be a JSON object",
        ));
    };
    let mut params = Vec::new();
    for (k, v) in fields {
        if k.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let text = match v {
            Value::String(s) => s,
            Value::Array(items) => items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","),
            Value::Null => continue,
            other => other.to_string(),
        };
        params.push((k, text));
    }
    Ok(Query(params))
}

async fn search_users(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let q = search_query(&body)?;
    Ok(scim_json(&users_page(&state, &ctx, &headers, &q).await?))
}

async fn search_groups(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let q = search_query(&body)?;
    Ok(scim_json(&groups_page(&state, &ctx, &headers, &q).await?))
}

/// `POST /.search` at the root: users, then groups. A filter that names an
/// attribute of only one kind searches that kind.
async fn search_all(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ScimError> {
    let q = search_query(&body)?;
    let p = page(&q)?;
    let mut everything = Query(
        q.0.iter()
            .filter(|(k, _)| {
                !k.eq_ignore_ascii_case("startIndex") && !k.eq_ignore_ascii_case("count")
            })
            .cloned()
            .collect(),
    );
    everything.0.push(("count".into(), MAX_RESULTS.to_string()));
    let users = users_page(&state, &ctx, &headers, &everything).await;
    let groups = groups_page(&state, &ctx, &headers, &everything).await;
    let parts = match (users, groups) {
        (Err(e), Err(_)) => return Err(e),
        (u, g) => [u.ok(), g.ok()],
    };
    let mut all: Vec<Value> = Vec::new();
    for part in parts.into_iter().flatten() {
        if let Some(Value::Array(items)) = part.get("Resources").cloned() {
            all.extend(items);
        }
    }
    let total = all.len();
    let resources: Vec<Value> = all.into_iter().skip(p.start - 1).take(p.count).collect();
    Ok(scim_json(&list_response(resources, total, p.start)))
}

async fn render_user_with_groups(
    state: &ScimState,
    ctx: &ScimContext,
    base: &str,
    rec: &crate::store::scim::UserRecord,
) -> Result<Value, ScimError> {
    let groups = state.store.user_groups(&ctx.directory.id, &rec.id).await?;
    Ok(resource::render_user(rec, base, Some(&groups)))
}

async fn get_user(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ScimError> {
    let q = Query::parse(raw);
    let projection = Projection::from_query(&q)?;
    let base = base_url(&state, &headers);
    let rec = state
        .store
        .get_user(&ctx.directory.id, &id)
        .await?
        .ok_or_else(|| ScimError::not_found("user", &id))?;
    let mut body = render_user_with_groups(&state, &ctx, &base, &rec).await?;
    projection.apply(&mut body, ResourceKind::User);
    Ok(resource_response(StatusCode::OK, &body, rec.version))
}

async fn create_user(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ScimError> {
    let q = Query::parse(raw);
    let projection = Projection::from_query(&q)?;
    let user = resource::parse_user(json_body(&body)?)?;
    resource::check_domains(&user, &ctx.directory)?;
    let w = state.store.create_user(&ctx.directory.id, user).await?;
    publish(&state, w.revision).await;
    let base = base_url(&state, &headers);
    let mut body = resource::render_user(&w.record, &base, Some(&[]));
    projection.apply(&mut body, ResourceKind::User);
    let mut resp = resource_response(StatusCode::CREATED, &body, w.record.version);
    if let Ok(loc) = HeaderValue::from_str(&format!("{base}/Users/{}", w.record.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    revision_header(&mut resp, w.revision);
    let outcome = written_outcome(
        &w,
        json!({"created": {"user": w.record.id, "userName": w.record.user_name}}),
    );
    Ok(with_outcome(resp, outcome))
}

async fn replace_user(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ScimError> {
    let q = Query::parse(raw);
    let projection = Projection::from_query(&q)?;
    let if_version = resource::parse_if_match(&headers)?;
    let user = resource::parse_user(json_body(&body)?)?;
    resource::check_domains(&user, &ctx.directory)?;
    let w = state
        .store
        .replace_user(&ctx.directory.id, &id, user, if_version)
        .await?;
    publish(&state, w.revision).await;
    let base = base_url(&state, &headers);
    let mut body = render_user_with_groups(&state, &ctx, &base, &w.record).await?;
    projection.apply(&mut body, ResourceKind::User);
    let mut resp = resource_response(StatusCode::OK, &body, w.record.version);
    revision_header(&mut resp, w.revision);
    let outcome = written_outcome(
        &w,
        json!({"replaced": {"user": w.record.id, "active": w.record.active}}),
    );
    Ok(with_outcome(resp, outcome))
}

async fn patch_user(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ScimError> {
    let q = Query::parse(raw);
    let projection = Projection::from_query(&q)?;
    let if_version = resource::parse_if_match(&headers)?;
    let ops = patch::parse(json_body(&body)?)?;
    let base = base_url(&state, &headers);
    // Read, apply, write back at the version read: a concurrent change makes
    // the write fail instead of being lost; then read again and re-apply.
    let mut attempts = 0;
    let w = loop {
        attempts += 1;
        let current = state
            .store
            .get_user(&ctx.directory.id, &id)
            .await?
            .ok_or_else(|| ScimError::not_found("user", &id))?;
        if let Some(v) = if_version
            && v != current.version
        {
            return Err(crate::store::StoreError::VersionMismatch {
                current: current.version,
            }
            .into());
        }
        let mut doc = resource::render_user(&current, &base, None);
        patch::apply(&mut doc, ResourceKind::User, &ops)?;
        let user = resource::parse_user(doc)?;
        resource::check_domains(&user, &ctx.directory)?;
        match state
            .store
            .replace_user(&ctx.directory.id, &id, user, Some(current.version))
            .await
        {
            Err(crate::store::StoreError::VersionMismatch { .. })
                if if_version.is_none() && attempts < 5 =>
            {
                continue;
            }
            other => break other?,
        }
    };
    publish(&state, w.revision).await;
    let mut body = render_user_with_groups(&state, &ctx, &base, &w.record).await?;
    projection.apply(&mut body, ResourceKind::User);
    let mut resp = resource_response(StatusCode::OK, &body, w.record.version);
    revision_header(&mut resp, w.revision);
    let outcome = written_outcome(
        &w,
        json!({"patched": {"user": w.record.id, "active": w.record.active}}),
    );
    Ok(with_outcome(resp, outcome))
}

/// The answer to a DELETE, once the snapshot no longer holds the resource.
async fn deleted(state: &ScimState, revision: Revision, what: Value) -> Response {
    publish(state, revision).await;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    revision_header(&mut resp, revision);
    with_outcome(
        resp,
        Outcome {
            changes: Some(json!({ "deleted": what })),
            revision: Some(revision),
            ..Outcome::default()
        },
    )
}

async fn delete_user(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let if_version = resource::parse_if_match(&headers)?;
    let revision = state
        .store
        .delete_user(&ctx.directory.id, &id, if_version)
        .await?;
    Ok(deleted(&state, revision, json!({"user": id})).await)
}

// === groups ===

async fn list_groups(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ScimError> {
    let body = groups_page(&state, &ctx, &headers, &Query::parse(raw)).await?;
    Ok(scim_json(&body))
}

async fn groups_page(
    state: &ScimState,
    ctx: &ScimContext,
    headers: &HeaderMap,
    q: &Query,
) -> Result<Value, ScimError> {
    let f = parse_filter(q, ResourceKind::Group)?;
    let projection = Projection::from_query(q)?;
    let base = base_url(state, headers);
    // Members are loaded only when the response or the filter needs them.
    let filter_needs_members = f.as_ref().is_some_and(|f| filter::mentions(f, "members"));
    let members = projection.wants_members() || filter_needs_members;
    let records = state
        .store
        .find_groups(&ctx.directory.id, &group_lookup(f.as_ref()), members)
        .await?;
    let all = records
        .iter()
        .map(|r| resource::render_group(r, &base))
        .collect();
    finish_list(q, ResourceKind::Group, f.as_ref(), &projection, all)
}

async fn get_group(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ScimError> {
    let q = Query::parse(raw);
    let projection = Projection::from_query(&q)?;
    let base = base_url(&state, &headers);
    let rec = state
        .store
        .get_group(&ctx.directory.id, &id, projection.wants_members())
        .await?
        .ok_or_else(|| ScimError::not_found("group", &id))?;
    let mut body = resource::render_group(&rec, &base);
    projection.apply(&mut body, ResourceKind::Group);
    Ok(resource_response(StatusCode::OK, &body, rec.version))
}

async fn create_group(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ScimError> {
    let q = Query::parse(raw);
    let projection = Projection::from_query(&q)?;
    let (group, members) = resource::parse_group(json_body(&body)?)?;
    let w = state
        .store
        .create_group(&ctx.directory.id, group, members)
        .await?;
    publish(&state, w.revision).await;
    let base = base_url(&state, &headers);
    let rec = state
        .store
        .get_group(&ctx.directory.id, &w.record.id, projection.wants_members())
        .await?
        .unwrap_or_else(|| w.record.clone());
    let mut body = resource::render_group(&rec, &base);
    projection.apply(&mut body, ResourceKind::Group);
    let mut resp = resource_response(StatusCode::CREATED, &body, rec.version);
    if let Ok(loc) = HeaderValue::from_str(&format!("{base}/Groups/{}", rec.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    revision_header(&mut resp, w.revision);
    let outcome = written_outcome(
        &w,
        json!({"created": {"group": rec.id, "displayName": rec.display_name, "members": rec.member_count}}),
    );
    Ok(with_outcome(resp, outcome))
}

async fn replace_group(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ScimError> {
    let q = Query::parse(raw);
    let projection = Projection::from_query(&q)?;
    let if_version = resource::parse_if_match(&headers)?;
    let (group, members) = resource::parse_group(json_body(&body)?)?;
    let change = MembersChange {
        replace: Some(members),
        ..MembersChange::default()
    };
    let w = state
        .store
        .update_group(&ctx.directory.id, &id, Some(group), change, if_version)
        .await?;
    publish(&state, w.revision).await;
    let base = base_url(&state, &headers);
    let rec = state
        .store
        .get_group(&ctx.directory.id, &id, projection.wants_members())
        .await?
        .ok_or_else(|| ScimError::not_found("group", &id))?;
    let mut body = resource::render_group(&rec, &base);
    projection.apply(&mut body, ResourceKind::Group);
    let mut resp = resource_response(StatusCode::OK, &body, rec.version);
    revision_header(&mut resp, w.revision);
    let outcome = written_outcome(
        &w,
        json!({"replaced": {"group": id, "members": rec.member_count}}),
    );
    Ok(with_outcome(resp, outcome))
}

/// PATCH on a group answers 204 No Content: IdPs (Okta, Entra ID) accept it,
/// and it spares loading and sending a member list that may hold tens of
/// thousands of entries after every membership change. The `ETag` header
/// still carries the new version.
async fn patch_group(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ScimError> {
    let if_version = resource::parse_if_match(&headers)?;
    let ops = patch::parse(json_body(&body)?)?;
    let current = state
        .store
        .get_group(&ctx.directory.id, &id, false)
        .await?
        .ok_or_else(|| ScimError::not_found("group", &id))?;
    let (group, members) = patch::group_change(&current, &ops)?;
    let w = state
        .store
        .update_group(&ctx.directory.id, &id, group, members, if_version)
        .await?;
    publish(&state, w.revision).await;
    let mut resp = StatusCode::NO_CONTENT.into_response();
    etag_header(&mut resp, w.record.version);
    revision_header(&mut resp, w.revision);
    let outcome = written_outcome(
        &w,
        json!({"patched": {"group": id, "members": w.record.member_count}}),
    );
    Ok(with_outcome(resp, outcome))
}

async fn delete_group(
    State(state): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ScimError> {
    let if_version = resource::parse_if_match(&headers)?;
    let revision = state
        .store
        .delete_group(&ctx.directory.id, &id, if_version)
        .await?;
    Ok(deleted(&state, revision, json!({"group": id})).await)
}
