//! The API's rules at its edge: the auth scheme in any case, `/health` without a token,
//! one shape for every bad query, and the metrics the docs name are the ones exported.

use crate::common::*;
use merossd::daemon::Daemon;
use serde_json::Value;
use std::time::Duration;

/// GET `path` with `authorization` as the whole `Authorization` header (none if `None`);
/// the status.
async fn get_with(d: &Daemon, path: &str, authorization: Option<String>) -> u16 {
    let url = format!("http://{}{path}", d.api_addr);
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        let mut b = ureq::http::Request::builder().method("GET").uri(url);
        if let Some(value) = authorization {
            b = b.header("Authorization", value);
        }
        let request = b.body(Vec::<u8>::new()).unwrap();
        agent.run(request).unwrap().status().as_u16()
    })
    .await
    .unwrap()
}

fn error_code(v: &Value) -> &str {
    v.pointer("/error/code")
        .and_then(Value::as_str)
        .unwrap_or("<none>")
}

#[tokio::test]
async fn the_bearer_scheme_is_matched_in_any_case_and_the_token_still_checked() {
    let d = daemon().await;
    let token = d.api_token.clone();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let status = get_with(&d, "/api/v1/devices", Some(format!("{scheme} {token}"))).await;
        assert_eq!(status, 200, "scheme {scheme}");
    }
    for wrong in [
        "bearer wrong".to_owned(),
        "BEARER wrong".to_owned(),
        "bearer".to_owned(),
        format!("Basic {token}"),
        format!("bearer{token}"),
        format!("Bearer {token}x"),
    ] {
        let status = get_with(&d, "/api/v1/devices", Some(wrong.clone())).await;
        assert_eq!(status, 401, "{wrong:?}");
    }
    d.stop().await;
}

#[tokio::test]
async fn health_needs_no_token_and_every_other_route_still_does() {
    let d = daemon().await;
    // A token ending in a space: no Authorization header at all.
    let (status, health) = api(&d, "GET", "/api/v1/health", None, Some(" ")).await;
    assert_eq!(status, 200, "{health}");
    assert!(health["version"].is_string(), "{health}");
    assert!(health["devices"]["known"].is_u64(), "{health}");
    assert_eq!(get_with(&d, "/api/v1/health", None).await, 200);
    for path in [
        "/api/v1/devices",
        "/api/v1/openapi.json",
        "/api/v1/nothing-here",
        "/api/v1/health/",
        "/metrics",
    ] {
        let (status, body) = api(&d, "GET", path, None, Some(" ")).await;
        assert_eq!((status, error_code(&body)), (401, "unauthorized"), "{path}");
    }
    let (status, body) = api(&d, "GET", "/api/v1/devices", None, Some("wrong")).await;
    assert_eq!((status, error_code(&body)), (401, "unauthorized"), "{body}");
    d.stop().await;
}

#[tokio::test]
async fn every_bad_query_is_400_invalid_query_naming_its_key() {
    let d = daemon().await;
    let plug = &plugs(&d, "qr", 1)[0];
    known(&d, plug).await;
    let base = format!("/api/v1/devices/{}", plug.uuid);
    let cases = [
        ("history?foo=bar", "foo"),
        ("history?step=raw&foo=bar", "foo"),
        ("history?from=yesterday", "from"),
        ("history?from=2000&to=1000", "from"),
        ("history?step=day", "step"),
        ("consumption?days=-1", "days"),
        ("consumption?days=abc", "days"),
        ("consumption?days=1&days=2", "days"),
        ("consumption?week=1", "week"),
        ("events?limit=abc", "limit"),
        ("events?limit=-3", "limit"),
        ("events?bogus=1", "bogus"),
        ("events?limit=3&bogus=1", "bogus"),
    ];
    for (query, key) in cases {
        let path = format!("{base}/{query}");
        let (status, body) = api(&d, "GET", &path, None, None).await;
        assert_eq!(
            (status, error_code(&body)),
            (400, "invalid_query"),
            "{query}: {body}"
        );
        assert_eq!(body["error"]["field"], key, "{query}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("`{key}`")), "{query}: {body}");
        assert!(!message.contains("deserialize"), "{query}: {body}");
    }
    // Good queries still pass.
    for query in [
        "events",
        "events?limit=3",
        "consumption?days=7",
        "history?step=hour",
        "history",
    ] {
        let (status, body) = api(&d, "GET", &format!("{base}/{query}"), None, None).await;
        assert_eq!(status, 200, "{query}: {body}");
    }
    // The events of a device merossd does not know (a forgotten one, say) are a 404.
    let unknown = "/api/v1/devices/0000000000000000000000000000dead/events";
    let (status, body) = api(&d, "GET", unknown, None, None).await;
    assert_eq!(
        (status, error_code(&body)),
        (404, "unknown_device"),
        "{body}"
    );
    d.stop().await;
}

/// Every `merossd_...` name in the text (letters and underscores after the prefix).
fn metric_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (start, _) in text.match_indices("merossd_") {
        let name: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        let name = name.trim_end_matches('_').to_owned();
        if name.len() > "merossd_".len() && !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// Whether `name` is the name of a sample line (not only of a `# HELP` line).
fn exported(text: &str, name: &str) -> bool {
    text.lines().any(|l| {
        !l.starts_with('#')
            && l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
    })
}

#[tokio::test]
async fn every_metric_the_docs_name_is_exported() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut documented = Vec::new();
    for doc in ["docs/api.md", "docs/security.md"] {
        let text = std::fs::read_to_string(root.join(doc)).unwrap();
        for name in metric_names(&text) {
            if !documented.iter().any(|(n, _)| *n == name) {
                documented.push((name, doc));
            }
        }
    }
    assert!(
        documented.len() >= 30,
        "the scan found too few: {documented:?}"
    );

    // A metering plug with a reading and its per-day counts: every per-device series is
    // there (families without a series are left out of the text).
    let d = daemon().await;
    let plug = &plugs(&d, "mr", 1)[0];
    known(&d, plug).await;
    let live = format!("/api/v1/devices/{}/electricity", plug.uuid);
    let (status, body) = api(&d, "GET", &live, None, None).await;
    assert_eq!(status, 200, "{body}");
    let end = tokio::time::Instant::now() + Duration::from_secs(15);
    let missing = loop {
        let (status, body) = api(&d, "GET", "/metrics", None, None).await;
        assert_eq!(status, 200, "{body}");
        let text = body.as_str().unwrap_or_default().to_owned();
        let missing: Vec<_> = documented
            .iter()
            .filter(|(name, _)| !exported(&text, name))
            .cloned()
            .collect();
        if missing.is_empty() || tokio::time::Instant::now() > end {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        missing.is_empty(),
        "documented but not in /metrics: {missing:?}"
    );
    d.stop().await;
}
