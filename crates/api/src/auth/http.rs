//! The HTTP side of auth: a middleware in front of every route. `/health` answers
//! without credentials; GETs and queries need `read`; everything else `admin`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{Authenticator, Denied, Role};

/// The one route that answers without credentials (load balancers probe it).
pub const PUBLIC_PATH: &str = "/health";

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

fn refuse(status: StatusCode, message: &str) -> Response {
    let mut response = (
        status,
        axum::Json(json!({"code": status.as_u16(), "error": message})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"tessera\", charset=\"UTF-8\""),
        );
    }
    response
}

pub async fn require(
    State(auth): State<Arc<Authenticator>>,
    request: Request,
    next: Next,
) -> Response {
    if request.uri().path() == PUBLIC_PATH {
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
        Ok(role) if role >= needed => next.run(request).await,
        Ok(_) => refuse(
            StatusCode::FORBIDDEN,
            "this endpoint needs the admin role; the credentials have read access only",
        ),
        Err(Denied::Missing(why)) => refuse(StatusCode::UNAUTHORIZED, &why),
        Err(Denied::Invalid) => refuse(StatusCode::UNAUTHORIZED, "invalid credentials"),
    }
}
