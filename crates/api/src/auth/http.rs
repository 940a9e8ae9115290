//! The HTTP side of auth: a middleware in front of every route. The public paths (the
//! health probe, whether auth is on, and the web console's assets, which hold no data)
//! answer without credentials; GETs and queries need `read`; everything else `admin`.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Authenticator, Denied, Role};

/// The health probe: answers without credentials (load balancers probe it).
pub const PUBLIC_PATH: &str = "/health";

/// Whether the server asks for credentials (`{"workflow": "BASIC"}` or `"NONE"`, as
/// Pinot's controller answers it): public, so a login page knows to show itself.
pub const INFO_PATH: &str = "/auth/info";

/// The role the request's credentials grant: `{"role": "read"}`.
pub const VERIFY_PATH: &str = "/auth/verify";

/// The paths that answer without credentials: the health probe, [`INFO_PATH`], and
/// the web console's page and assets (`/`, `/ui`, `/ui/...`), which hold no data: the
/// page asks for credentials before it reads anything.
pub fn is_public(path: &str) -> bool {
    path == PUBLIC_PATH
        || path == INFO_PATH
        || path == "/"
        || path == "/ui"
        || path.starts_with("/ui/")
}

/// Put in a request's extensions by [`require`]: auth is on, and (past a public path)
/// the role the credentials grant.
#[derive(Debug, Clone, Copy)]
pub struct Granted(pub Option<Role>);

/// `GET /auth/info`: whether credentials are needed.
pub async fn info(granted: Option<Extension<Granted>>) -> axum::Json<serde_json::Value> {
    let workflow = if granted.is_some() { "BASIC" } else { "NONE" };
    axum::Json(json!({ "workflow": workflow }))
}

/// `GET /auth/verify`: the role the request's credentials grant (without `[auth]`,
/// everyone is an admin).
pub async fn verify(granted: Option<Extension<Granted>>) -> axum::Json<serde_json::Value> {
    let role = match granted {
        Some(Extension(Granted(Some(role)))) => role,
        Some(Extension(Granted(None))) => Role::Read,
        None => Role::Admin,
    };
    axum::Json(json!({
        "role": format!("{role:?}").to_lowercase(),
        "authEnabled": granted.is_some(),
    }))
}

/// The role a request needs.
pub fn required_role(method: &Method, path: &str) -> Role {
    if method == Method::GET
        || method == Method::HEAD
        || (method == Method::POST && path == "/query/sql")
    {
        Role::Read
    } else {
        Role::Admin
    }
}

/// A refusal; a 401 carries a Basic challenge unless the request came from a script
/// (`X-Requested-With`, as the console sends it), whose own login form would otherwise
/// sit under the browser's dialog.
fn refuse(status: StatusCode, message: &str, headers: &HeaderMap) -> Response {
    let mut response = (
        status,
        axum::Json(json!({"code": status.as_u16(), "error": message})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED && !headers.contains_key("x-requested-with") {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"tessera\", charset=\"UTF-8\""),
        );
    }
    response
}

pub async fn require(
    State(auth): State<Arc<Authenticator>>,
    mut request: Request,
    next: Next,
) -> Response {
    if is_public(request.uri().path()) {
        request.extensions_mut().insert(Granted(None));
        return next.run(request).await;
    }
    let needed = required_role(request.method(), request.uri().path());
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // A first Basic login runs the slow password hash: off the async workers.
    let checker = auth.clone();
    let granted = tokio::task::spawn_blocking(move || checker.authorize(header.as_deref()))
        .await
        .unwrap_or(Err(Denied::Invalid));
    match granted {
        Ok(role) if role >= needed => {
            request.extensions_mut().insert(Granted(Some(role)));
            next.run(request).await
        }
        Ok(_) => refuse(
            StatusCode::FORBIDDEN,
            "this endpoint needs the admin role; the credentials have read access only",
            request.headers(),
        ),
        Err(Denied::Missing(why)) => refuse(StatusCode::UNAUTHORIZED, &why, request.headers()),
        Err(Denied::Invalid) => refuse(
            StatusCode::UNAUTHORIZED,
            "invalid credentials",
            request.headers(),
        ),
    }
}
