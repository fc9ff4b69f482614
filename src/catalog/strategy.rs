//! Masking strategies: what `erasure.set_policy(tbl, col, strategy, params)` accepts, and which
//! column types each one fits. How each becomes SQL is in `plan::statements`.

use serde::Deserialize;
use serde_json::Value;

use super::schema::Column;

pub const NAMES: &str =
    "keep, null, blank, constant, year_only, placeholder, hmac, jsonb_remove, expression, now, restricted_at";

#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// Reviewed and not personal (state/UF, country, postal code): left as it is.
    Keep,
    Null,
    /// The empty string, for NOT NULL text columns.
    Blank,
    /// A fixed value (`"Xxxx"`, `false`, `0`), cast to the column's type.
    Constant(Value),
    /// January 1st of the same year.
    YearOnly,
    /// A template with `{key}` (the subject key) and `{uuid}` (a fresh UUID per row).
    Placeholder(String),
    /// Hex HMAC-SHA-256 under `erasure.hmac_key`.
    Hmac,
    /// Removes keys from a jsonb document; `a.b` is the nested path a → b.
    JsonbRemove(Vec<String>),
    /// An SQL expression over the row's columns before masking.
    Expression(String),
    /// The erasure's time (now()), for `anonymized_at` markers.
    Now,
    /// GDPR art. 18's marker: while an erasure request of the subject waits (approved, in its
    /// cooling-off window or blocked), the time the restriction began; NULL otherwise, and
    /// after the erasure. Only on the subject's own table (`plan::Plan::restriction`).
    RestrictedAt,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstantParams {
    value: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceholderParams {
    template: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonbRemoveParams {
    keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpressionParams {
    sql: String,
}

/// Why a strategy or its params were refused.
#[derive(Debug, PartialEq)]
pub enum StrategyError {
    Unknown,
    /// The params do not have the shape the strategy needs; the text says what is wrong.
    Params(String),
}

impl Strategy {
    pub fn parse(name: &str, params: &Value) -> Result<Strategy, StrategyError> {
        fn read<T: for<'de> Deserialize<'de>>(params: &Value) -> Result<T, StrategyError> {
            T::deserialize(params).map_err(|e| StrategyError::Params(e.to_string()))
        }
        let no_params = |s: Strategy| read::<NoParams>(params).map(|_| s);
        match name {
            "keep" => no_params(Strategy::Keep),
            "null" => no_params(Strategy::Null),
            "blank" => no_params(Strategy::Blank),
            "year_only" => no_params(Strategy::YearOnly),
            "hmac" => no_params(Strategy::Hmac),
            "now" => no_params(Strategy::Now),
            "restricted_at" => no_params(Strategy::RestrictedAt),
            "constant" => read::<ConstantParams>(params).map(|p| Strategy::Constant(p.value)),
            "placeholder" => {
                let p = read::<PlaceholderParams>(params)?;
                if p.template.is_empty() {
                    return Err(StrategyError::Params("\"template\" must not be empty".into()));
                }
                Ok(Strategy::Placeholder(p.template))
            }
            "jsonb_remove" => {
                let p = read::<JsonbRemoveParams>(params)?;
                if p.keys.is_empty() || p.keys.iter().any(|k| k.is_empty() || k.split('.').any(str::is_empty)) {
                    return Err(StrategyError::Params(
                        "\"keys\" must be a non-empty array of keys or dotted paths such as \"address.street\"".into(),
                    ));
                }
                Ok(Strategy::JsonbRemove(p.keys))
            }
            "expression" => {
                let p = read::<ExpressionParams>(params)?;
                if p.sql.trim().is_empty() {
                    return Err(StrategyError::Params("\"sql\" must not be empty".into()));
                }
                Ok(Strategy::Expression(p.sql))
            }
            _ => Err(StrategyError::Unknown),
        }
    }

    /// Why this strategy cannot be applied to `column`, if it cannot.
    pub fn misfit(&self, column: &Column) -> Option<String> {
        let fits = match self {
            Strategy::Null => !column.not_null,
            Strategy::Blank | Strategy::Hmac | Strategy::Placeholder(_) => column.is_text(),
            Strategy::YearOnly | Strategy::Now => column.is_date_or_timestamp(),
            Strategy::RestrictedAt => column.is_date_or_timestamp() && !column.not_null,
            Strategy::JsonbRemove(_) => column.is_jsonb(),
            Strategy::Constant(Value::Null) => !column.not_null,
            _ => true,
        };
        if fits {
            return None;
        }
        Some(match self {
            Strategy::Null | Strategy::Constant(_) => "The column is NOT NULL".to_string(),
            Strategy::Blank | Strategy::Hmac | Strategy::Placeholder(_) => {
                format!("It needs a text column, not {}", column.type_sql)
            }
            Strategy::YearOnly | Strategy::Now => {
                format!("It needs a date or timestamp column, not {}", column.type_sql)
            }
            Strategy::RestrictedAt => {
                format!("It needs a date or timestamp column that allows NULL, not {}", column.type_sql)
            }
            _ => format!("It needs a jsonb column, not {}", column.type_sql),
        })
    }

    /// Whether every erasure writes the same value (not NULL), which a UNIQUE column accepts
    /// only once.
    pub fn writes_one_value(&self) -> bool {
        match self {
            Strategy::Constant(value) => !value.is_null(),
            Strategy::Blank => true,
            Strategy::Placeholder(template) => !template.contains("{key}") && !template.contains("{uuid}"),
            _ => false,
        }
    }

    /// The constant as text, for a cast to the column's type: strings as they are, other JSON
    /// values (numbers, booleans, objects for jsonb columns) as their JSON text.
    pub fn constant_text(value: &Value) -> Option<String> {
        match value {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use super::*;
    use pgrx::prelude::*;
    use serde_json::json;

    #[pg_test]
    fn parses_each_strategy_with_its_params() {
        let cases = [
            ("keep", json!({}), Strategy::Keep),
            ("null", json!({}), Strategy::Null),
            ("constant", json!({"value": "Xxxx"}), Strategy::Constant(json!("Xxxx"))),
            ("constant", json!({"value": false}), Strategy::Constant(json!(false))),
            (
                "placeholder",
                json!({"template": "erased-{key}@invalid.example"}),
                Strategy::Placeholder("erased-{key}@invalid.example".into()),
            ),
            (
                "jsonb_remove",
                json!({"keys": ["name", "address.street"]}),
                Strategy::JsonbRemove(vec!["name".into(), "address.street".into()]),
            ),
            (
                "expression",
                json!({"sql": "coalesce(company, 'Xxxx')"}),
                Strategy::Expression("coalesce(company, 'Xxxx')".into()),
            ),
            ("now", json!({}), Strategy::Now),
            ("restricted_at", json!({}), Strategy::RestrictedAt),
        ];
        for (name, params, expected) in cases {
            assert_eq!(Strategy::parse(name, &params), Ok(expected), "{name}");
        }
    }

    #[pg_test]
    fn refuses_unknown_strategies_and_malformed_params() {
        assert_eq!(Strategy::parse("shred", &json!({})), Err(StrategyError::Unknown));
        for (name, params) in [
            ("keep", json!({"value": 1})),
            ("constant", json!({})),
            ("constant", json!("Xxxx")),
            ("placeholder", json!({"template": ""})),
            ("jsonb_remove", json!({"keys": []})),
            ("jsonb_remove", json!({"keys": ["address..street"]})),
            ("expression", json!({"sql": "  "})),
        ] {
            assert!(matches!(Strategy::parse(name, &params), Err(StrategyError::Params(_))), "{name} {params}");
        }
    }

    #[pg_test]
    fn constants_become_text_for_the_cast() {
        assert_eq!(Strategy::constant_text(&json!("Xxxx")), Some("Xxxx".into()));
        assert_eq!(Strategy::constant_text(&json!(0)), Some("0".into()));
        assert_eq!(Strategy::constant_text(&json!(false)), Some("false".into()));
        assert_eq!(Strategy::constant_text(&json!(null)), None);
    }
}
