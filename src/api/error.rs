//! The one error type at the HTTP edge: a status and `{"error":{"code","message"}}`. The
//! internal cause is logged, never returned.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::borrow::Cow;

/// An error answer: the HTTP status and the `code` and `message` of its JSON body.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status the response carries.
    pub status: StatusCode,
    /// A stable machine-readable code in snake_case, such as `unknown_device`.
    pub code: &'static str,
    /// A sentence for people, saying what went wrong.
    pub message: String,
    /// The field of the request body, or the key of the query string, at fault, when one
    /// is. Owned when it is a key the client made up (an unknown query key).
    pub field: Option<Cow<'static, str>>,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// 400: a field of the body is out of range or malformed; the body names it.
    pub fn invalid_field(field: &'static str, detail: &str) -> ApiError {
        ApiError {
            field: Some(Cow::Borrowed(field)),
            ..ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_value",
                format!("`{field}`: {detail}."),
            )
        }
    }

    /// 400 `invalid_query`: a key of the query string is unknown, given twice, or has a
    /// value that does not fit; the message and `field` name the key.
    pub fn invalid_query(field: impl Into<Cow<'static, str>>, detail: &str) -> ApiError {
        let field = field.into();
        ApiError {
            message: format!("`{field}`: {detail}."),
            field: Some(field),
            ..ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", "")
        }
    }

    /// 401: the bearer token is missing or wrong.
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid `Authorization: Bearer <token>` header is needed (`merossd account` shows the token).",
        )
    }

    /// 404: no device with this uuid is known.
    pub fn unknown_device(uuid: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_device",
            format!("No device with uuid {uuid} is known."),
        )
    }

    /// 422: the body is not JSON, or asks for what cannot be done; `code` says which.
    pub fn bad_body(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }

    /// 500: logs `cause` and answers without it.
    pub fn internal(cause: &dyn std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "API request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "The daemon could not complete the request; its log says why.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        if let Some(field) = self.field {
            body["error"]["field"] = json!(field);
        }
        (self.status, Json(body)).into_response()
    }
}

impl From<crate::engine::RequestError> for ApiError {
    fn from(e: crate::engine::RequestError) -> ApiError {
        use crate::engine::RequestError::*;
        match e {
            UnknownDevice(uuid) => ApiError::unknown_device(&uuid),
            Offline(uuid) => ApiError::new(
                StatusCode::CONFLICT,
                "device_offline",
                format!("Device {uuid} is offline; it must be connected to be asked anything."),
            ),
            Timeout(after) => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "device_timeout",
                format!("The device did not answer within {} ms.", after.as_millis()),
            ),
            DeviceError { code, .. } => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "device_error",
                match code {
                    Some(code) => format!("The device answered ERROR (code {code})."),
                    None => "The device answered ERROR.".to_owned(),
                },
            ),
            Unsupported(why) => ApiError::bad_body("unsupported", why),
            Invalid { field, detail } => ApiError::invalid_field(field, &detail),
            Superseded => ApiError::new(
                StatusCode::CONFLICT,
                "superseded",
                "A later command for the same channel replaced this one before it was sent: \
                 a channel is switched at most four times a second, and the latest wins.",
            ),
            Closed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "stopping",
                "The daemon is stopping.",
            ),
        }
    }
}
