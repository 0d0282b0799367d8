//! The web page, built into the binary: plain HTML, CSS and JavaScript modules from
//! `src/api/page/`, served at `/` and `/ui/...` without the token (the page holds no
//! secret; everything it shows comes from the API once signed in). Every file goes with
//! a strict Content-Security-Policy: scripts and styles from merossd only, none inline,
//! no framing, requests to merossd only. A browser asks again on every load and gets
//! `304 Not Modified` while its copy is current (each file's ETag is its MD5).

use super::AppState;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// What every file of the page is sent with.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// The page's files: path, content type, bytes.
pub const FILES: &[(&str, &str, &[u8])] = &[
    ("/", HTML, include_bytes!("page/index.html")),
    ("/ui/style.css", CSS, include_bytes!("page/style.css")),
    ("/ui/icon.svg", SVG, include_bytes!("page/icon.svg")),
    ("/ui/app.js", JS, include_bytes!("page/app.js")),
    ("/ui/api.js", JS, include_bytes!("page/api.js")),
    ("/ui/words.js", JS, include_bytes!("page/words.js")),
    ("/ui/dom.js", JS, include_bytes!("page/dom.js")),
    ("/ui/list.js", JS, include_bytes!("page/list.js")),
    ("/ui/device.js", JS, include_bytes!("page/device.js")),
    ("/ui/settings.js", JS, include_bytes!("page/settings.js")),
    ("/ui/controls.js", JS, include_bytes!("page/controls.js")),
    ("/ui/chart.js", JS, include_bytes!("page/chart.js")),
    ("/ui/add.js", JS, include_bytes!("page/add.js")),
    ("/ui/system.js", JS, include_bytes!("page/system.js")),
];

/// Whether `path` is one of the page's files.
pub(super) fn is_page(path: &str) -> bool {
    FILES.iter().any(|(p, _, _)| *p == path)
}

/// A route per file.
pub fn routes() -> Router<AppState> {
    FILES
        .iter()
        .fold(Router::new(), |router, &(path, kind, bytes)| {
            // Worked out once, when the routes are made.
            let tag = format!("\"{}\"", crate::protocol::md5_bytes_hex(bytes));
            router.route(
                path,
                get(move |asked: HeaderMap| {
                    let tag = tag.clone();
                    async move { file(kind, bytes, &tag, &asked) }
                }),
            )
        })
}

fn file(kind: &'static str, bytes: &'static [u8], tag: &str, asked: &HeaderMap) -> Response {
    let current = asked
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let etag = HeaderValue::from_str(tag).unwrap_or(HeaderValue::from_static("\"\""));
    let headers = [
        (header::ETAG, etag),
        (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        // Checked again on every load: a new merossd brings its new page at once.
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    if current {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (headers, bytes).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_page_is_under_150_kb_before_compression() {
        let total: usize = FILES.iter().map(|(_, _, b)| b.len()).sum();
        assert!(total < 150 * 1024, "the page is {total} bytes");
    }

    #[test]
    fn no_file_holds_inline_script_or_style() {
        let html = std::str::from_utf8(FILES[0].2).unwrap_or_default();
        for tag in html.split("<script").skip(1) {
            assert!(
                tag.trim_start().starts_with("type=\"module\" src="),
                "{tag}"
            );
        }
        assert!(!html.contains("style=\"") && !html.contains("<style"));
        assert!(!html.contains("onclick") && !html.contains("onload"));
    }
}
