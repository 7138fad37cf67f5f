//! The admin API at `/admin/v1`: organizations, accounts, directories (SCIM
//! tokens, domains, mode), roles, groups and their role assignments (with a
//! preview of who gains and loses what), user role assignments, `check` with
//! its explanation, access review, the SCIM sync log and the audit log.
//!
//! Every handler parses (errors are [`AdminError`]s that name the field),
//! calls the store, and after a write brings the snapshot up to the write's
//! revision before answering, so `Check` on this process already sees it;
//! the response carries `Rolecall-Revision`. Routes are registered through
//! utoipa-axum's [`OpenApiRouter`], which records each handler's
//! `#[utoipa::path]` in the OpenAPI document as it adds the route: the
//! document served at `/admin/v1/openapi.json` cannot drift from the router.
//!
//! Group role assignments are `…/role-assignments`; their preview is
//! `…/role-assignments:preview` (a literal `:preview` suffix, which axum 0.8
//! routes as a static segment).

pub mod auth;
pub mod error;
pub mod extract;
mod handlers;
pub mod preview;
pub mod types;

use std::sync::{Arc, LazyLock};

use axum::Json;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use auth::{ACTOR, AdminToken};
pub use error::AdminError;

use crate::model::Revision;
use crate::refresh::Refresher;
use crate::store::Store;

/// Where the admin API is mounted.
pub const PREFIX: &str = "/admin/v1";

/// The header every write answers with.
pub const REVISION_HEADER: &str = "rolecall-revision";

/// What the admin handlers share.
#[derive(Clone)]
pub struct AdminState {
    pub store: Arc<dyn Store>,
    pub refresher: Arc<Refresher>,
}

impl AdminState {
    /// After a write: bring the snapshot up to the store's revision before
    /// answering, so Check on this process sees the write.
    pub(crate) async fn publish(&self, revision: Revision) {
        if let Err(e) = self.refresher.refresh().await {
            tracing::error!(revision, error = %format!("{e:#}"), "the write is stored but the snapshot could not be rebuilt");
        }
    }
}

/// A JSON response with `Rolecall-Revision`.
pub(crate) fn written<T: Serialize>(status: StatusCode, body: &T, revision: Revision) -> Response {
    let mut resp = (status, Json(body)).into_response();
    resp.headers_mut()
        .insert(REVISION_HEADER, HeaderValue::from(revision));
    resp
}

/// An empty 204 with `Rolecall-Revision`.
pub(crate) fn written_empty(revision: Revision) -> Response {
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut()
        .insert(REVISION_HEADER, HeaderValue::from(revision));
    resp
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rolecall admin API",
        description = "Organizations, accounts, directories, roles and role assignments of rolecall. \
                       Authenticate with `Authorization: Bearer <admin token>` (ROLECALL_ADMIN_TOKEN or \
                       `serve --admin-token-file`). Errors are `{\"error\":{\"code\",\"message\",\"field\"?}}`; \
                       every write answers with the header `Rolecall-Revision`."
    ),
    modifiers(&BearerAuth),
    security(("admin_token" = [])),
    components(schemas(error::ErrorBody, error::ErrorCode))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every admin route, each with its OpenAPI operation; paths relative to [`PREFIX`].
fn api_routes() -> OpenApiRouter<AdminState> {
    use handlers::{decisions, directories, roles, tenancy};
    OpenApiRouter::new()
        .routes(routes!(
            tenancy::list_organizations,
            tenancy::create_organization
        ))
        .routes(routes!(
            tenancy::get_organization,
            tenancy::patch_organization
        ))
        .routes(routes!(tenancy::list_accounts, tenancy::create_account))
        .routes(routes!(tenancy::get_account, tenancy::patch_account))
        .routes(routes!(decisions::account_access))
        .routes(routes!(
            directories::list_directories,
            directories::create_directory
        ))
        .routes(routes!(
            directories::get_directory,
            directories::patch_directory
        ))
        .routes(routes!(directories::list_tokens, directories::create_token))
        .routes(routes!(directories::revoke_token))
        .routes(routes!(directories::list_groups))
        .routes(routes!(directories::group_members))
        .routes(routes!(
            directories::get_group_assignments,
            directories::put_group_assignments
        ))
        .routes(routes!(directories::preview_group_assignments))
        .routes(routes!(
            directories::get_user_assignments,
            directories::put_user_assignments
        ))
        .routes(routes!(directories::preview_user_assignments))
        .routes(routes!(directories::sync_log))
        .routes(routes!(roles::list_roles, roles::create_role))
        .routes(routes!(
            roles::get_role,
            roles::put_role,
            roles::delete_role
        ))
        .routes(routes!(decisions::check))
        .routes(routes!(decisions::audit_log))
}

/// The OpenAPI document with the admin routes under [`PREFIX`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, api) = api_routes().split_for_parts();
    let public = OpenApiRouter::<()>::new()
        .routes(routes!(openapi_json))
        .into_openapi();
    ApiDoc::openapi().nest(PREFIX, api).nest(PREFIX, public)
}

static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
});

/// The OpenAPI 3 document of this API (no token needed).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI 3 document", content_type = "application/json"))
)]
async fn openapi_json() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
        .into_response()
}

async fn no_route(uri: Uri) -> AdminError {
    AdminError::not_found(format!(
        "no admin route `{}`; the routes are listed at {PREFIX}/openapi.json",
        uri.path()
    ))
}

/// The router to nest at [`PREFIX`]. Without a token every route but
/// `/openapi.json` answers 503 `admin_api_disabled`.
pub fn router(state: AdminState, token: Option<AdminToken>) -> Router {
    let token = token.map(Arc::new);
    let (api, _) = api_routes().split_for_parts();
    let protected = api
        .fallback(no_route)
        .with_state(state)
        .layer(middleware::from_fn_with_state(token, auth::authenticate));
    Router::new()
        .route("/openapi.json", axum::routing::get(openapi_json))
        .merge(protected)
}
