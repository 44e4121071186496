//! Reading and writing item attributes.

use crate::error::{Result, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::str::FromStr;

/// One DynamoDB item.
pub(crate) type Item = HashMap<String, AttributeValue>;

/// A string attribute value.
pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute value.
pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// A required string attribute.
pub(crate) fn get_s<'a>(item: &'a Item, name: &'static str) -> Result<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        Some(_) => Err(StoreError::BadAttribute(name)),
        None => Err(StoreError::MissingAttribute(name)),
    }
}

/// An optional string attribute.
pub(crate) fn opt_s<'a>(item: &'a Item, name: &'static str) -> Result<Option<&'a str>> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(Some(value)),
        Some(AttributeValue::Null(_)) | None => Ok(None),
        Some(_) => Err(StoreError::BadAttribute(name)),
    }
}

/// A required number attribute.
pub(crate) fn get_n<T: FromStr>(item: &Item, name: &'static str) -> Result<T> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|_| StoreError::BadAttribute(name)),
        Some(_) => Err(StoreError::BadAttribute(name)),
        None => Err(StoreError::MissingAttribute(name)),
    }
}

/// An optional number attribute.
pub(crate) fn opt_n<T: FromStr>(item: &Item, name: &'static str) -> Result<Option<T>> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value
            .parse()
            .map(Some)
            .map_err(|_| StoreError::BadAttribute(name)),
        Some(AttributeValue::Null(_)) | None => Ok(None),
        Some(_) => Err(StoreError::BadAttribute(name)),
    }
}

/// A validated identifier read from a string attribute.
pub(crate) fn get_id<T, E>(
    item: &Item,
    name: &'static str,
    parse: impl FnOnce(String) -> Result<T, E>,
) -> Result<T> {
    parse(get_s(item, name)?.to_owned()).map_err(|_| StoreError::BadAttribute(name))
}

/// An optional boolean attribute (absent is `false`).
pub(crate) fn opt_bool(item: &Item, name: &'static str) -> Result<bool> {
    match item.get(name) {
        Some(AttributeValue::Bool(value)) => Ok(*value),
        Some(AttributeValue::Null(_)) | None => Ok(false),
        Some(_) => Err(StoreError::BadAttribute(name)),
    }
}

/// An optional map attribute.
pub(crate) fn opt_m<'a>(item: &'a Item, name: &'static str) -> Result<Option<&'a Item>> {
    match item.get(name) {
        Some(AttributeValue::M(value)) => Ok(Some(value)),
        Some(AttributeValue::Null(_)) | None => Ok(None),
        Some(_) => Err(StoreError::BadAttribute(name)),
    }
}
