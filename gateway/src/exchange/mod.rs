//! The exchange engine: partners and their access policies, the durable outbox that pushes passports
//! to partners, and the pull cache in front of partners' passports.
//!
//! Push: [`queue_push`] (or a subscription, inside the version write) puts an item in the store's
//! outbox with an idempotency key fixed there; a [`DeliveryWorker`] claims it under a lease,
//! applies the partner's [access policy](crate::store::AccessPolicy) to the stored version, and
//! publishes it through the partner's [connection](PartnerConnections::connection). See
//! `docs/adr/0006-outbox-and-partners.md`.
//!
//! Pull: the [`pull::PullCache`] answers `GET /api/v1/remote/{partner}/passports/{remote_id}`
//! through the partner's connection, which [`PartnerConnections`] provides as a
//! [`pull::PullTargets`] with the partner's [`pull::PullPolicy`]. See
//! `docs/adr/0007-pull-cache-and-oauth2.md`.

pub mod delivery;
pub mod events;
pub mod partners;
pub mod policy;
pub mod pull;

use std::sync::Arc;

use dpp_schemas::Passport;
use tokio::sync::Notify;

pub use delivery::{DeliveryHandle, DeliverySettings, DeliveryWorker, ForceStop};
pub use partners::{PartnerConnections, PartnerError, PartnerRegistration, PartnerView};

use crate::store::{OutboxItem, PartnerState, StoreError};

/// What the HTTP API needs of the exchange engine; cheap to clone.
#[derive(Clone)]
pub struct Exchange {
    /// Partner connections (and through them the store, adapters and signer).
    pub partners: Arc<PartnerConnections>,
    /// Notified when an item is queued, so an idle worker starts at once.
    pub wake: Arc<Notify>,
}

impl Exchange {
    /// The engine over `partners`.
    pub fn new(partners: Arc<PartnerConnections>) -> Self {
        Self {
            partners,
            wake: Arc::new(Notify::new()),
        }
    }
}

/// Why a push could not be queued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// No such partner.
    #[error("no partner named {0:?}")]
    PartnerNotFound(String),
    /// The partner is neither verified nor trusted-unchecked.
    #[error(
        "partner {partner} is {state}; deliveries go only to verified or trusted-unchecked partners (run the conformance suite, or register it with --trusted-unchecked)"
    )]
    NotDeliverable {
        /// The partner.
        partner: String,
        /// Its state.
        state: PartnerState,
    },
    /// The partner's adapter cannot publish (or is compiled out).
    #[error("partner {partner} cannot receive pushes: {reason}")]
    CannotPublish {
        /// The partner.
        partner: String,
        /// Why.
        reason: String,
    },
    /// No such passport or version.
    #[error("{0}")]
    PassportNotFound(String),
    /// The partner's access policy does not select this passport.
    #[error("the access policy of partner {partner} does not allow passport {passport}")]
    PolicyRefused {
        /// The partner.
        partner: String,
        /// The passport.
        passport: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `(scheme, value)` product ids of a passport.
pub type ProductIds = Vec<(String, String)>;

/// `(polymer, total recycled share)` of a passport's main materials.
pub type MaterialShares = Vec<(String, f64)>;

/// The product ids and main materials of a passport: what a
/// [`PassportSelector`](crate::store::PassportSelector) and the store's search look at.
///
/// Only the main material by mass counts (several if their mass fractions tie): a buyer asking
/// for recycled PP wants PP lots, not a PET lot with 0.5 % PP caps nor a part whose PP is a
/// minor component. See [`crate::store::polymer_matches`] for what "of polymer X" means.
pub fn selector_inputs(passport: &Passport) -> (ProductIds, MaterialShares) {
    (
        passport
            .product
            .ids
            .iter()
            .map(|i| (i.scheme.clone(), i.value.clone()))
            .collect(),
        main_materials(passport)
            .map(|m| (m.polymer.clone(), m.recycled_share.total()))
            .collect(),
    )
}

/// The materials with the largest mass fraction (all of them on a tie).
fn main_materials(passport: &Passport) -> impl Iterator<Item = &dpp_schemas::Material> {
    let largest = passport
        .materials
        .iter()
        .map(|m| m.mass_fraction)
        .fold(f64::NEG_INFINITY, f64::max);
    passport
        .materials
        .iter()
        .filter(move |m| m.mass_fraction >= largest)
}

/// Queues `passport_id` (its `version`, or the latest) for `partner` after checking the partner
/// may receive it: it exists, is verified or trusted-unchecked, its adapter publishes, and its
/// access policy selects the passport. Returns the committed outbox item.
pub async fn queue_push(
    exchange: &Exchange,
    partner: &str,
    passport_id: &str,
    version: Option<i64>,
    actor: &str,
) -> Result<OutboxItem, PushError> {
    let store = exchange.partners.store();
    let record = store
        .partner(partner)
        .await?
        .ok_or_else(|| PushError::PartnerNotFound(partner.to_owned()))?;
    if !record.state.may_receive_deliveries() {
        return Err(PushError::NotDeliverable {
            partner: record.name,
            state: record.state,
        });
    }
    match exchange.partners.adapters().factory(&record.adapter_type) {
        Ok(f) if f.capabilities().publish => {}
        Ok(_) => {
            return Err(PushError::CannotPublish {
                partner: record.name,
                reason: format!("the {} adapter does not publish", record.adapter_type),
            });
        }
        Err(e) => {
            return Err(PushError::CannotPublish {
                partner: record.name,
                reason: e.to_string(),
            });
        }
    }
    let stored = store.passport(passport_id, version).await?.ok_or_else(|| {
        PushError::PassportNotFound(match version {
            Some(v) => format!("passport {passport_id} has no version {v}"),
            None => format!("passport {passport_id} does not exist"),
        })
    })?;
    let doc: serde_json::Value = serde_json::from_str(&stored.canonical_json)
        .map_err(|e| StoreError::Corrupt(format!("passport {passport_id}: {e}")))?;
    let shared = match version {
        Some(_) => {
            let latest = store.passport(passport_id, None).await?.ok_or_else(|| {
                PushError::PassportNotFound(format!("passport {passport_id} does not exist"))
            })?;
            if latest.version == stored.version {
                policy::share(&record.policy, passport_id, &doc)
            } else {
                let latest: serde_json::Value = serde_json::from_str(&latest.canonical_json)
                    .map_err(|e| StoreError::Corrupt(format!("passport {passport_id}: {e}")))?;
                policy::share_version(&record.policy, passport_id, &doc, &latest)
            }
        }
        None => policy::share(&record.policy, passport_id, &doc),
    };
    match shared {
        Ok(_) => {}
        Err(policy::Withheld::NotSelected) => {
            return Err(PushError::PolicyRefused {
                partner: record.name,
                passport: passport_id.to_owned(),
            });
        }
        Err(policy::Withheld::Unusable(reason)) => {
            return Err(PushError::CannotPublish {
                partner: record.name,
                reason,
            });
        }
    }
    let item = store
        .enqueue_delivery(&record.name, passport_id, stored.version, actor)
        .await?;
    exchange.wake.notify_one();
    Ok(item)
}
