//! Who may call the API: a bearer token (the CLI, scripts, Home Assistant's REST sensors)
//! or the session cookie the web page got by signing in with that token (`session`).
//! Open without either: the health probe, `/metrics` when configured public, the page's
//! own files and the sign-in. A request that changes something and carries an `Origin`
//! of another site is refused whoever sends it, and one made with the cookie must carry
//! ours: another page in the same browser cannot act in the owner's name. Cookies do not
//! tell ports apart, so a request with the cookie that the browser says came from another
//! site or port (`Sec-Fetch-Site`) is refused too, even to read. No answer under `/api/v1` is
//! kept in a browser's cache (the pairing route holds the account keys).

use super::error::ApiError;
use super::{session, AppState};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

/// The one API path answered without the token: a health probe has none, and the status,
/// version, uptime and device counts it gets are no secret.
const HEALTH_PATH: &str = "/api/v1/health";
/// Where the page signs in and out.
const SESSION_PATH: &str = "/api/v1/session";

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Caller {
    /// `Authorization: Bearer <token>`.
    Token,
    /// The web page's session cookie, with the session's id.
    Session(String),
    /// A bearer token that is not ours (refused, and not tried as a cookie).
    WrongToken,
}

/// The session a request came with, for handlers that must follow it (`live` ends its
/// stream when the session ends).
#[derive(Debug, Clone)]
pub(super) struct SessionId(pub String);

impl AppState {
    /// Whether `given` is the admin token, compared in constant time.
    pub(super) fn token_is(&self, given: &str) -> bool {
        !given.is_empty()
            && given.len() == self.token.len()
            && bool::from(given.as_bytes().ct_eq(self.token.as_bytes()))
    }

    fn caller(&self, headers: &HeaderMap) -> Option<Caller> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer);
        if let Some(token) = bearer {
            return Some(if self.token_is(token) {
                Caller::Token
            } else {
                Caller::WrongToken
            });
        }
        let id = session::from_cookies(headers)?;
        self.sessions
            .valid(id)
            .then(|| Caller::Session(id.to_owned()))
    }
}

/// The middleware in front of every route.
pub(super) async fn require_caller(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let api = request.uri().path().starts_with("/api/v1/");
    let mut response = admit(state, request, next).await;
    if api && !response.headers().contains_key(header::CACHE_CONTROL) {
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
    }
    response
}

async fn admit(state: AppState, mut request: Request, next: Next) -> Response {
    let changes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let origin = origin_of(request.headers());
    if changes && origin == Origin::Foreign {
        return foreign_origin();
    }
    let path = request.uri().path();
    let open = path == HEALTH_PATH
        || path == SESSION_PATH
        || (state.metrics_public && path == "/metrics")
        || super::page::is_page(path);
    if open {
        return super::json_errors(next.run(request).await);
    }
    match state.caller(request.headers()) {
        None | Some(Caller::WrongToken) => return ApiError::unauthorized().into_response(),
        Some(Caller::Token) => {}
        Some(Caller::Session(id)) => {
            let cross_site = request
                .headers()
                .get("sec-fetch-site")
                .is_some_and(|v| !matches!(v.as_bytes(), b"same-origin" | b"none"));
            if cross_site || (changes && origin != Origin::Ours) {
                return foreign_origin();
            }
            request.extensions_mut().insert(SessionId(id));
        }
    }
    super::json_errors(next.run(request).await)
}

/// The token of an `Authorization` header of the `Bearer` scheme, whose name is matched
/// without regard to case, as HTTP auth schemes are (RFC 9110, section 11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Where a request says it comes from.
#[derive(Debug, PartialEq, Eq)]
enum Origin {
    /// No `Origin` header (a tool, not a browser's cross-site request).
    None,
    /// The site the request was sent to (`Origin` names the `Host`).
    Ours,
    /// Another site, `null`, or one that cannot be read.
    Foreign,
}

fn origin_of(headers: &HeaderMap) -> Origin {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Origin::None;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let named = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
        .map(|(_, rest)| rest);
    match (named, host) {
        (Some(named), Some(host)) if named.eq_ignore_ascii_case(host) => Origin::Ours,
        _ => Origin::Foreign,
    }
}

fn foreign_origin() -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "foreign_origin",
        "This request must come from merossd's own page; it came from another site or port.",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static(host));
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_static(o));
        }
        h
    }

    #[test]
    fn origins_are_ours_only_when_they_name_the_host() {
        let ours = headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(origin_of(&ours), Origin::Ours);
        let https = headers(Some("https://pi.local"), "PI.local");
        assert_eq!(origin_of(&https), Origin::Ours);
        for foreign in [
            "http://evil.example",
            "null",
            "http://127.0.0.1:8081",
            "ftp://127.0.0.1:8080",
        ] {
            let h = headers(Some(foreign), "127.0.0.1:8080");
            assert_eq!(origin_of(&h), Origin::Foreign, "{foreign}");
        }
        assert_eq!(origin_of(&headers(None, "x")), Origin::None);
    }

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
    }
}
