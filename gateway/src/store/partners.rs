//! Partners (one adapter connection each, with its access policy) and their subscriptions.
//!
//! A partner row holds the adapter table as configured — credentials only as references — and
//! the policy saying which passports and which fields the partner may receive. The policy's
//! passport selector is evaluated here too, because subscriptions are matched inside the
//! transaction that writes a passport version.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Store, StoreError, audit, from_millis, now_millis};

/// Where a partner stands. Deliveries go only to `verified` and `trusted-unchecked` partners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartnerState {
    /// Registered, not yet checked by the conformance suite.
    Registered,
    /// Passed the conformance suite.
    Verified,
    /// Failed the conformance suite.
    Failed,
    /// The operator vouches for it without a conformance run.
    TrustedUnchecked,
}

impl PartnerState {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            PartnerState::Registered => "registered",
            PartnerState::Verified => "verified",
            PartnerState::Failed => "failed",
            PartnerState::TrustedUnchecked => "trusted-unchecked",
        }
    }

    /// Whether passports may be pushed to a partner in this state.
    pub fn may_receive_deliveries(self) -> bool {
        matches!(
            self,
            PartnerState::Verified | PartnerState::TrustedUnchecked
        )
    }
}

impl fmt::Display for PartnerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PartnerState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "registered" => Ok(PartnerState::Registered),
            "verified" => Ok(PartnerState::Verified),
            "failed" => Ok(PartnerState::Failed),
            "trusted-unchecked" => Ok(PartnerState::TrustedUnchecked),
            other => Err(format!(
                "unknown partner state {other:?}: expected registered, verified, failed or trusted-unchecked"
            )),
        }
    }
}

/// Which passports: every given condition must hold (like the passport list filter). Empty
/// selects every passport.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PassportSelector {
    /// The main material by mass is of this polymer ([`polymer_matches`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polymer: Option<String>,
    /// Some product id's value, or its `scheme:value`, starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id_prefix: Option<String>,
    /// The main material by mass (of `polymer`, if given) has at least this recycled share (0–1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_recycled_share: Option<f64>,
    /// The passport id is one of these (`urn:uuid:…`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
}

/// Whether a material's ISO 1043-1 symbol is of the polymer `wanted`: the symbol itself, a blend
/// whose first (matrix) component it is (`PP` → `PP+EPDM-T15`), or it with a qualifier or filler
/// (`PE` → `PE-HD`, `PA6` → `PA6-GF30`). Case-sensitive, as the symbols are. The store's search
/// applies the same rule in SQL, so a partner's policy and its search agree.
pub fn polymer_matches(symbol: &str, wanted: &str) -> bool {
    symbol
        .strip_prefix(wanted)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('+') || rest.starts_with('-'))
}

impl PassportSelector {
    /// Whether a passport version with these product ids `(scheme, value)` and main materials
    /// `(polymer, total recycled share)` (as [`crate::exchange::selector_inputs`] gives them) is
    /// selected.
    pub fn matches(
        &self,
        passport_id: &str,
        product_ids: &[(String, String)],
        materials: &[(String, f64)],
    ) -> bool {
        if !self.ids.is_empty() && !self.ids.iter().any(|id| id == passport_id) {
            return false;
        }
        if let Some(prefix) = &self.product_id_prefix {
            let hit = product_ids.iter().any(|(scheme, value)| {
                value.starts_with(prefix.as_str())
                    || format!("{scheme}:{value}").starts_with(prefix.as_str())
            });
            if !hit {
                return false;
            }
        }
        if self.polymer.is_some() || self.min_recycled_share.is_some() {
            let hit = materials.iter().any(|(polymer, share)| {
                self.polymer
                    .as_ref()
                    .is_none_or(|p| polymer_matches(polymer, p))
                    && self.min_recycled_share.is_none_or(|min| *share >= min)
            });
            if !hit {
                return false;
            }
        }
        true
    }

    /// Problems with the selector itself, as `(member, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if let Some(share) = self.min_recycled_share
            && !(share.is_finite() && (0.0..=1.0).contains(&share))
        {
            problems.push((
                "minRecycledShare",
                format!("must be a share between 0 and 1, got {share}"),
            ));
        }
        if self.polymer.as_deref().is_some_and(|p| p.trim().is_empty()) {
            problems.push(("polymer", "must not be empty".to_owned()));
        }
        for id in &self.ids {
            if id.parse::<dpp_schemas::UrnUuid>().is_err() {
                problems.push(("ids", format!("{id:?} is not a urn:uuid passport id")));
            }
        }
        problems
    }
}

/// Which fields, as JSON pointers into the canonical passport where `*` matches any array
/// element or object member. `allow` (when given) keeps only those subtrees; `deny` then removes
/// its subtrees.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldPolicy {
    /// Only these subtrees are sent (every field when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow: Option<Vec<String>>,
    /// These subtrees are never sent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

impl FieldPolicy {
    /// Whether the policy lets every field through.
    pub fn is_open(&self) -> bool {
        self.allow.is_none() && self.deny.is_empty()
    }
}

/// What a partner may receive: applied before mapping on every push.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessPolicy {
    /// Which passports.
    #[serde(default)]
    pub passports: PassportSelector,
    /// Which fields.
    #[serde(default)]
    pub fields: FieldPolicy,
}

/// How long the gateway keeps a partner's pulled passports and waits for them, in seconds.
/// Members left out take the gateway's defaults (`PullPolicy::default()` in the exchange engine).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PullSettings {
    /// A fetched passport is served from the cache this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds: Option<i64>,
    /// A remote 404 is remembered this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative_ttl_seconds: Option<i64>,
    /// After the TTL, the last good copy may stand in (marked stale) this long while the remote
    /// fails; 0 never serves a stale copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_if_error_seconds: Option<i64>,
    /// Longest wait for one upstream fetch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
}

impl PullSettings {
    /// Longest `ttlSeconds`: a week.
    pub const MAX_TTL_SECONDS: i64 = 7 * 24 * 3600;
    /// Longest `negativeTtlSeconds`: a day.
    pub const MAX_NEGATIVE_TTL_SECONDS: i64 = 24 * 3600;
    /// Longest `staleIfErrorSeconds`: 30 days.
    pub const MAX_STALE_IF_ERROR_SECONDS: i64 = 30 * 24 * 3600;
    /// Longest `timeoutSeconds`: two minutes.
    pub const MAX_TIMEOUT_SECONDS: i64 = 120;

    /// Problems with the settings, as `(member, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let members = [
            ("ttlSeconds", self.ttl_seconds, 1, Self::MAX_TTL_SECONDS),
            (
                "negativeTtlSeconds",
                self.negative_ttl_seconds,
                1,
                Self::MAX_NEGATIVE_TTL_SECONDS,
            ),
            (
                "staleIfErrorSeconds",
                self.stale_if_error_seconds,
                0,
                Self::MAX_STALE_IF_ERROR_SECONDS,
            ),
            (
                "timeoutSeconds",
                self.timeout_seconds,
                1,
                Self::MAX_TIMEOUT_SECONDS,
            ),
        ];
        members
            .into_iter()
            .filter_map(|(member, value, min, max)| {
                let value = value?;
                (!(min..=max).contains(&value)).then(|| {
                    (
                        member,
                        format!("must be {min} to {max} seconds, got {value}"),
                    )
                })
            })
            .collect()
    }
}

/// How hard a partner may call the partner-facing API (`/partner/v1`). Members left out take the
/// gateway's `[inbound]` defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InboundLimits {
    /// Sustained requests per second (a token bucket refilled at this rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_second: Option<f64>,
    /// Requests the bucket holds: how many may come at once after a quiet spell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// Requests of this partner being answered at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
}

impl InboundLimits {
    /// Highest `requestsPerSecond`.
    pub const MAX_RATE: f64 = 100_000.0;
    /// Highest `burst` and `maxConcurrent`.
    pub const MAX_COUNT: u32 = 100_000;

    /// Problems with the limits, as `(member, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if let Some(rate) = self.requests_per_second
            && !(rate.is_finite() && (0.001..=Self::MAX_RATE).contains(&rate))
        {
            problems.push((
                "requestsPerSecond",
                format!(
                    "must be 0.001 to {} requests per second, got {rate}",
                    Self::MAX_RATE
                ),
            ));
        }
        for (member, value) in [
            ("burst", self.burst),
            ("maxConcurrent", self.max_concurrent),
        ] {
            if let Some(value) = value
                && !(1..=Self::MAX_COUNT).contains(&value)
            {
                problems.push((
                    member,
                    format!("must be 1 to {}, got {value}", Self::MAX_COUNT),
                ));
            }
        }
        problems
    }
}

/// A partner as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerRecord {
    /// Unique slug.
    pub name: String,
    /// Adapter `type`, e.g. `ouranos`.
    pub adapter_type: String,
    /// The remote's base URL.
    pub endpoint: String,
    /// The rest of the adapter table (credentials only by reference).
    pub settings: serde_json::Map<String, Value>,
    /// Hosts the partner's HTTP client may reach even when they are not public (SSRF allow-list).
    pub allowed_hosts: Vec<String>,
    /// What the partner may receive.
    pub policy: AccessPolicy,
    /// How its passports are pulled (members given at registration; defaults fill the rest).
    pub pull: PullSettings,
    /// How hard it may call the partner-facing API (members given at registration).
    pub limits: InboundLimits,
    /// Where it stands.
    pub state: PartnerState,
    /// Grows with every change of the row.
    pub revision: i64,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl PartnerRecord {
    /// The whole adapter table, as the adapter's `validate` takes it.
    pub fn adapter_config(&self) -> Value {
        let mut table = self.settings.clone();
        table.insert("type".into(), Value::String(self.adapter_type.clone()));
        table.insert("endpoint".into(), Value::String(self.endpoint.clone()));
        Value::Object(table)
    }
}

/// A standing order: every new version matching `filter` is queued for `partner`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// Its id (`urn:uuid:` form is not used; a plain UUID).
    pub id: String,
    /// The partner.
    pub partner: String,
    /// Which passports.
    pub filter: PassportSelector,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

pub(super) const PARTNER_COLUMNS: &str = "name, adapter_type, endpoint, settings_json, allowed_hosts, \
                               policy_json, pull_json, limits_json, state, revision, \
                               created_at, updated_at";

fn corrupt(what: &str, e: impl fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

pub(super) fn partner_from_row(row: &AnyRow) -> Result<PartnerRecord, StoreError> {
    let settings: String = row.try_get("settings_json")?;
    let hosts: String = row.try_get("allowed_hosts")?;
    let policy: String = row.try_get("policy_json")?;
    let pull: String = row.try_get("pull_json")?;
    let limits: String = row.try_get("limits_json")?;
    let state: String = row.try_get("state")?;
    Ok(PartnerRecord {
        name: row.try_get("name")?,
        adapter_type: row.try_get("adapter_type")?,
        endpoint: row.try_get("endpoint")?,
        settings: serde_json::from_str(&settings).map_err(|e| corrupt("partner settings", e))?,
        allowed_hosts: serde_json::from_str(&hosts)
            .map_err(|e| corrupt("partner allowed hosts", e))?,
        policy: serde_json::from_str(&policy).map_err(|e| corrupt("partner policy", e))?,
        pull: serde_json::from_str(&pull).map_err(|e| corrupt("partner pull settings", e))?,
        limits: serde_json::from_str(&limits).map_err(|e| corrupt("partner limits", e))?,
        state: state.parse().map_err(|e| corrupt("partner state", e))?,
        revision: row.try_get("revision")?,
        created_at: from_millis(row.try_get("created_at")?)?,
        updated_at: from_millis(row.try_get("updated_at")?)?,
    })
}

fn to_json(what: &str, value: &impl Serialize) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::InvalidInput(format!("{what}: {e}")))
}

impl Store {
    /// Stores a new partner (`revision`, `created_at` and `updated_at` of `p` are ignored);
    /// [`StoreError::Duplicate`] if the name is taken.
    pub async fn insert_partner(
        &self,
        p: &PartnerRecord,
        actor: &str,
    ) -> Result<PartnerRecord, StoreError> {
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO partners (name, adapter_type, endpoint, settings_json, allowed_hosts, \
             policy_json, pull_json, limits_json, state, revision, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $10) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&p.name)
        .bind(&p.adapter_type)
        .bind(&p.endpoint)
        .bind(to_json("settings", &p.settings)?)
        .bind(to_json("allowed hosts", &p.allowed_hosts)?)
        .bind(to_json("policy", &p.policy)?)
        .bind(to_json("pull settings", &p.pull)?)
        .bind(to_json("limits", &p.limits)?)
        .bind(p.state.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(StoreError::Duplicate);
        }
        audit::insert(
            &mut tx,
            now,
            actor,
            "partner.create",
            &format!("partner:{}", p.name),
        )
        .await?;
        tx.commit().await?;
        let stored = from_millis(now)?;
        Ok(PartnerRecord {
            revision: 1,
            created_at: stored,
            updated_at: stored,
            ..p.clone()
        })
    }

    /// One partner.
    pub async fn partner(&self, name: &str) -> Result<Option<PartnerRecord>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PARTNER_COLUMNS} FROM partners WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(partner_from_row).transpose()
    }

    /// Every partner, by name.
    pub async fn partners(&self) -> Result<Vec<PartnerRecord>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PARTNER_COLUMNS} FROM partners ORDER BY name"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(partner_from_row).collect()
    }

    /// Replaces partner `p.name`'s registration if it is still at `revision` (the one the caller
    /// read): [`StoreError::NotFound`] without such a partner, [`StoreError::VersionConflict`]
    /// when another change came first. `created_at` stays; the revision grows.
    pub async fn update_partner(
        &self,
        p: &PartnerRecord,
        revision: i64,
        actor: &str,
    ) -> Result<PartnerRecord, StoreError> {
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE partners SET adapter_type = $1, endpoint = $2, settings_json = $3,              allowed_hosts = $4, policy_json = $5, pull_json = $6, limits_json = $7, state = $8,              revision = revision + 1, updated_at = $9 WHERE name = $10 AND revision = $11",
        )
        .bind(&p.adapter_type)
        .bind(&p.endpoint)
        .bind(to_json("settings", &p.settings)?)
        .bind(to_json("allowed hosts", &p.allowed_hosts)?)
        .bind(to_json("policy", &p.policy)?)
        .bind(to_json("pull settings", &p.pull)?)
        .bind(to_json("limits", &p.limits)?)
        .bind(p.state.as_str())
        .bind(now)
        .bind(&p.name)
        .bind(revision)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            let current: Option<i64> =
                sqlx::query_scalar("SELECT revision FROM partners WHERE name = $1")
                    .bind(&p.name)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match current {
                None => StoreError::NotFound,
                Some(current) => StoreError::VersionConflict { current },
            });
        }
        audit::insert(
            &mut tx,
            now,
            actor,
            "partner.update",
            &format!("partner:{}", p.name),
        )
        .await?;
        tx.commit().await?;
        self.partner(&p.name).await?.ok_or(StoreError::NotFound)
    }

    /// Moves a partner to `state` (the conformance suite sets `verified` / `failed`).
    pub async fn set_partner_state(
        &self,
        name: &str,
        state: PartnerState,
        actor: &str,
    ) -> Result<(), StoreError> {
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        let changed = sqlx::query(
            "UPDATE partners SET state = $1, revision = revision + 1, updated_at = $2 \
             WHERE name = $3",
        )
        .bind(state.as_str())
        .bind(now)
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound);
        }
        audit::insert(
            &mut tx,
            now,
            actor,
            &format!("partner.state.{state}"),
            &format!("partner:{name}"),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a partner, its subscriptions and its API tokens; its undelivered outbox items become `dead`
    /// ("partner removed"), so nothing is sent to a partner that no longer exists.
    /// [`StoreError::NotFound`] if there is no such partner.
    pub async fn delete_partner(&self, name: &str, actor: &str) -> Result<(), StoreError> {
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        for table in ["subscriptions", "partner_tokens"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE partner = $1"
            )))
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        let deleted = sqlx::query("DELETE FROM partners WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "UPDATE outbox SET state = 'dead', last_error = 'partner removed', \
             lease_owner = NULL, lease_until = NULL, updated_at = $1 \
             WHERE partner = $2 AND state IN ('queued', 'failed', 'in-flight')",
        )
        .bind(now)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        audit::insert(
            &mut tx,
            now,
            actor,
            "partner.delete",
            &format!("partner:{name}"),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds a subscription for an existing partner ([`StoreError::NotFound`] otherwise).
    pub async fn insert_subscription(
        &self,
        partner: &str,
        filter: &PassportSelector,
        actor: &str,
    ) -> Result<Subscription, StoreError> {
        let now = now_millis();
        let id = uuid::Uuid::now_v7().to_string();
        let mut tx = self.begin_write().await?;
        let exists: Option<String> =
            sqlx::query_scalar("SELECT name FROM partners WHERE name = $1")
                .bind(partner)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "INSERT INTO subscriptions (id, partner, filter_json, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&id)
        .bind(partner)
        .bind(to_json("filter", filter)?)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit::insert(
            &mut tx,
            now,
            actor,
            "subscription.create",
            &format!("partner:{partner}"),
        )
        .await?;
        tx.commit().await?;
        Ok(Subscription {
            id,
            partner: partner.to_owned(),
            filter: filter.clone(),
            created_at: from_millis(now)?,
        })
    }

    /// Every subscription, oldest first; only `partner`'s when given.
    pub async fn subscriptions(
        &self,
        partner: Option<&str>,
    ) -> Result<Vec<Subscription>, StoreError> {
        let rows =
            match partner {
                Some(p) => {
                    sqlx::query(
                        "SELECT id, partner, filter_json, created_at FROM subscriptions \
                 WHERE partner = $1 ORDER BY id",
                    )
                    .bind(p)
                    .fetch_all(&self.pool)
                    .await?
                }
                None => sqlx::query(
                    "SELECT id, partner, filter_json, created_at FROM subscriptions ORDER BY id",
                )
                .fetch_all(&self.pool)
                .await?,
            };
        rows.iter()
            .map(|row| {
                let filter: String = row.try_get("filter_json")?;
                Ok(Subscription {
                    id: row.try_get("id")?,
                    partner: row.try_get("partner")?,
                    filter: serde_json::from_str(&filter)
                        .map_err(|e| corrupt("subscription filter", e))?,
                    created_at: from_millis(row.try_get("created_at")?)?,
                })
            })
            .collect()
    }

    /// Removes a subscription; [`StoreError::NotFound`] if there is none with this id.
    pub async fn delete_subscription(&self, id: &str, actor: &str) -> Result<(), StoreError> {
        let now = now_millis();
        let mut tx = self.begin_write().await?;
        let deleted = sqlx::query("DELETE FROM subscriptions WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            return Err(StoreError::NotFound);
        }
        audit::insert(
            &mut tx,
            now,
            actor,
            "subscription.delete",
            &format!("subscription:{id}"),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<(String, String)> {
        vec![("gtin".into(), "04012345000009".into())]
    }

    #[test]
    fn selector_conditions_all_hold() {
        let materials = vec![("PP".to_owned(), 0.3), ("PE-HD".to_owned(), 0.9)];
        let id = "urn:uuid:0b6f0d5e-7a51-4f35-9a1a-2f1f2c3d4e5f";
        assert!(PassportSelector::default().matches(id, &ids(), &materials));
        let pp_30 = PassportSelector {
            polymer: Some("PP".into()),
            min_recycled_share: Some(0.3),
            ..Default::default()
        };
        assert!(pp_30.matches(id, &ids(), &materials));
        let pp_50 = PassportSelector {
            min_recycled_share: Some(0.5),
            ..pp_30.clone()
        };
        assert!(!pp_50.matches(id, &ids(), &materials), "PP share is 0.3");
        let by_prefix = PassportSelector {
            product_id_prefix: Some("gtin:0401".into()),
            ..Default::default()
        };
        assert!(by_prefix.matches(id, &ids(), &materials));
        assert!(!by_prefix.matches(id, &[], &materials));
        let by_id = PassportSelector {
            ids: vec!["urn:uuid:00000000-0000-4000-8000-000000000000".into()],
            ..Default::default()
        };
        assert!(!by_id.matches(id, &ids(), &materials));
    }

    #[test]
    fn polymer_means_the_symbol_a_blend_matrix_or_a_qualified_form() {
        for (symbol, wanted) in [
            ("PP", "PP"),
            ("PP+EPDM-T15", "PP"),
            ("PE-HD", "PE"),
            ("PA6-GF30", "PA6"),
        ] {
            assert!(polymer_matches(symbol, wanted), "{symbol} is {wanted}");
        }
        for (symbol, wanted) in [
            ("PET", "PE"),
            ("PP+EPDM-T15", "EPDM"),
            ("PA66", "PA6"),
            ("pp", "PP"),
            ("PP", "PP+EPDM"),
        ] {
            assert!(!polymer_matches(symbol, wanted), "{symbol} is not {wanted}");
        }
    }

    #[test]
    fn selector_problems_name_the_member() {
        let bad = PassportSelector {
            min_recycled_share: Some(1.5),
            ids: vec!["nope".into()],
            ..Default::default()
        };
        let members: Vec<_> = bad.problems().into_iter().map(|(m, _)| m).collect();
        assert_eq!(members, vec!["minRecycledShare", "ids"]);
    }

    #[test]
    fn pull_settings_problems_name_each_member_out_of_range() {
        assert!(PullSettings::default().problems().is_empty());
        let edge = PullSettings {
            ttl_seconds: Some(PullSettings::MAX_TTL_SECONDS),
            negative_ttl_seconds: Some(1),
            stale_if_error_seconds: Some(0),
            timeout_seconds: Some(PullSettings::MAX_TIMEOUT_SECONDS),
        };
        assert!(edge.problems().is_empty(), "{:?}", edge.problems());
        let bad = PullSettings {
            ttl_seconds: Some(0),
            negative_ttl_seconds: Some(-5),
            stale_if_error_seconds: Some(PullSettings::MAX_STALE_IF_ERROR_SECONDS + 1),
            timeout_seconds: Some(3600),
        };
        let problems = bad.problems();
        let members: Vec<_> = problems.iter().map(|(m, _)| *m).collect();
        assert_eq!(
            members,
            vec![
                "ttlSeconds",
                "negativeTtlSeconds",
                "staleIfErrorSeconds",
                "timeoutSeconds"
            ]
        );
        assert!(problems[3].1.contains("3600"), "{problems:?}");
    }

    #[test]
    fn states_round_trip_and_gate_deliveries() {
        for s in [
            PartnerState::Registered,
            PartnerState::Verified,
            PartnerState::Failed,
            PartnerState::TrustedUnchecked,
        ] {
            assert_eq!(s.as_str().parse::<PartnerState>().unwrap(), s);
        }
        assert!(!PartnerState::Registered.may_receive_deliveries());
        assert!(PartnerState::TrustedUnchecked.may_receive_deliveries());
    }
}
