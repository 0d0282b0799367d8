//! A device's timers and auto-off rules: `/devices/{uuid}/timers` and `/triggers`, each
//! listed (GET), made (POST), changed (PATCH `/{id}`) and removed (DELETE `/{id}`). Every
//! change is written to the device and answered once the device acknowledged it; what
//! the device PUSHes afterwards keeps the store's copy in step. The errors are the family
//! routes': a bad time or day 400 naming the field, a channel the device has not (or a
//! device that keeps none) 422, an unknown device or id 404.

use super::error::ApiError;
use super::view::{body, known};
use super::AppState;
use crate::model::family::items::new_id;
use crate::model::family::timer::{DeleteTimer, NewTimer, TimerChange, TimerSpec};
use crate::model::family::trigger::{DeleteTrigger, NewTrigger, TriggerChange, TriggerSpec};
use crate::model::family::Command;
use crate::model::family::Schedules;
use crate::model::{Ability, Device};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// The schedule routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/devices/:uuid/timers",
            get(list::<Timers>).post(create::<Timers>),
        )
        .route(
            "/devices/:uuid/timers/:id",
            patch(change::<Timers>).delete(remove::<Timers>),
        )
        .route(
            "/devices/:uuid/triggers",
            get(list::<Triggers>).post(create::<Triggers>),
        )
        .route(
            "/devices/:uuid/triggers/:id",
            patch(change::<Triggers>).delete(remove::<Triggers>),
        )
}

/// Timers or auto-off rules: what the routes need to know of each.
trait Kind: Send + Sync + 'static {
    type Spec: DeserializeOwned + Send;
    type Change: DeserializeOwned + Send;
    /// `timers` / `triggers`, the list's key in answers.
    const LIST: &'static str;
    /// "timer" / "auto-off rule", for errors.
    const WHAT: &'static str;
    fn items(s: &Schedules) -> Value;
    /// The Ability that makes them writable.
    const ABILITY: Ability;
    fn has(s: &Schedules, id: &str) -> bool;
    fn create(spec: Self::Spec, id: String) -> Box<dyn Command>;
    fn change(change: Self::Change, id: String) -> Box<dyn Command>;
    fn remove(id: String) -> Box<dyn Command>;
}

struct Timers;
struct Triggers;

impl Kind for Timers {
    type Spec = TimerSpec;
    type Change = TimerChange;
    const LIST: &'static str = "timers";
    const WHAT: &'static str = "timer";
    fn items(s: &Schedules) -> Value {
        json!(s.timers)
    }
    const ABILITY: Ability = Ability::TimerX;
    fn has(s: &Schedules, id: &str) -> bool {
        s.timers.iter().any(|t| t.id == id)
    }
    fn create(spec: TimerSpec, id: String) -> Box<dyn Command> {
        let now = crate::protocol::now_secs();
        Box::new(NewTimer { spec, id, now })
    }
    fn change(change: TimerChange, id: String) -> Box<dyn Command> {
        Box::new(TimerChange { id, ..change })
    }
    fn remove(id: String) -> Box<dyn Command> {
        Box::new(DeleteTimer::new(id))
    }
}

impl Kind for Triggers {
    type Spec = TriggerSpec;
    type Change = TriggerChange;
    const LIST: &'static str = "triggers";
    const WHAT: &'static str = "auto-off rule";
    fn items(s: &Schedules) -> Value {
        json!(s.triggers)
    }
    const ABILITY: Ability = Ability::TriggerX;
    fn has(s: &Schedules, id: &str) -> bool {
        s.triggers.iter().any(|t| t.id == id)
    }
    fn create(spec: TriggerSpec, id: String) -> Box<dyn Command> {
        let now = crate::protocol::now_secs();
        Box::new(NewTrigger { spec, id, now })
    }
    fn change(change: TriggerChange, id: String) -> Box<dyn Command> {
        Box::new(TriggerChange { id, ..change })
    }
    fn remove(id: String) -> Box<dyn Command> {
        Box::new(DeleteTrigger::new(id))
    }
}

fn schedules(device: &Device) -> Schedules {
    crate::model::family::of(device)
        .schedules
        .map(|s| *s)
        .unwrap_or_default()
}

/// The list as answers show it: the items, and whether new ones can be written.
fn view<K: Kind>(device: &Device) -> Value {
    let s = schedules(device);
    let has = |a| device.ability.is_some_and(|bits| bits.has(a));
    json!({"uuid": device.uuid, K::LIST: K::items(&s), "writable": has(K::ABILITY), "sun_offset": has(Ability::SunOffset)})
}

async fn list<K: Kind>(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(view::<K>(&known(&state, &uuid)?)))
}

async fn send(state: &AppState, uuid: &str, command: &dyn Command) -> Result<Device, ApiError> {
    Ok(state
        .engine
        .command(uuid, command, state.request_timeout)
        .await?)
}

async fn create<K: Kind>(
    State(state): State<AppState>,
    Path(uuid): Path<String>,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    known(&state, &uuid)?;
    let spec: K::Spec = body(&bytes)?;
    let id = new_id();
    let device = send(&state, &uuid, K::create(spec, id.clone()).as_ref()).await?;
    let mut answer = view::<K>(&device);
    answer["id"] = json!(id);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// The device, if it holds the item `id` (else the 404 naming it).
fn holding<K: Kind>(state: &AppState, uuid: &str, id: &str) -> Result<Device, ApiError> {
    let device = known(state, uuid)?;
    if !K::has(&schedules(&device), id) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_id",
            format!("Device {uuid} has no {} with id {id}.", K::WHAT),
        ));
    }
    Ok(device)
}

async fn change<K: Kind>(
    State(state): State<AppState>,
    Path((uuid, id)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    holding::<K>(&state, &uuid, &id)?;
    let change: K::Change = body(&bytes)?;
    let device = send(&state, &uuid, K::change(change, id).as_ref()).await?;
    Ok(Json(view::<K>(&device)))
}

async fn remove<K: Kind>(
    State(state): State<AppState>,
    Path((uuid, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    holding::<K>(&state, &uuid, &id)?;
    let device = send(&state, &uuid, K::remove(id).as_ref()).await?;
    Ok(Json(view::<K>(&device)))
}
