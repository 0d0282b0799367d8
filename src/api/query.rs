//! Query strings, read the same way on every route that takes one: an unknown key, a key
//! given twice or a value that does not fit is 400 `invalid_query`, the key named in the
//! message and in `error.field`.

use super::error::ApiError;
use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::{StatusCode, Uri};
use serde::de::{DeserializeOwned, Visitor};
use std::borrow::Cow;

/// The most characters of a client's key or value repeated in an error.
const ECHO_CHARS: usize = 64;

/// Reads a raw query string (axum's `RawQuery`) into `T`: a struct of optional fields
/// with `#[serde(deny_unknown_fields)]`, whose field names are the keys it takes.
///
/// Each `key=value` part is checked on its own first, so that the error names the key
/// at fault, which axum's own `Query` rejection does not.
pub(super) fn parse<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    let raw = raw.unwrap_or_default();
    let keys = keys_of::<T>();
    let mut seen: Vec<&'static str> = Vec::new();
    // As `application/x-www-form-urlencoded` reads it: parts split at `&`, empty ones skipped.
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let one = uri(part)?;
        let (key, value) = Query::<Vec<(String, String)>>::try_from_uri(&one)
            .ok()
            .and_then(|Query(pairs)| pairs.into_iter().next())
            .unwrap_or_default();
        let Some(name) = keys.iter().copied().find(|k| *k == key.as_str()) else {
            return Err(unknown(&key, keys));
        };
        if seen.contains(&name) {
            return Err(ApiError::invalid_query(name, "is given more than once"));
        }
        seen.push(name);
        if let Err(e) = Query::<T>::try_from_uri(&one) {
            let detail = format!("`{}` is not a valid value ({})", echo(&value), reason(&e));
            return Err(ApiError::invalid_query(name, &detail));
        }
    }
    let whole = if raw.is_empty() {
        Uri::from_static("/")
    } else {
        uri(raw)?
    };
    Query::<T>::try_from_uri(&whole)
        .map(|Query(q)| q)
        .map_err(|e| unreadable(&reason(&e)))
}

/// A query part as the query of a URI of its own, for axum's `Query` to read.
fn uri(query: &str) -> Result<Uri, ApiError> {
    format!("/?{query}")
        .parse::<Uri>()
        .map_err(|e| unreadable(&e.to_string()))
}

/// 400 `invalid_query` for a query string that cannot be read at all (no key to name).
fn unreadable(why: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_query",
        format!("The query string could not be read: {why}."),
    )
}

/// 400 `invalid_query`: `key` is not one this route takes.
fn unknown(key: &str, keys: &[&str]) -> ApiError {
    let takes = if keys.is_empty() {
        "none".to_owned()
    } else {
        keys.iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let detail = format!("is not a query key of this route (it takes {takes})");
    ApiError::invalid_query(Cow::Owned(echo(key)), &detail)
}

/// Why serde refused a value (`invalid digit found in string`), without axum's preamble.
fn reason(e: &QueryRejection) -> String {
    std::error::Error::source(e).map_or_else(|| e.body_text(), |inner| inner.to_string())
}

/// What a client sent, cut to [`ECHO_CHARS`] characters.
fn echo(text: &str) -> String {
    if text.chars().count() <= ECHO_CHARS {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(ECHO_CHARS).collect();
        format!("{cut}…")
    }
}

/// The keys `T` takes: the field names its derived `Deserialize` asks a deserializer for.
fn keys_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // Always an error: `Fields` notes the names and stops there.
    let _ = T::deserialize(Fields(&mut fields));
    fields
}

/// A deserializer that only notes the field names a struct asks for.
struct Fields<'a>(&'a mut &'static [&'static str]);

impl<'de> serde::Deserializer<'de> for Fields<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("a query is read into a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(serde::de::Error::custom("only the field names were wanted"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}
