//! Extractors whose failures are [`AdminError`]s: a JSON body (malformed JSON
//! and unknown fields become 400 naming the field), query strings and path
//! parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::AdminError;

/// Largest request body accepted (a few thousand assignments fit easily).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// A JSON body. Every body type is `#[serde(deny_unknown_fields)]`, so a
/// misspelt field is a 400 that names it rather than a silent no-op.
#[derive(Debug, Clone)]
pub struct Body<T>(pub T);

/// Parses `bytes` as a `T`, naming the field at fault in the error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AdminError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AdminError::bad_request(
            "the request has no body; send a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        json_error(&path, &inner)
    })?;
    de.end().map_err(|e| json_error(".", &e))?;
    Ok(value)
}

/// serde_json's message without its ` at line 1 column 20` suffix.
fn bare_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) if e.line() > 0 => text[..at].to_owned(),
        _ => text,
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() || path == "." {
        name.to_owned()
    } else if path == name || path.ends_with(&format!(".{name}")) {
        path.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// The name between the first pair of backticks of a serde message.
fn quoted(message: &str) -> Option<&str> {
    let rest = &message[message.find('`')? + 1..];
    Some(&rest[..rest.find('`')?])
}

fn json_error(path: &str, e: &serde_json::Error) -> AdminError {
    use serde_json::error::Category;
    let message = bare_message(e);
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => AdminError::bad_request(format!(
            "the body is not valid JSON: {message} (line {}, column {})",
            e.line(),
            e.column()
        )),
        Category::Data => {
            let field =
                if message.starts_with("unknown field") || message.starts_with("missing field") {
                    quoted(&message).map_or_else(|| path.to_owned(), |name| join(path, name))
                } else {
                    path.to_owned()
                };
            if field.is_empty() || field == "." {
                AdminError::bad_request(format!("the body is not what this route takes: {message}"))
            } else if message.contains(&format!("`{}`", field.rsplit('.').next().unwrap_or(&field)))
                && !field.contains(['.', '['])
            {
                AdminError::invalid(field, message)
            } else {
                AdminError::invalid(field.clone(), format!("`{field}`: {message}"))
            }
        }
    }
}

impl<S, T> FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AdminError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            AdminError::bad_request(format!("cannot read the request body: {}", e.body_text()))
        })?;
        parse_json(&bytes).map(Body)
    }
}

/// A query string, `#[serde(deny_unknown_fields)]` too.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| {
                let text = e.body_text();
                let text = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text)
                    .to_owned();
                match quoted(&text) {
                    Some(name) => {
                        AdminError::invalid(name.to_owned(), format!("query parameter: {text}"))
                    }
                    None => AdminError::bad_request(format!("query string: {text}")),
                }
            })
    }
}

/// Path parameters (percent-decoded).
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| AdminError::bad_request(format!("path: {}", e.body_text())))
    }
}

/// `Option<Option<T>>` for PATCH fields: absent is `None`, `null` is `Some(None)`.
pub fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(de).map(Some)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        role: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        #[serde(default)]
        items: Vec<Inner>,
    }

    fn err(body: &str) -> AdminError {
        parse_json::<Outer>(body.as_bytes()).unwrap_err()
    }

    #[test]
    fn names_the_field() {
        let e = err(r#"{"name":"x","nmae":"y"}"#);
        assert_eq!(e.field.as_deref(), Some("nmae"), "{e:?}");
        let e = err(r#"{"name":"x","items":[{"role":"a"},{"role":"b","scope":1}]}"#);
        assert_eq!(e.field.as_deref(), Some("items[1].scope"), "{e:?}");
        let e = err(r#"{"items":[]}"#);
        assert_eq!(e.field.as_deref(), Some("name"), "{e:?}");
        let e = err(r#"{"name":3}"#);
        assert_eq!(e.field.as_deref(), Some("name"), "{e:?}");
        let e = err(r#"{"name":"#);
        assert_eq!(e.field, None);
        assert!(e.message.contains("not valid JSON"), "{e:?}");
        let e = err("");
        assert!(e.message.contains("no body"), "{e:?}");
        let e = err(r#"{"name":"x"} {}"#);
        assert!(e.message.contains("not valid JSON"), "{e:?}");
    }
}
