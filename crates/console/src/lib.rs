//! The web console (docs/console.md): a page served at `/` by `tessera standalone`,
//! `quickstart` and every broker, with its assets compiled into the binary, so a fresh
//! build needs no Node.js and the page makes no request beyond its own origin.
//!
//! The page is plain HTML, CSS and JavaScript modules (no build step: the files in
//! `assets/` are what the browser runs). It reads the node's own HTTP API with the
//! credentials the user types in; the assets themselves hold no data, so they are
//! public (see `tessera_api::auth::http::is_public`).

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

mod assets;

pub use assets::{ASSETS, Asset};

/// The console's routes: `/` and `/ui/` answer the page, `/ui/{file}` its assets.
pub const ROUTES: [&str; 2] = ["/", "/ui/{*file}"];

/// The page's Content-Security-Policy: everything from the page's own origin, nothing
/// from anywhere else (the browser enforces what docs/console.md promises).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A router serving the console, to merge into a node's API.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(ROUTES[0], get(index))
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route(ROUTES[1], get(file))
}

async fn index(headers: HeaderMap) -> Response {
    serve(assets::INDEX, &headers)
}

async fn file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match assets::find(&file) {
        Some(asset) => serve(asset, &headers),
        None => (
            StatusCode::NOT_FOUND,
            format!("the console has no file `{file}`"),
        )
            .into_response(),
    }
}

/// One asset, with its content type, an ETag of its bytes (a reload after an upgrade
/// never runs stale code, and an unchanged file costs a 304) and the page's policy.
fn serve(asset: &Asset, headers: &HeaderMap) -> Response {
    let etag = asset.etag();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.bytes.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget: the page adds less than 1 MB to the binary.
    #[test]
    fn test_assets_stay_under_one_megabyte() {
        let total: usize = ASSETS.iter().map(|a| a.bytes.len()).sum();
        assert!(total < 1_000_000, "console assets take {total} bytes");
        assert!(
            total > 10_000,
            "console assets are suspiciously small: {total}"
        );
    }

    /// Every module the page imports, and every file index.html names, is embedded.
    #[test]
    fn test_every_referenced_asset_is_embedded() {
        for asset in ASSETS {
            let Ok(text) = std::str::from_utf8(asset.bytes) else {
                continue;
            };
            for quote in ['"', '\''] {
                for part in text.split(quote) {
                    let name = part
                        .strip_prefix("./")
                        .or_else(|| part.strip_prefix("/ui/"));
                    let Some(name) = name else { continue };
                    if name.ends_with(".js") || name.ends_with(".css") || name.ends_with(".svg") {
                        assert!(
                            assets::find(name).is_some(),
                            "{} references `{part}`, which is not embedded",
                            asset.name
                        );
                    }
                }
            }
        }
    }

    /// No asset names another origin (the CSP forbids it at run time; this catches it
    /// at build time).
    #[test]
    fn test_no_asset_names_another_origin() {
        for asset in ASSETS {
            let text = String::from_utf8_lossy(asset.bytes);
            for scheme in ["http://", "https://", "//cdn", "//fonts"] {
                let allowed = ["http://www.w3.org/2000/svg"];
                let mut rest = text.as_ref();
                while let Some(at) = rest.find(scheme) {
                    let tail = &rest[at..];
                    assert!(
                        allowed.iter().any(|ok| tail.starts_with(ok)),
                        "{} names another origin: {}",
                        asset.name,
                        &tail[..tail.len().min(60)]
                    );
                    rest = &rest[at + scheme.len()..];
                }
            }
        }
    }

    #[test]
    fn test_etag_changes_with_content() {
        let a = Asset {
            name: "a.js",
            content_type: "text/javascript",
            bytes: b"one",
        };
        let b = Asset {
            name: "a.js",
            content_type: "text/javascript",
            bytes: b"two",
        };
        assert_ne!(a.etag(), b.etag());
        assert!(a.etag().starts_with('"') && a.etag().ends_with('"'));
    }
}
