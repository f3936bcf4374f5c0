//! Reading references from JSON (errors naming the field path) and validating them.

use std::collections::HashSet;
use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::{
    Calibration, CategoricalProfile, FeatureKind, FeatureProfile, NumericProfile,
    OLDEST_SCHEMA_VERSION, Reference, ReferenceError, SCHEMA_VERSION,
};
use crate::drift::stats::DriftMethod;

/// Whether this code reads JSON of layout `version`.
fn readable(version: u64) -> bool {
    (u64::from(OLDEST_SCHEMA_VERSION)..=u64::from(SCHEMA_VERSION)).contains(&version)
}

/// Largest tolerated distance of a profile's proportions sum from 1.
pub(super) const SUM_TOLERANCE: f64 = 1e-6;

pub(super) fn from_json(text: &str) -> Result<Reference, ReferenceError> {
    // First pass: syntax (with line and column), an object at the top, and the version,
    // before the layout is trusted.
    let mut de = serde_json::Deserializer::from_str(text);
    let probe: serde_json::Map<String, serde_json::Value> =
        serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
    de.end().map_err(|e| json_error(".".to_owned(), e))?;
    if let Some(found) = probe
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
        && !readable(found)
    {
        return Err(ReferenceError::UnsupportedSchemaVersion {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    drop(probe);
    let mut de = serde_json::Deserializer::from_str(text);
    let mut reference: Reference = serde_path_to_error::deserialize(&mut de).map_err(path_error)?;
    // Older layouts lack only optional fields, read as absent: the reference is now one of
    // the current layout.
    if readable(u64::from(reference.schema_version)) {
        reference.schema_version = SCHEMA_VERSION;
    }
    reference.validate()?;
    Ok(reference)
}

fn path_error(error: serde_path_to_error::Error<serde_json::Error>) -> ReferenceError {
    json_error(error.path().to_string(), error.into_inner())
}

fn json_error(mut path: String, inner: serde_json::Error) -> ReferenceError {
    let (line, column) = (inner.line(), inner.column());
    let mut message = inner.to_string();
    if let Some(bare) = message.strip_suffix(&format!(" at line {line} column {column}")) {
        message = bare.to_owned();
    }
    // A profile read from a buffered object carries its inner path in the message.
    if let Some((inner, rest)) = message
        .strip_prefix(INNER_PATH)
        .and_then(|m| m.split_once(INNER_PATH))
        .map(|(inner, rest)| (inner.to_owned(), rest.to_owned()))
    {
        if inner != "." {
            path = format!("{path}.{inner}");
        }
        message = rest;
    }
    // serde reports a missing field at its parent; name the field itself.
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|m| m.strip_suffix('`'))
    {
        path = if path == "." {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        };
    }
    ReferenceError::Json {
        path,
        line,
        column,
        message,
    }
}

/// Delimits the field path inside a buffered feature object in an error message.
const INNER_PATH: &str = "\u{1f}";

/// Reads a profile out of a buffered feature object, keeping the path inside it.
fn from_buffered<'de, T: Deserialize<'de>, E: de::Error>(value: serde_json::Value) -> Result<T, E> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        E::custom(format_args!(
            "{INNER_PATH}{path}{INNER_PATH}{}",
            error.into_inner()
        ))
    })
}

/// Internally tagged by `kind`, like the derived form, but without buffering when `kind` comes
/// first (as [`Reference::to_json`] writes it): the profile is then read straight from the
/// document, so errors keep their full field path and position.
impl<'de> Deserialize<'de> for FeatureProfile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FeatureProfileVisitor)
    }
}

struct FeatureProfileVisitor;

impl<'de> Visitor<'de> for FeatureProfileVisitor {
    type Value = FeatureProfile;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a feature profile object with a `kind` field")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FeatureProfile, A::Error> {
        let Some(first) = map.next_key::<String>()? else {
            return Err(de::Error::missing_field("kind"));
        };
        if first == "kind" {
            let kind: FeatureKind = map.next_value()?;
            let rest = MapAccessDeserializer::new(map);
            return Ok(match kind {
                FeatureKind::Numeric => FeatureProfile::Numeric(NumericProfile::deserialize(rest)?),
                FeatureKind::Categorical => {
                    FeatureProfile::Categorical(CategoricalProfile::deserialize(rest)?)
                }
            });
        }
        // `kind` elsewhere: buffer the object, then read the profile from it.
        let mut object = serde_json::Map::new();
        object.insert(first, map.next_value()?);
        while let Some((key, value)) = map.next_entry::<String, serde_json::Value>()? {
            object.insert(key, value);
        }
        let kind = object
            .remove("kind")
            .ok_or_else(|| de::Error::missing_field("kind"))?;
        let kind = FeatureKind::deserialize(kind).map_err(|error| {
            de::Error::custom(format_args!("{INNER_PATH}kind{INNER_PATH}{error}"))
        })?;
        let object = serde_json::Value::Object(object);
        Ok(match kind {
            FeatureKind::Numeric => FeatureProfile::Numeric(from_buffered(object)?),
            FeatureKind::Categorical => FeatureProfile::Categorical(from_buffered(object)?),
        })
    }
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ReferenceError {
    ReferenceError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

pub(super) fn validate(reference: &Reference) -> Result<(), ReferenceError> {
    if reference.schema_version != SCHEMA_VERSION {
        return Err(ReferenceError::UnsupportedSchemaVersion {
            found: u64::from(reference.schema_version),
            supported: SCHEMA_VERSION,
        });
    }
    let mut names = HashSet::new();
    for (index, feature) in reference.features.iter().enumerate() {
        let path = format!("features[{index}]");
        let name = feature.name();
        if name.is_empty() {
            return Err(invalid(format!("{path}.name"), "empty feature name"));
        }
        if !names.insert(name) {
            return Err(invalid(
                format!("{path}.name"),
                format!("duplicate feature name `{name}`"),
            ));
        }
        let (count, missing) = match feature {
            FeatureProfile::Numeric(profile) => {
                validate_numeric(profile, &path)?;
                (profile.count, profile.missing)
            }
            FeatureProfile::Categorical(profile) => {
                validate_categorical(profile, &path)?;
                (profile.count, profile.missing)
            }
        };
        if count.checked_add(missing) != Some(reference.rows) {
            return Err(invalid(
                format!("{path}.count"),
                format!(
                    "count {count} + missing {missing} differs from the reference's {} rows",
                    reference.rows
                ),
            ));
        }
    }
    if let Some(label) = &reference.label {
        validate_categorical(label, "label")?;
    }
    if let Some(confidence) = &reference.confidence {
        validate_numeric(confidence, "confidence")?;
    }
    Ok(())
}

fn validate_numeric(profile: &NumericProfile, path: &str) -> Result<(), ReferenceError> {
    if let Some((i, edge)) = profile
        .edges
        .iter()
        .enumerate()
        .find(|(_, e)| !e.is_finite())
    {
        return Err(invalid(
            format!("{path}.edges"),
            format!("edge {i} is not finite ({edge})"),
        ));
    }
    if let Some(i) = profile.edges.windows(2).position(|pair| pair[0] >= pair[1]) {
        return Err(invalid(
            format!("{path}.edges"),
            format!(
                "edges must be strictly increasing: edge {} ({}) >= edge {} ({})",
                i,
                profile.edges[i],
                i + 1,
                profile.edges[i + 1]
            ),
        ));
    }
    check_proportions(&profile.proportions, profile.bins(), "edges + 2", path)?;
    for (field, value) in [
        ("mean", profile.mean),
        ("std", profile.std),
        ("min", profile.min),
        ("max", profile.max),
    ] {
        if !value.is_finite() {
            return Err(invalid(
                format!("{path}.{field}"),
                format!("{value} is not finite"),
            ));
        }
    }
    if let Some(means) = profile.tail_means {
        let [low, high] = means;
        let ordered = match (profile.edges.first(), profile.edges.last()) {
            (Some(first), Some(last)) => low <= *first && high >= *last,
            _ => false,
        };
        if !(low.is_finite() && high.is_finite() && ordered) {
            return Err(invalid(
                format!("{path}.tail_means"),
                format!(
                    "[{low}, {high}] must be finite, the first at or below the first edge and the second at or above the last (and a profile without edges has none)"
                ),
            ));
        }
    }
    if let Some(calibration) = &profile.calibration {
        validate_calibration(calibration, path)?;
    }
    if profile.std < 0.0 {
        return Err(invalid(
            format!("{path}.std"),
            format!("negative std {}", profile.std),
        ));
    }
    if profile.min > profile.max {
        return Err(invalid(
            format!("{path}.min"),
            format!("min {} is above max {}", profile.min, profile.max),
        ));
    }
    if profile.count == 0 && !profile.edges.is_empty() {
        return Err(invalid(
            format!("{path}.edges"),
            "a profile without values has no edges",
        ));
    }
    check_rows(profile.count, profile.missing, path)
}

fn validate_categorical(profile: &CategoricalProfile, path: &str) -> Result<(), ReferenceError> {
    let mut seen = HashSet::new();
    if let Some(duplicate) = profile.categories.iter().find(|c| !seen.insert(c.as_str())) {
        return Err(invalid(
            format!("{path}.categories"),
            format!("duplicate category `{duplicate}`"),
        ));
    }
    check_proportions(&profile.proportions, profile.bins(), "categories + 2", path)?;
    if let Some(calibration) = &profile.calibration {
        validate_calibration(calibration, path)?;
    }
    check_rows(profile.count, profile.missing, path)
}

fn validate_calibration(calibration: &Calibration, path: &str) -> Result<(), ReferenceError> {
    let path = format!("{path}.calibration");
    if calibration.window == 0 {
        return Err(invalid(format!("{path}.window"), "must be at least 1"));
    }
    if !(calibration.quantile > 0.0 && calibration.quantile < 1.0) {
        return Err(invalid(
            format!("{path}.quantile"),
            format!("{} is not in (0, 1)", calibration.quantile),
        ));
    }
    for (name, threshold) in &calibration.thresholds {
        if DriftMethod::from_name(name).is_none() {
            return Err(invalid(
                format!("{path}.thresholds.{name}"),
                format!("unknown drift method `{name}`"),
            ));
        }
        if !(threshold.is_finite() && *threshold >= 0.0) {
            return Err(invalid(
                format!("{path}.thresholds.{name}"),
                format!("{threshold} is not a finite threshold >= 0"),
            ));
        }
    }
    Ok(())
}

fn check_rows(count: u64, missing: u64, path: &str) -> Result<(), ReferenceError> {
    if count == 0 && missing == 0 {
        return Err(invalid(
            format!("{path}.count"),
            "the profile counts no reference rows",
        ));
    }
    Ok(())
}

fn check_proportions(
    proportions: &[f64],
    expected: usize,
    rule: &str,
    path: &str,
) -> Result<(), ReferenceError> {
    let path = format!("{path}.proportions");
    if proportions.len() != expected {
        return Err(invalid(
            path,
            format!(
                "expected {expected} proportions ({rule}), found {}",
                proportions.len()
            ),
        ));
    }
    if let Some((i, p)) = proportions
        .iter()
        .enumerate()
        .find(|(_, p)| !(0.0..=1.0).contains(*p))
    {
        return Err(invalid(
            path,
            format!("proportion {i} ({p}) is outside [0, 1]"),
        ));
    }
    let sum: f64 = proportions.iter().sum();
    if (sum - 1.0).abs() > SUM_TOLERANCE {
        return Err(invalid(path, format!("proportions sum to {sum}, not 1")));
    }
    Ok(())
}
