//! `GET /live`: the devices as they change, as server-sent events, for the web page. The
//! first event is every device (`devices`); then each device that changed (`device`, its
//! list entry) or was forgotten (`forgotten`, its uuid). A client that falls behind gets
//! every device again rather than a gap. At most [`MAX_STREAMS`] are open at once, each
//! with a comment every [`KEEP_ALIVE`] so that idle connections are not closed. A stream
//! opened with the page's session ends when the session does (sign-out, expiry), checked
//! at every event and every [`KEEP_ALIVE`].

use super::auth::SessionId;
use super::error::ApiError;
use super::AppState;
use crate::model::Notice;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Extension;
use axum::Router;
use futures_util::stream;
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, OwnedSemaphorePermit, Semaphore};

/// Live streams open at once (a few browsers, each with a page or two open).
pub const MAX_STREAMS: usize = 16;
/// How often an idle stream says it is alive (under the API's idle timeout).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The places for live streams, shared by the API's state.
pub fn places() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(MAX_STREAMS))
}

/// The live route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/live", get(live))
}

async fn live(
    State(state): State<AppState>,
    session: Option<Extension<SessionId>>,
) -> Result<impl IntoResponse, ApiError> {
    let permit = state.live.clone().try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too_many_streams",
            format!("{MAX_STREAMS} live streams are open already; close a page."),
        )
    })?;
    let notices = state.engine.subscribe();
    let start = Follow {
        state,
        notices,
        first: true,
        session: session.map(|Extension(SessionId(id))| id),
        _permit: permit,
    };
    let events = stream::unfold(start, |mut f| async move {
        let event = f.next().await?;
        Some((Ok::<_, Infallible>(event), f))
    });
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    // A proxy in front (nginx) must pass each event on as it comes.
    let unbuffered = (
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(([unbuffered], sse))
}

/// One stream's place in the engine's notices.
struct Follow {
    state: AppState,
    notices: broadcast::Receiver<Notice>,
    first: bool,
    /// The page's session the stream was opened with (`None`: the bearer token).
    session: Option<String>,
    /// Held for as long as the stream lives.
    _permit: OwnedSemaphorePermit,
}

impl Follow {
    /// Whether the stream may go on: its session, if it has one, has not ended.
    fn allowed(&self) -> bool {
        self.session
            .as_deref()
            .is_none_or(|id| self.state.sessions.valid(id))
    }

    /// The next event, or `None` once the engine is gone or the session has ended.
    async fn next(&mut self) -> Option<Event> {
        if std::mem::take(&mut self.first) {
            return Some(self.everything());
        }
        loop {
            let notice = tokio::select! {
                notice = self.notices.recv() => notice,
                () = tokio::time::sleep(KEEP_ALIVE) => {
                    if !self.allowed() {
                        return None;
                    }
                    continue;
                }
            };
            if !self.allowed() {
                return None;
            }
            match notice {
                Ok(Notice::Updated(uuid)) => {
                    if let Some(d) = self.state.engine.device(&uuid) {
                        return Some(event("device", &super::devices::summary(&d)));
                    }
                }
                Ok(Notice::Forgotten(uuid)) => {
                    return Some(event("forgotten", &json!({ "uuid": uuid })));
                }
                Ok(Notice::Energy(_)) => {}
                Err(RecvError::Lagged(_)) => return Some(self.everything()),
                Err(RecvError::Closed) => return None,
            }
        }
    }

    fn everything(&self) -> Event {
        let devices: Vec<Value> = self
            .state
            .engine
            .devices()
            .iter()
            .map(super::devices::summary)
            .collect();
        event("devices", &json!({ "devices": devices }))
    }
}

fn event(name: &str, data: &Value) -> Event {
    Event::default().event(name).data(data.to_string())
}
