//! The Ouranos Ecosystem adapter (Japan, battery/CFP traceability): publishes passports as a
//! part tree with its CFP, fetches and lists parts, and runs the CFP trade flow (trade request →
//! status → response) as requester and as responder. Spec: `data-transaction-system` v3.0.0 and
//! `ic-user-auth` v0.0.5, validated through [`dpp_schemas::wire::ouranos`]. What Ouranos cannot
//! carry, and where our signed-passport reference rides, is in `README.md` beside this file.

mod auth;
mod client;
pub mod config;
pub mod mapping;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use dpp_schemas::wire::Violation;
use dpp_schemas::wire::ouranos::{
    CFP_TYPES_ACCEPTED_ON_PUT, MAX_PAGE_LIMIT, Method as WireMethod, Target, ouranos,
};
use dpp_schemas::{Passport, ReferencePeriod, UrnUuid};
use reqwest::{Method, Url};
use serde_json::Value;

use self::auth::{Credentials, TokenSource};
use self::client::DataTransportClient;
pub use self::client::MAX_PAGES;
use self::config::{AuthMode, OuranosSettings};
use self::mapping::{
    CfpModel, OuranosIds, PartsModel, PartsStructureModel, RequestStatus, StatusModel, TradeModel,
    TradeRequestModel, TradeResponseModel,
};
use crate::contract::{
    AdapterContext, AdapterError, AdapterFactory, Capabilities, CheckedConfig, Clock,
    ConformanceCredentials, Connection, FetchedPassport, FootprintNegotiation, FootprintRequest,
    HealthCheck, IncomingFootprintRequest, NegotiationHandle, NegotiationState, PassportReference,
    PublishReceipt, PublishRequest, SearchHit, SearchPage, SearchQuery, SecretSources,
};

/// The config `type`.
pub const KIND: &str = "ouranos";

/// What an Ouranos connection does. No `serve`: Ouranos is a platform both sides call, it
/// never calls a participant.
pub const CAPABILITIES: Capabilities = Capabilities {
    publish: true,
    fetch: true,
    search: true,
    serve: false,
    negotiate: true,
};

/// Longest `message`/`replyMessage` of a status.
const MAX_MESSAGE: usize = 1000;

/// The factory to register.
pub fn factory() -> Arc<dyn AdapterFactory> {
    Arc::new(OuranosFactory)
}

/// Validates Ouranos configs and builds [`OuranosConnection`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct OuranosFactory;

#[async_trait]
impl AdapterFactory for OuranosFactory {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn validate(&self, raw: &Value) -> Result<CheckedConfig, AdapterError> {
        Ok(CheckedConfig::new(KIND, config::validate(raw)?))
    }

    async fn build(
        &self,
        checked: CheckedConfig,
        ctx: AdapterContext,
    ) -> Result<(Arc<dyn Connection>, HealthCheck), AdapterError> {
        let connection = Arc::new(OuranosConnection::build(&checked, ctx).await?);
        let probe = connection.clone();
        let health = HealthCheck::new(move || {
            let probe = probe.clone();
            async move { probe.health().await }
        });
        Ok((connection, health))
    }

    async fn conformance_credentials(
        &self,
        checked: &CheckedConfig,
        secrets: &SecretSources,
    ) -> Result<ConformanceCredentials, AdapterError> {
        let settings = checked
            .settings::<OuranosSettings>()
            .ok_or_else(|| AdapterError::Config("not an ouranos config".into()))?;
        if settings.auth_endpoint != settings.endpoint {
            return Err(AdapterError::Config(format!(
                "the conformance suite checks one endpoint, but auth_endpoint {} differs from endpoint {}",
                settings.auth_endpoint, settings.endpoint
            )));
        }
        let mut vars = std::collections::BTreeMap::new();
        vars.insert(
            "API_KEY".to_owned(),
            secrets
                .resolve(&settings.api_key, "api_key")
                .await?
                .expose()
                .to_owned(),
        );
        match &settings.auth {
            AuthMode::Login {
                account_id,
                password,
            } => {
                vars.insert("ACCOUNT".to_owned(), account_id.clone());
                vars.insert(
                    "PASSWORD".to_owned(),
                    secrets
                        .resolve(password, "auth.password")
                        .await?
                        .expose()
                        .to_owned(),
                );
            }
            AuthMode::Client {
                client_id,
                client_secret,
            } => {
                vars.insert("CLIENT_ID".to_owned(), client_id.clone());
                vars.insert(
                    "CLIENT_SECRET".to_owned(),
                    secrets
                        .resolve(client_secret, "auth.client_secret")
                        .await?
                        .expose()
                        .to_owned(),
                );
            }
        }
        Ok(ConformanceCredentials {
            endpoint: settings.endpoint.as_str().trim_end_matches('/').to_owned(),
            vars,
        })
    }
}

/// A live connection to Ouranos for one partner.
pub struct OuranosConnection {
    settings: OuranosSettings,
    ids: OuranosIds,
    client: DataTransportClient,
    clock: Arc<dyn Clock>,
}

impl OuranosConnection {
    /// Builds from a config [`OuranosFactory::validate`] checked: resolves the secrets, no call.
    pub async fn build(checked: &CheckedConfig, ctx: AdapterContext) -> Result<Self, AdapterError> {
        let settings = checked
            .settings::<OuranosSettings>()
            .ok_or_else(|| {
                AdapterError::Config(format!("not an ouranos config: {}", checked.kind()))
            })?
            .clone();
        let api_key = ctx
            .secrets
            .resolve(&settings.api_key, "ouranos: api_key")
            .await?;
        let credentials = Credentials::resolve(&settings.auth, &ctx.secrets).await?;
        let tokens = TokenSource::new(&settings, api_key, credentials, ctx.clone());
        Ok(Self {
            ids: OuranosIds {
                operator_id: settings.operator_id,
                plant_id: settings.plant_id,
            },
            client: DataTransportClient::new(settings.endpoint.clone(), tokens, ctx.clone()),
            clock: ctx.clock.clone(),
            settings,
        })
    }

    /// Our identity in Ouranos.
    pub fn ids(&self) -> OuranosIds {
        self.ids
    }

    async fn health(&self) -> Result<(), AdapterError> {
        let plant = self.ids.plant_id.to_string();
        self.client
            .call(
                Method::GET,
                Target::Parts,
                &[("plantId", &plant), ("limit", "1")],
                None,
            )
            .await
            .map(|_| ())
    }

    /// Our parent part with this `partsName`/`supportPartsName`, if it exists (so a retried or
    /// re-versioned publish updates it instead of creating a twin).
    async fn find_part(&self, part: &PartsModel) -> Result<Option<String>, AdapterError> {
        let plant = self.ids.plant_id.to_string();
        let items = self
            .client
            .list_all(
                Target::Parts,
                &[("partsName", &part.parts_name), ("plantId", &plant)],
                self.settings.page_size,
            )
            .await?;
        let wanted = part.support_parts_name.as_deref().unwrap_or_default();
        for item in items {
            let found: PartsModel =
                serde_json::from_value(item).map_err(|e| AdapterError::Mapping {
                    field: "parts".into(),
                    reason: e.to_string(),
                })?;
            if found.parts_name == part.parts_name
                && found.support_parts_name.as_deref().unwrap_or_default() == wanted
                && found.trace_id.is_some()
            {
                return Ok(found.trace_id);
            }
        }
        Ok(None)
    }

    async fn structure(&self, trace_id: &str) -> Result<PartsStructureModel, AdapterError> {
        self.client
            .call(
                Method::GET,
                Target::PartsStructure,
                &[("traceId", trace_id)],
                None,
            )
            .await?
            .parse("partsStructure")
    }

    async fn existing_children(
        &self,
        trace_id: Option<&str>,
    ) -> Result<Vec<PartsModel>, AdapterError> {
        let Some(trace_id) = trace_id else {
            return Ok(Vec::new());
        };
        match self.structure(trace_id).await {
            Ok(s) => Ok(s.children_parts_model),
            Err(AdapterError::NotFound(_)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    async fn cfp_of(&self, trace_id: &str) -> Result<Vec<CfpModel>, AdapterError> {
        match self
            .client
            .call(Method::GET, Target::Cfp, &[("traceIds", trace_id)], None)
            .await
        {
            Ok(answer) if answer.body.is_null() => Ok(Vec::new()),
            Ok(answer) => answer.parse("cfp"),
            Err(AdapterError::NotFound(_)) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// PUTs one structure, reusing the traceIds of parts that already exist.
    async fn put_structure(
        &self,
        mut structure: PartsStructureModel,
        idempotency_key: &str,
        tracks: &mut Vec<String>,
    ) -> Result<PartsStructureModel, AdapterError> {
        let existing = self
            .existing_children(structure.parent_parts_model.trace_id.as_deref())
            .await?;
        for child in &mut structure.children_parts_model {
            child.trace_id = existing
                .iter()
                .find(|e| {
                    e.parts_name == child.parts_name
                        && e.support_parts_name == child.support_parts_name
                })
                .and_then(|e| e.trace_id.clone());
        }
        let body = to_json(&structure)?;
        let answer = self
            .client
            .call_once(
                Method::PUT,
                Target::PartsStructure,
                &[],
                Some(body),
                Some(idempotency_key),
            )
            .await?;
        tracks.extend(answer.track.clone());
        answer.parse("partsStructure")
    }

    async fn find_status(
        &self,
        handle: &NegotiationHandle,
    ) -> Result<Option<StatusModel>, AdapterError> {
        let statuses = self
            .client
            .list_all(
                Target::Status,
                &[
                    ("statusTarget", "REQUEST"),
                    ("traceId", &handle.our_remote_id),
                ],
                self.settings.page_size,
            )
            .await?;
        for status in statuses {
            let status: StatusModel = parse_item(status, "status")?;
            let same_status = handle.status_id.is_some() && status.status_id == handle.status_id;
            if same_status || status.trade_id.as_deref() == Some(handle.request_id.as_str()) {
                return Ok(Some(status));
            }
        }
        Ok(None)
    }

    async fn put_status(&self, status: StatusModel) -> Result<(), AdapterError> {
        self.client
            .call(Method::PUT, Target::Status, &[], Some(to_json(&status)?))
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl Connection for OuranosConnection {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    fn carried_subset(&self, passport: &Passport) -> Passport {
        mapping::carried_subset(passport, &self.ids)
    }

    fn check_request_body(
        &self,
        method: &Method,
        url: &Url,
        body: &Value,
    ) -> Result<(), Vec<Violation>> {
        let Some(target) = target_of(url) else {
            return Err(Vec::new());
        };
        let method = match *method {
            Method::PUT => WireMethod::Put,
            Method::POST => WireMethod::Post,
            Method::DELETE => WireMethod::Delete,
            _ => WireMethod::Get,
        };
        ouranos().validate_request(target, method, body)
    }

    async fn publish(&self, request: PublishRequest<'_>) -> Result<PublishReceipt, AdapterError> {
        let passport = request.passport;
        let reference = PassportReference::of(passport, request.signed_jws);
        let wire = mapping::to_wire(passport, &reference, &self.ids)?;
        let plan = mapping::plan_structures(&wire)?;
        tracing::debug!(
            adapter = KIND,
            passport = %passport.id,
            version = passport.version,
            idempotency_key = request.idempotency_key,
            children = wire.children.len(),
            groups = plan.groups.len(),
            "publishing to ouranos"
        );
        let mut tracks = Vec::new();
        let mut top = plan.top;
        top.parent_parts_model.trace_id = self.find_part(&top.parent_parts_model).await?;
        let created = self
            .put_structure(top, request.idempotency_key, &mut tracks)
            .await?;
        let parent_trace =
            created
                .parent_parts_model
                .trace_id
                .clone()
                .ok_or_else(|| AdapterError::Mapping {
                    field: "partsStructure.parentPartsModel.traceId".into(),
                    reason: "ouranos answered without a traceId".into(),
                })?;
        for mut group in plan.groups {
            let support = group.parent_parts_model.support_parts_name.clone();
            group.parent_parts_model.trace_id = created
                .children_parts_model
                .iter()
                .find(|c| mapping::is_group(c) && c.support_parts_name == support)
                .and_then(|c| c.trace_id.clone());
            if group.parent_parts_model.trace_id.is_none() {
                return Err(AdapterError::Mapping {
                    field: "partsStructure.childrenPartsModel".into(),
                    reason: format!("ouranos answered without the group part {support:?}"),
                });
            }
            self.put_structure(group, request.idempotency_key, &mut tracks)
                .await?;
        }
        if let Some(mut cfp) = wire.cfp {
            let existing = self.cfp_of(&parent_trace).await?;
            let cfp_id = existing
                .iter()
                .find(|c| CFP_TYPES_ACCEPTED_ON_PUT.contains(&c.cfp_type.as_str()))
                .and_then(|c| c.cfp_id.clone());
            for element in &mut cfp {
                element.trace_id = parent_trace.clone();
                element.cfp_id = cfp_id.clone();
            }
            let answer = self
                .client
                .call_once(
                    Method::PUT,
                    Target::Cfp,
                    &[],
                    Some(to_json(&cfp)?),
                    Some(request.idempotency_key),
                )
                .await?;
            tracks.extend(answer.track);
        }
        Ok(PublishReceipt {
            remote_id: parent_trace,
            reference,
            tracks,
        })
    }

    async fn fetch(&self, remote_id: &str) -> Result<FetchedPassport, AdapterError> {
        let structure = self.structure(remote_id).await?;
        let mut leaves = Vec::new();
        for child in structure.children_parts_model {
            match (&child.trace_id, mapping::is_group(&child)) {
                (Some(group_trace), true) => {
                    leaves.extend(self.structure(group_trace).await?.children_parts_model)
                }
                _ => leaves.push(child),
            }
        }
        let cfp = self.cfp_of(remote_id).await?;
        let (passport, reference) = mapping::from_wire(
            &structure.parent_parts_model,
            &leaves,
            &cfp,
            self.clock.now(),
        )?;
        Ok(FetchedPassport {
            remote_id: remote_id.to_owned(),
            passport,
            reference,
        })
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchPage, AdapterError> {
        let limit = query
            .page_size
            .unwrap_or(self.settings.page_size)
            .clamp(1, MAX_PAGE_LIMIT as u32)
            .to_string();
        let mut q: Vec<(&str, &str)> = vec![("parentFlag", "true"), ("limit", &limit)];
        if let Some(text) = &query.text {
            q.push(("partsName", text));
        }
        if let Some(after) = &query.cursor {
            q.push(("after", after));
        }
        let answer = self
            .client
            .call(Method::GET, Target::Parts, &q, None)
            .await?;
        let parts: Vec<PartsModel> = if answer.body.is_null() {
            Vec::new()
        } else {
            answer.parse("parts")?
        };
        let hits = parts
            .into_iter()
            .filter(|p| !mapping::is_group(p))
            .filter_map(|p| {
                Some(SearchHit {
                    remote_id: p.trace_id.clone()?,
                    name: p
                        .parts_label_name
                        .clone()
                        .unwrap_or_else(|| p.parts_name.clone()),
                    passport_id: p
                        .parts_add_info1
                        .as_deref()
                        .and_then(|u| u.parse::<UrnUuid>().ok()),
                })
            })
            .collect();
        Ok(SearchPage {
            hits,
            next_cursor: answer.next_after,
        })
    }

    fn negotiation(&self) -> Option<&dyn FootprintNegotiation> {
        Some(self)
    }
}

#[async_trait]
impl FootprintNegotiation for OuranosConnection {
    async fn request_footprint(
        &self,
        request: &FootprintRequest,
    ) -> Result<NegotiationHandle, AdapterError> {
        let body = TradeRequestModel {
            status_model: StatusModel {
                message: request
                    .message
                    .as_deref()
                    .map(|m| mapping::truncate(m, MAX_MESSAGE)),
                reply_message: None,
                request_status: RequestStatus::default(),
                request_type: "CFP".into(),
                status_id: None,
                trade_id: None,
                response_due_date: Some(request.due),
            },
            trade_model: TradeModel {
                downstream_operator_id: self.ids.operator_id.to_string(),
                downstream_trace_id: request.our_remote_id.clone(),
                trade_id: None,
                upstream_operator_id: request.supplier.clone(),
                upstream_trace_id: None,
            },
        };
        let created: TradeRequestModel = self
            .client
            .call(
                Method::PUT,
                Target::TradeRequest,
                &[],
                Some(to_json(&body)?),
            )
            .await?
            .parse("tradeRequest")?;
        Ok(NegotiationHandle {
            request_id: created
                .trade_model
                .trade_id
                .ok_or_else(|| AdapterError::Mapping {
                    field: "tradeModel.tradeId".into(),
                    reason: "ouranos answered without a tradeId".into(),
                })?,
            status_id: created.status_model.status_id,
            our_remote_id: request.our_remote_id.clone(),
        })
    }

    async fn negotiation_state(
        &self,
        handle: &NegotiationHandle,
    ) -> Result<NegotiationState, AdapterError> {
        let status = self.find_status(handle).await?;
        match status
            .as_ref()
            .and_then(|s| s.request_status.cfp_response_status.as_deref())
        {
            Some("REJECT") => {
                return Ok(NegotiationState::Rejected {
                    reason: status.and_then(|s| s.reply_message),
                });
            }
            Some("CANCEL") => return Ok(NegotiationState::Cancelled),
            _ => {}
        }
        let trades = self
            .client
            .list_all(
                Target::TradeRequest,
                &[("traceIds", &handle.our_remote_id)],
                self.settings.page_size,
            )
            .await?;
        let mut upstream = None;
        for trade in trades {
            let trade: TradeModel = parse_item(trade, "tradeRequest")?;
            if trade.trade_id.as_deref() == Some(handle.request_id.as_str()) {
                upstream = Some(trade.upstream_trace_id);
            }
        }
        match upstream {
            None if status.is_none() => Err(AdapterError::NotFound(format!(
                "trade {} of part {}",
                handle.request_id, handle.our_remote_id
            ))),
            Some(Some(supplier_trace)) => {
                // Ouranos shows the supplier's figures on our own part, as *Response elements.
                let cfp = self.cfp_of(&handle.our_remote_id).await?;
                let today = self.clock.now().date_naive();
                let footprint = mapping::response_footprint_of(
                    &cfp,
                    ReferencePeriod {
                        end: today,
                        start: today,
                    },
                )?;
                Ok(NegotiationState::Answered {
                    supplier_remote_id: supplier_trace,
                    footprint,
                })
            }
            _ => Ok(NegotiationState::Pending),
        }
    }

    async fn cancel(&self, handle: &NegotiationHandle) -> Result<(), AdapterError> {
        let status = self.find_status(handle).await?.ok_or_else(|| {
            AdapterError::NotFound(format!("status of trade {}", handle.request_id))
        })?;
        self.put_status(closing_status(status, "CANCEL", None))
            .await
    }

    async fn incoming_requests(&self) -> Result<Vec<IncomingFootprintRequest>, AdapterError> {
        let items = self
            .client
            .list_all(Target::TradeResponse, &[], self.settings.page_size)
            .await?;
        items
            .into_iter()
            .map(|item| {
                let r: TradeResponseModel = parse_item(item, "tradeResponse")?;
                Ok(IncomingFootprintRequest {
                    request_id: r.trade_model.trade_id.clone().unwrap_or_default(),
                    status_id: r.status_model.status_id.clone(),
                    customer: r.trade_model.downstream_operator_id.clone(),
                    customer_part_name: r.parts_model.parts_name.clone(),
                    message: r.status_model.message.clone(),
                    due: r.status_model.response_due_date,
                    open: r.trade_model.upstream_trace_id.is_none()
                        && matches!(
                            r.status_model.request_status.cfp_response_status.as_deref(),
                            None | Some("NOT_COMPLETED")
                        ),
                })
            })
            .collect()
    }

    async fn answer(&self, request_id: &str, our_remote_id: &str) -> Result<(), AdapterError> {
        self.client
            .call(
                Method::PUT,
                Target::TradeResponse,
                &[("tradeId", request_id), ("traceId", our_remote_id)],
                None,
            )
            .await
            .map(|_| ())
    }

    async fn reject(
        &self,
        request: &IncomingFootprintRequest,
        reason: &str,
    ) -> Result<(), AdapterError> {
        let status = StatusModel {
            message: request.message.clone(),
            reply_message: None,
            request_status: RequestStatus::default(),
            request_type: "CFP".into(),
            status_id: request.status_id.clone(),
            trade_id: Some(request.request_id.clone()),
            response_due_date: None,
        };
        self.put_status(closing_status(
            status,
            "REJECT",
            Some(mapping::truncate(reason, MAX_MESSAGE)),
        ))
        .await
    }
}

/// A status PUT that cancels or rejects: the spec wants `replyMessage` only on reject and null
/// due date and counts on both; the published examples close the tree (`TERMINATED`).
fn closing_status(mut status: StatusModel, outcome: &str, reply: Option<String>) -> StatusModel {
    status.request_status = RequestStatus {
        cfp_response_status: Some(outcome.to_owned()),
        trade_tree_status: Some("TERMINATED".into()),
        completed_count: None,
        trades_count: status.request_status.trades_count,
    };
    status.reply_message = reply;
    status.response_due_date = None;
    status
}

/// The Ouranos target a URL addresses, from its path and `dataTarget` alone.
fn target_of(url: &Url) -> Option<Target> {
    let path = url.path();
    if path.ends_with("/auth/login") {
        return Some(Target::AuthLogin);
    }
    if path.ends_with("/auth/refresh") {
        return Some(Target::AuthRefresh);
    }
    if path.ends_with("/auth/client") {
        return Some(Target::AuthClient);
    }
    if !path.ends_with("/api/v1/datatransport") {
        return None;
    }
    let data_target = url
        .query_pairs()
        .find(|(k, _)| k == "dataTarget")
        .map(|(_, v)| v.into_owned())?;
    Target::from_datatransport(&data_target)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, AdapterError> {
    serde_json::to_value(value).map_err(|e| AdapterError::Mapping {
        field: "body".into(),
        reason: e.to_string(),
    })
}

fn parse_item<T: serde::de::DeserializeOwned>(item: Value, what: &str) -> Result<T, AdapterError> {
    serde_json::from_value(item).map_err(|e| AdapterError::Mapping {
        field: what.to_owned(),
        reason: format!("unexpected ouranos answer: {e}"),
    })
}
