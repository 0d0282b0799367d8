//! The web page's session and refusals, by hand over HTTP: the Content-Security-Policy and
//! ETag of the page, the cookie's attributes, another site's `Origin` and another port's
//! `Sec-Fetch-Site` refused, no caching of the API's answers, and sign-out ending the
//! session and the live stream opened with it.

use crate::common::*;
use crate::web::web_daemon;
use merossd::daemon::Daemon;
use serde_json::json;
use std::time::Duration;

/// One request with the headers given and no token; status, headers, body.
async fn raw(
    d: &Daemon,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, ureq::http::HeaderMap, String) {
    let url = format!("http://{}{path}", d.api_addr);
    let mut b = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        b = b.header(*name, *value);
    }
    let request = b.body(body.as_bytes().to_vec()).unwrap();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let mut response = agent.run(request).unwrap();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (response.status().as_u16(), response.headers().clone(), text)
    })
    .await
    .unwrap()
}

/// Reads `/api/v1/live` with the cookie until the server ends it: told once its first
/// event came (the stream is open), then what it sent in all.
fn live_until_closed(
    d: &Daemon,
    cookie: &str,
) -> (
    tokio::sync::oneshot::Receiver<()>,
    tokio::task::JoinHandle<String>,
) {
    use std::io::{BufRead, Read};
    let url = format!("http://{}/api/v1/live", d.api_addr);
    let cookie = cookie.to_owned();
    let (opened, open) = tokio::sync::oneshot::channel();
    let reading = tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let mut response = agent.get(&url).header("Cookie", &cookie).call().unwrap();
        let mut body = std::io::BufReader::new(response.body_mut().as_reader());
        let mut first = String::new();
        body.read_line(&mut first).unwrap_or_default();
        let _ = opened.send(());
        let mut rest = String::new();
        body.read_to_string(&mut rest).unwrap_or_default();
        first + &rest
    });
    (open, reading)
}

#[tokio::test]
async fn the_session_cookie_is_strict_and_another_sites_origin_is_refused() {
    let d = web_daemon().await;
    let plug = &plugs(&d, "wc", 1)[0];
    known(&d, plug).await;
    let json = ("Content-Type", "application/json");
    // The page: a strict policy, no inline script.
    let (status, headers, html) = raw(&d, "GET", "/", &[], "").await;
    assert_eq!(status, 200);
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(html.contains("<script type=\"module\" src=\"/ui/app.js\">"));
    // Asked again with its ETag, the page is not sent again.
    let tag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, body) = raw(&d, "GET", "/", &[("If-None-Match", &tag)], "").await;
    assert_eq!((status, body.as_str()), (304, ""));
    // A wrong token: 401 naming the field, no cookie.
    let (status, headers, body) = raw(
        &d,
        "POST",
        "/api/v1/session",
        &[json],
        r#"{"token":"nope"}"#,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(headers.get("set-cookie").is_none());
    assert!(body.contains("\"field\":\"token\""), "{body}");
    // The right one: an HttpOnly, SameSite=Strict cookie that expires.
    let signin = json!({ "token": d.api_token }).to_string();
    let (status, headers, _) = raw(&d, "POST", "/api/v1/session", &[json], &signin).await;
    assert_eq!(status, 200);
    let cookie = headers["set-cookie"].to_str().unwrap().to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(
        !cookie.contains(&d.api_token),
        "the token is not the cookie"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let with = |origin: Option<&'static str>| {
        let mut h = vec![
            ("Cookie", session.clone()),
            ("Content-Type", "application/json".into()),
        ];
        if let Some(o) = origin {
            h.push(("Origin", o.into()));
        }
        h
    };
    let ours = format!("http://{}", d.api_addr);
    let toggle = format!("/api/v1/devices/{}/toggle", plug.uuid);
    let on = r#"{"channel":0,"on":true}"#;
    let send = |h: Vec<(&'static str, String)>| {
        let d = &d;
        let toggle = toggle.clone();
        async move {
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            raw(d, "POST", &toggle, &h, on).await
        }
    };
    // The cookie reads; another site's page cannot act with it, nor can a request
    // without an Origin; the page's own can.
    let (status, _, _) = raw(&d, "GET", "/api/v1/devices", &[("Cookie", &session)], "").await;
    assert_eq!(status, 200);
    let (status, _, body) = send(with(Some("http://evil.example"))).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("foreign_origin"), "{body}");
    assert_eq!(send(with(None)).await.0, 403);
    assert!(
        !plug.state().relays[&0],
        "a refused request switched the plug"
    );
    let mut ours_h = with(None);
    ours_h.push(("Origin", ours.clone()));
    assert_eq!(send(ours_h).await.0, 200);
    // A foreign Origin is refused even with the bearer token (and before it is looked at).
    let bearer = format!("Bearer {}", d.api_token);
    let h = [
        ("Authorization", bearer.as_str()),
        json,
        ("Origin", "http://evil.example"),
    ];
    assert_eq!(raw(&d, "POST", &toggle, &h, on).await.0, 403);
    // Cookies do not tell ports apart: a page on another port of this host sends ours, and
    // the browser says so.
    let other_port = [
        ("Cookie", session.as_str()),
        ("Sec-Fetch-Site", "same-site"),
    ];
    assert_eq!(
        raw(&d, "GET", "/api/v1/devices", &other_port, "").await.0,
        403
    );
    let same = [
        ("Cookie", session.as_str()),
        ("Sec-Fetch-Site", "same-origin"),
    ];
    let (status, headers, _) = raw(&d, "GET", "/api/v1/pairing", &same, "").await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["cache-control"], "no-store",
        "the keys stay out of caches"
    );
    // Signing out ends the session, and the live stream opened with it.
    let (open, live) = live_until_closed(&d, &session);
    tokio::time::timeout(Duration::from_secs(10), open)
        .await
        .expect("the live stream opened")
        .unwrap();
    let out = [("Cookie", session.as_str()), ("Origin", ours.as_str())];
    assert_eq!(raw(&d, "DELETE", "/api/v1/session", &out, "").await.0, 200);
    let (status, _, _) = raw(&d, "GET", "/api/v1/devices", &[("Cookie", &session)], "").await;
    assert_eq!(status, 401);
    switch_via_api(&d, &plug.uuid, false).await;
    let heard = tokio::time::timeout(Duration::from_secs(10), live)
        .await
        .expect("the live stream outlived its session")
        .unwrap();
    assert!(heard.starts_with("event: devices"), "{heard}");
    d.stop().await;
}
