//! The mock's in-memory data and the behaviour of each operation, as the published OpenAPI
//! describes it. Everything here is synchronous and runs under one mutex; HTTP concerns (headers,
//! faults, idempotency) live in `routes`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use dpp_schemas::wire::ouranos::{
    CFP_TYPES_ACCEPTED_ON_PUT, MAX_OPERATOR_IDS_PER_QUERY, MAX_PAGE_LIMIT, MAX_TRACE_IDS_PER_QUERY,
    STATUS_TARGETS, Target,
};
use serde::Serialize;
use serde_json::{Number, Value, json};

use super::model::{
    ChangePassword, ClientInput, LoginInput, Operator, OperatorAttribute, Part, PartsStructure,
    Plant, PlantAttribute, RefreshInput, RequestStatus, Status, Trade, TradeRequest, TradeResponse,
};
use super::{Break, HostilePaging, MockConfig, Stats};
use crate::mock::rng::SplitMix64;

/// Which subsystem an error names in its `code` (`[auth] …`, `[dataspace] …`, `[traceability] …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Auth,
    Dataspace,
    Traceability,
}

impl Scope {
    fn as_str(self) -> &'static str {
        match self {
            Scope::Auth => "auth",
            Scope::Dataspace => "dataspace",
            Scope::Traceability => "traceability",
        }
    }
}

/// An error answer in the published shape `{code, message, detail}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) code: String,
    pub(crate) message: String,
    /// Set for traceability errors that carry a message id (`MSGAECP0013`); otherwise `routes`
    /// writes the usual `id: …, timeStamp: …` line.
    pub(crate) detail: Option<String>,
}

impl ApiError {
    pub(crate) fn new(status: u16, scope: Scope, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: format!("[{}] {kind}", scope.as_str()),
            message: message.into(),
            detail: None,
        }
    }

    pub(crate) fn bad_request(scope: Scope, message: impl Into<String>) -> Self {
        Self::new(400, scope, "BadRequest", message)
    }

    pub(crate) fn invalid_param(scope: Scope, name: &str, why: &str) -> Self {
        Self::bad_request(scope, format!("Invalid request parameters, {name}: {why}"))
    }

    pub(crate) fn unauthorized(message: &str) -> Self {
        Self::new(401, Scope::Auth, "Unauthorized", message)
    }

    pub(crate) fn forbidden(scope: Scope, message: &str) -> Self {
        Self::new(403, scope, "AccessDenied", message)
    }

    pub(crate) fn not_found(scope: Scope, message: &str) -> Self {
        Self::new(404, scope, "NotFound", message)
    }

    /// A business-rule refusal of the traceability system, with its message id.
    fn traceability(message: &str, message_id: &str) -> Self {
        let mut e = Self::bad_request(Scope::Traceability, message);
        e.detail = Some(message_id.to_owned());
        e
    }

    fn part_not_found() -> Self {
        Self::traceability("指定された部品は存在しません。", "MSGAECP0013")
    }

    fn not_own_data() -> Self {
        Self::forbidden(Scope::Dataspace, "You do not have the necessary privileges")
    }
}

/// A successful answer: status, optional JSON body, and for paged lists the cursor of the next
/// page (`routes` turns it into the `link` header).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Option<Value>,
    pub(crate) next: Option<Page>,
}

/// The `limit` and `after` of the next page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Page {
    pub(crate) limit: usize,
    pub(crate) after: String,
}

impl Reply {
    fn json(status: u16, body: impl Serialize) -> Result<Self, ApiError> {
        let body = serde_json::to_value(body).map_err(|e| {
            ApiError::new(500, Scope::Dataspace, "InternalServerError", e.to_string())
        })?;
        Ok(Self {
            status,
            body: Some(body),
            next: None,
        })
    }

    fn empty(status: u16) -> Self {
        Self {
            status,
            body: None,
            next: None,
        }
    }
}

/// Query parameters in the order they were sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct Query(pub(crate) Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, scope: Scope, name: &str) -> Result<&str, ApiError> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ApiError::invalid_param(scope, name, "cannot be blank")),
        }
    }

    /// A comma-separated id list of at most `max` entries.
    fn id_list(&self, scope: Scope, name: &str, max: usize) -> Result<Vec<String>, ApiError> {
        let ids: Vec<String> = self
            .required(scope, name)?
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if ids.len() > max {
            return Err(ApiError::invalid_param(
                scope,
                name,
                &format!("at most {max} ids, got {}", ids.len()),
            ));
        }
        Ok(ids)
    }
}

/// Who is calling, from the bearer token.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) operator_id: String,
}

struct Account {
    password: String,
    operator_id: String,
}

struct Client {
    secret: String,
    operator_id: String,
    open_system_id: String,
}

struct Session {
    operator_id: String,
    expires_at: Instant,
    /// `openSystemId` of the client, for tokens issued by `/auth/client`.
    open_system_id: Option<String>,
}

struct PartRecord {
    part: Part,
    /// Created as a child in a parts structure (`parentFlag=false` finds these).
    is_child: bool,
}

struct TradeRecord {
    seq: u64,
    trade: Trade,
    status: Status,
}

/// Everything the mock holds.
pub(crate) struct Store {
    rng: SplitMix64,
    token_ttl: Duration,
    default_page_size: usize,
    operators: BTreeMap<String, Operator>,
    accounts: HashMap<String, Account>,
    clients: HashMap<String, Client>,
    sessions: HashMap<String, Session>,
    refresh_tokens: HashMap<String, String>,
    plants: BTreeMap<String, Plant>,
    parts: HashMap<String, PartRecord>,
    /// (operatorId, plantId, partsName, supportPartsName) → traceId: the spec numbers traceIds so
    /// that this combination is unique.
    natural_keys: HashMap<(String, String, String, String), String>,
    /// parent traceId → (child traceId, amountRequired) in order.
    structures: HashMap<String, Vec<(String, Option<Number>)>>,
    /// traceId → the four registered CFP elements.
    cfps: HashMap<String, Vec<super::model::Cfp>>,
    certifications: HashMap<String, Vec<Value>>,
    trades: BTreeMap<String, TradeRecord>,
    trade_seq: u64,
    /// Rules broken on purpose (conformance self-test).
    breaks: BTreeSet<Break>,
    /// Hostile paging played on purpose (client tests).
    hostile_paging: Option<HostilePaging>,
    pub(crate) stats: Stats,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Store {
    pub(crate) fn new(config: &MockConfig) -> Self {
        let mut store = Self {
            rng: SplitMix64::new(config.seed),
            token_ttl: config.token_ttl,
            default_page_size: config.page_size.clamp(1, MAX_PAGE_LIMIT),
            operators: BTreeMap::new(),
            accounts: HashMap::new(),
            clients: HashMap::new(),
            sessions: HashMap::new(),
            refresh_tokens: HashMap::new(),
            plants: BTreeMap::new(),
            parts: HashMap::new(),
            natural_keys: HashMap::new(),
            structures: HashMap::new(),
            cfps: HashMap::new(),
            certifications: HashMap::new(),
            trades: BTreeMap::new(),
            trade_seq: 0,
            breaks: config.breaks.clone(),
            hostile_paging: config.hostile_paging,
            stats: Stats::default(),
        };
        for (i, account) in config.accounts.iter().enumerate() {
            let operator_id = store.add_operator_with_plant(i, &account.account_id);
            store.accounts.insert(
                account.account_id.clone(),
                Account {
                    password: account.password.clone(),
                    operator_id,
                },
            );
        }
        for (i, client) in config.clients.iter().enumerate() {
            let operator_id =
                store.add_operator_with_plant(config.accounts.len() + i, &client.client_id);
            store.clients.insert(
                client.client_id.clone(),
                Client {
                    secret: client.client_secret.clone(),
                    operator_id,
                    open_system_id: format!("mockSystem{:011}", i + 1),
                },
            );
        }
        if config.seed_data {
            super::seed::seed(&mut store);
        }
        store
    }

    /// Forgets all traceability data and counters; keeps operators, plants, accounts, sessions.
    pub(crate) fn reset_data(&mut self, seed_data: bool) {
        self.parts.clear();
        self.natural_keys.clear();
        self.structures.clear();
        self.cfps.clear();
        self.certifications.clear();
        self.trades.clear();
        self.stats = Stats::default();
        if seed_data {
            super::seed::seed(self);
        }
    }

    fn broken(&self, rule: Break) -> bool {
        self.breaks.contains(&rule)
    }

    /// The answer of a token endpoint (`TokenFieldMisnamed` renames the token).
    fn token_answer(&self, mut body: Value) -> Result<Reply, ApiError> {
        if self.broken(Break::TokenFieldMisnamed)
            && let Some(token) = body.as_object_mut().and_then(|o| o.remove("accessToken"))
        {
            body["access_token"] = token;
        }
        Reply::json(201, body)
    }

    fn new_id(&mut self) -> String {
        self.rng.uuid().to_string()
    }

    fn add_operator_with_plant(&mut self, index: usize, login: &str) -> String {
        let operator_id = self.new_id();
        let plant_id = self.new_id();
        self.operators.insert(
            operator_id.clone(),
            Operator {
                operator_id: operator_id.clone(),
                open_operator_id: format!("{:013}", 9_000_000_000_001u64 + index as u64),
                operator_name: format!("Mock operator {login}"),
                operator_address: "1-1 Mock-cho, Chiyoda-ku, Tokyo".into(),
                operator_attribute: OperatorAttribute::default(),
            },
        );
        self.plants.insert(
            plant_id.clone(),
            Plant {
                plant_id: Some(plant_id),
                operator_id: operator_id.clone(),
                open_plant_id: format!("MOCK-{:06}", index + 1),
                plant_name: format!("Main plant of {login}"),
                plant_address: "1-1 Mock-cho, Chiyoda-ku, Tokyo".into(),
                plant_attribute: PlantAttribute::default(),
            },
        );
        operator_id
    }

    // ---- seed helpers -------------------------------------------------------------------------

    pub(crate) fn seed_operator(&mut self, operator: Operator, account: (&str, &str)) {
        self.accounts.insert(
            account.0.to_owned(),
            Account {
                password: account.1.to_owned(),
                operator_id: operator.operator_id.clone(),
            },
        );
        self.operators
            .insert(operator.operator_id.clone(), operator);
    }

    pub(crate) fn seed_plant(&mut self, plant: Plant) {
        let id = plant.plant_id.clone().unwrap_or_default();
        self.plants.insert(id, plant);
    }

    pub(crate) fn seed_part(&mut self, part: Part, is_child: bool) {
        let trace_id = part.trace_id.clone().unwrap_or_default();
        self.natural_keys
            .insert(natural_key(&part), trace_id.clone());
        self.parts.insert(trace_id, PartRecord { part, is_child });
    }

    pub(crate) fn seed_structure(&mut self, parent: &str, children: Vec<(String, Option<Number>)>) {
        self.structures.insert(parent.to_owned(), children);
    }

    pub(crate) fn seed_cfp(&mut self, trace_id: &str, elements: Vec<super::model::Cfp>) {
        self.cfps.insert(trace_id.to_owned(), elements);
    }

    pub(crate) fn seed_certification(&mut self, trace_id: &str, certification: Value) {
        self.certifications
            .entry(trace_id.to_owned())
            .or_default()
            .push(certification);
    }

    pub(crate) fn seed_trade(&mut self, trade: Trade, status: Status) {
        self.trade_seq += 1;
        let id = trade.trade_id.clone().unwrap_or_default();
        self.trades.insert(
            id,
            TradeRecord {
                seq: self.trade_seq,
                trade,
                status,
            },
        );
    }

    // ---- introspection ------------------------------------------------------------------------

    pub(crate) fn operator_of_login(&self, login: &str) -> Option<String> {
        self.accounts
            .get(login)
            .map(|a| a.operator_id.clone())
            .or_else(|| self.clients.get(login).map(|c| c.operator_id.clone()))
    }

    pub(crate) fn plants_of(&self, operator_id: &str) -> Vec<String> {
        self.plants
            .values()
            .filter(|p| p.operator_id == operator_id)
            .filter_map(|p| p.plant_id.clone())
            .collect()
    }

    pub(crate) fn part_json(&self, trace_id: &str) -> Option<Value> {
        self.parts
            .get(trace_id)
            .and_then(|r| serde_json::to_value(&r.part).ok())
    }

    pub(crate) fn expire_tokens(&mut self) {
        let past = Instant::now();
        for session in self.sessions.values_mut() {
            session.expires_at = past;
        }
    }

    // ---- auth ---------------------------------------------------------------------------------

    fn issue_access_token(
        &mut self,
        operator_id: String,
        open_system_id: Option<String>,
    ) -> String {
        let token = format!("mock-at.{}", self.rng.uuid().simple());
        self.sessions.insert(
            token.clone(),
            Session {
                operator_id,
                expires_at: Instant::now() + self.token_ttl,
                open_system_id,
            },
        );
        token
    }

    /// `POST /auth/login` (201 LoginOutputModel).
    pub(crate) fn login(&mut self, input: LoginInput) -> Result<Reply, ApiError> {
        let operator_id = match self.accounts.get(&input.operator_account_id) {
            Some(a)
                if a.password == input.account_password
                    || self.breaks.contains(&Break::AcceptWrongCredentials) =>
            {
                a.operator_id.clone()
            }
            _ => return Err(ApiError::unauthorized("Invalid credentials")),
        };
        let access = self.issue_access_token(operator_id.clone(), None);
        let refresh = format!("mock-rt.{}", self.rng.uuid().simple());
        self.refresh_tokens.insert(refresh.clone(), operator_id);
        self.token_answer(json!({ "accessToken": access, "refreshToken": refresh }))
    }

    /// `POST /auth/refresh` (201 RefreshOutputModel).
    pub(crate) fn refresh(&mut self, input: RefreshInput) -> Result<Reply, ApiError> {
        let operator_id = self
            .refresh_tokens
            .get(&input.refresh_token)
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("Invalid credentials"))?;
        let access = self.issue_access_token(operator_id, None);
        Reply::json(201, json!({ "accessToken": access }))
    }

    /// `POST /auth/client` (v2, 201 clientOutputModel).
    pub(crate) fn client_login(&mut self, input: ClientInput) -> Result<Reply, ApiError> {
        let (operator_id, system) = match self.clients.get(&input.client_id) {
            Some(c)
                if c.secret == input.client_secret
                    || self.breaks.contains(&Break::AcceptWrongCredentials) =>
            {
                (c.operator_id.clone(), c.open_system_id.clone())
            }
            _ => return Err(ApiError::unauthorized("Invalid credentials")),
        };
        let access = self.issue_access_token(operator_id, Some(system));
        self.token_answer(json!({ "accessToken": access }))
    }

    /// `POST /auth/change` (201, no body).
    pub(crate) fn change_password(
        &mut self,
        caller: &Caller,
        input: ChangePassword,
    ) -> Result<Reply, ApiError> {
        let account = self
            .accounts
            .values_mut()
            .find(|a| a.operator_id == caller.operator_id)
            .ok_or_else(|| {
                ApiError::forbidden(Scope::Auth, "You do not have the necessary privileges")
            })?;
        account.password = input.new_password;
        Ok(Reply::empty(201))
    }

    /// `POST /api/v2/systemAuth/token` (200 tokenOutputModel).
    pub(crate) fn introspect(&self, id_token: &str) -> Result<Reply, ApiError> {
        let body = match self.sessions.get(id_token) {
            Some(s) if s.expires_at > Instant::now() => match &s.open_system_id {
                Some(system) => json!({ "openSystemId": system, "active": true }),
                None => json!({ "operatorId": s.operator_id, "active": true }),
            },
            _ => json!({ "active": false }),
        };
        Reply::json(200, body)
    }

    /// The caller behind a bearer token, or the published 401.
    pub(crate) fn authenticate(&self, token: Option<&str>) -> Result<Caller, ApiError> {
        // A broken mock lets the request in as some operator, as a careless gateway would.
        let anyone = || {
            self.operators.keys().next().map(|id| Caller {
                operator_id: id.clone(),
            })
        };
        let Some(token) = token else {
            return match anyone() {
                Some(caller) if self.broken(Break::AcceptMissingBearer) => Ok(caller),
                _ => Err(ApiError::unauthorized("Authentication required")),
            };
        };
        match self.sessions.get(token) {
            Some(s) if s.expires_at > Instant::now() => Ok(Caller {
                operator_id: s.operator_id.clone(),
            }),
            _ => match anyone() {
                Some(caller) if self.broken(Break::AcceptInvalidBearer) => Ok(caller),
                _ => Err(ApiError::unauthorized("Invalid or expired token")),
            },
        }
    }

    // ---- authInfo -----------------------------------------------------------------------------

    /// `GET /api/v1/authInfo?dataTarget=operator` (own, by `openOperatorId`, or `operatorIds`).
    pub(crate) fn get_operator(&self, caller: &Caller, query: &Query) -> Result<Reply, ApiError> {
        match (query.get("openOperatorId"), query.get("operatorIds")) {
            (Some(_), Some(_)) => Err(ApiError::bad_request(
                Scope::Auth,
                "Invalid request parameters, only one of operatorIds and openOperatorId can be set.",
            )),
            (None, Some(_)) => {
                let ids = query.id_list(Scope::Auth, "operatorIds", MAX_OPERATOR_IDS_PER_QUERY)?;
                let found: Vec<&Operator> =
                    ids.iter().filter_map(|id| self.operators.get(id)).collect();
                Reply::json(200, found)
            }
            (Some(open), None) => {
                let operator = self
                    .operators
                    .values()
                    .find(|o| o.open_operator_id == open)
                    .ok_or_else(|| ApiError::not_found(Scope::Auth, "Operator not found"))?;
                Reply::json(200, operator)
            }
            (None, None) => Reply::json(200, &self.operators[&caller.operator_id]),
        }
    }

    /// `PUT /api/v1/authInfo?dataTarget=operator` (201 OperatorModel).
    pub(crate) fn put_operator(
        &mut self,
        caller: &Caller,
        input: Operator,
    ) -> Result<Reply, ApiError> {
        if input.operator_id != caller.operator_id {
            return Err(ApiError::forbidden(
                Scope::Auth,
                "You do not have the necessary privileges",
            ));
        }
        let current = &self.operators[&caller.operator_id];
        if current.open_operator_id != input.open_operator_id {
            return Err(ApiError::bad_request(
                Scope::Auth,
                "openOperatorId: field is immutable.",
            ));
        }
        if let Some(global) = &input.operator_attribute.global_operator_id
            && self.operators.values().any(|o| {
                o.operator_id != caller.operator_id
                    && o.operator_attribute.global_operator_id.as_ref() == Some(global)
            })
        {
            return Err(ApiError::bad_request(
                Scope::Auth,
                format!("globalOperatorId: {global} is already exists."),
            ));
        }
        self.operators
            .insert(caller.operator_id.clone(), input.clone());
        Reply::json(201, input)
    }

    /// `GET /api/v1/authInfo?dataTarget=plant` (200 PlantModel[]).
    pub(crate) fn list_plants(&self, caller: &Caller) -> Result<Reply, ApiError> {
        let mut plants: Vec<&Plant> = self
            .plants
            .values()
            .filter(|p| p.operator_id == caller.operator_id)
            .collect();
        plants.sort_by(|a, b| a.open_plant_id.cmp(&b.open_plant_id));
        Reply::json(200, plants)
    }

    /// `PUT /api/v1/authInfo?dataTarget=plant` (201 PlantModel; `plantId: null` creates).
    pub(crate) fn put_plant(
        &mut self,
        caller: &Caller,
        mut input: Plant,
    ) -> Result<Reply, ApiError> {
        if input.operator_id != caller.operator_id {
            return Err(ApiError::forbidden(
                Scope::Auth,
                "You do not have the necessary privileges",
            ));
        }
        let id = match &input.plant_id {
            Some(id) => match self.plants.get(id) {
                Some(p) if p.operator_id == caller.operator_id => id.clone(),
                _ => {
                    return Err(ApiError::bad_request(
                        Scope::Auth,
                        format!("plantId: {id} does not exist."),
                    ));
                }
            },
            None => self.new_id(),
        };
        let clash = self.plants.values().any(|p| {
            p.operator_id == caller.operator_id
                && p.plant_id.as_deref() != Some(id.as_str())
                && (p.open_plant_id == input.open_plant_id
                    || (input.plant_attribute.global_plant_id.is_some()
                        && p.plant_attribute.global_plant_id
                            == input.plant_attribute.global_plant_id))
        });
        if clash {
            return Err(ApiError::bad_request(
                Scope::Auth,
                format!("openPlantId: {} is already exists.", input.open_plant_id),
            ));
        }
        input.plant_id = Some(id.clone());
        self.plants.insert(id, input.clone());
        Reply::json(201, input)
    }

    // ---- parts --------------------------------------------------------------------------------

    /// Registers or updates a part and returns it with its traceId (the spec's numbering rule:
    /// one traceId per operatorId + plantId + partsName + supportPartsName).
    fn upsert_part(
        &mut self,
        caller: &Caller,
        mut part: Part,
        is_child: bool,
    ) -> Result<Part, ApiError> {
        if part.operator_id != caller.operator_id {
            return Err(ApiError::not_own_data());
        }
        let plant_is_own = self
            .plants
            .get(&part.plant_id)
            .is_some_and(|p| p.operator_id == caller.operator_id);
        if !plant_is_own {
            return Err(ApiError::traceability(
                "指定された事業所は存在しません。",
                "MSGAECP0003",
            ));
        }
        let key = natural_key(&part);
        let trace_id = match part.trace_id.clone() {
            None => match self.natural_keys.get(&key) {
                Some(existing) => existing.clone(),
                None => self.new_id(),
            },
            Some(given) => {
                let record = self
                    .parts
                    .get(&given)
                    .filter(|r| r.part.operator_id == caller.operator_id)
                    .ok_or_else(ApiError::part_not_found)?;
                if record.part.plant_id != part.plant_id {
                    return Err(ApiError::bad_request(
                        Scope::Dataspace,
                        "Validation failed, plantId: field is immutable.",
                    ));
                }
                if natural_key(&record.part) == key && !self.broken(Break::UpdateRenumbersPart) {
                    given
                } else if natural_key(&record.part) == key {
                    self.new_id()
                } else {
                    // A changed partsName/supportPartsName is a different part: new traceId.
                    match self.natural_keys.get(&key) {
                        Some(existing) => existing.clone(),
                        None => self.new_id(),
                    }
                }
            }
        };
        part.trace_id = Some(trace_id.clone());
        let is_child = self.parts.get(&trace_id).map_or(is_child, |r| r.is_child);
        self.natural_keys.insert(key, trace_id.clone());
        self.parts.insert(
            trace_id.clone(),
            PartRecord {
                part: part.clone(),
                is_child,
            },
        );
        *self.stats.parts_received.entry(trace_id).or_default() += 1;
        Ok(part)
    }

    fn own_part(&self, caller: &Caller, trace_id: &str) -> Result<&PartRecord, ApiError> {
        self.parts
            .get(trace_id)
            .filter(|r| r.part.operator_id == caller.operator_id)
            .ok_or_else(ApiError::part_not_found)
    }

    /// `PUT …?dataTarget=parts` (201 PartsModel).
    pub(crate) fn put_part(&mut self, caller: &Caller, part: Part) -> Result<Reply, ApiError> {
        let mut part = self.upsert_part(caller, part, false)?;
        if self.broken(Break::PartTraceIdNotNumbered) {
            part.trace_id = None;
        }
        Reply::json(201, part)
    }

    /// `GET …?dataTarget=parts` (200 PartsModel[], sorted by partsName, paged).
    pub(crate) fn list_parts(&self, caller: &Caller, query: &Query) -> Result<Reply, ApiError> {
        let parent_flag = match query.get("parentFlag") {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => {
                return Err(ApiError::invalid_param(
                    Scope::Dataspace,
                    "parentFlag",
                    "must be true or false",
                ));
            }
        };
        let mut items: Vec<&PartRecord> = self
            .parts
            .values()
            .filter(|r| r.part.operator_id == caller.operator_id)
            .filter(|r| {
                self.broken(Break::PartsTraceIdFilterIgnored)
                    || query
                        .get("traceId")
                        .is_none_or(|t| r.part.trace_id.as_deref() == Some(t))
            })
            .filter(|r| {
                query
                    .get("partsName")
                    .is_none_or(|n| r.part.parts_name == n)
            })
            .filter(|r| query.get("plantId").is_none_or(|p| r.part.plant_id == p))
            .filter(|r| parent_flag.is_none_or(|parent| r.is_child != parent))
            .collect();
        items.sort_by(|a, b| {
            (&a.part.parts_name, &a.part.trace_id).cmp(&(&b.part.parts_name, &b.part.trace_id))
        });
        let keyed = items
            .into_iter()
            .map(|r| (r.part.trace_id.clone().unwrap_or_default(), &r.part))
            .collect();
        self.page(keyed, query)
    }

    /// `DELETE …?dataTarget=parts&traceId=` (204). Refused while the part is in a structure or a
    /// trade, as the spec lists.
    pub(crate) fn delete_part(
        &mut self,
        caller: &Caller,
        query: &Query,
    ) -> Result<Reply, ApiError> {
        let trace_id = query.required(Scope::Dataspace, "traceId")?.to_owned();
        self.own_part(caller, &trace_id)?;
        let in_structure = self
            .structures
            .get(&trace_id)
            .is_some_and(|children| !children.is_empty())
            || self
                .structures
                .values()
                .any(|children| children.iter().any(|(c, _)| *c == trace_id));
        if in_structure {
            return Err(ApiError::traceability(
                "指定された部品は部品構成が存在するため削除できません。",
                "MSGAECP0014",
            ));
        }
        let live = |t: &&TradeRecord| {
            t.status.request_status.cfp_response_status.as_deref() != Some("CANCEL")
        };
        if self
            .trades
            .values()
            .filter(live)
            .any(|t| t.trade.downstream_trace_id == trace_id)
        {
            return Err(ApiError::traceability(
                "指定された部品は依頼済みのため削除できません。",
                "MSGAECP0015",
            ));
        }
        if self
            .trades
            .values()
            .filter(live)
            .any(|t| t.trade.upstream_trace_id.as_deref() == Some(trace_id.as_str()))
        {
            return Err(ApiError::traceability(
                "指定された部品は受領済みの依頼に紐づいているため削除できません。",
                "MSGAECP0016",
            ));
        }
        if let Some(record) = self.parts.remove(&trace_id) {
            self.natural_keys.remove(&natural_key(&record.part));
        }
        self.structures.remove(&trace_id);
        self.cfps.remove(&trace_id);
        self.certifications.remove(&trace_id);
        Ok(Reply::empty(204))
    }

    // ---- partsStructure -----------------------------------------------------------------------

    /// `PUT …?dataTarget=partsStructure` (201 PartsStructureModel with traceIds numbered).
    pub(crate) fn put_structure(
        &mut self,
        caller: &Caller,
        input: PartsStructure,
    ) -> Result<Reply, ApiError> {
        // Check every part before storing any, so a refusal stores nothing.
        for part in std::iter::once(&input.parent_parts_model).chain(&input.children_parts_model) {
            if part.operator_id != caller.operator_id {
                return Err(ApiError::not_own_data());
            }
            if let Some(t) = &part.trace_id {
                self.own_part(caller, t)?;
            }
        }
        let parent = self.upsert_part(caller, input.parent_parts_model, false)?;
        let mut children = Vec::with_capacity(input.children_parts_model.len());
        for child in input.children_parts_model {
            children.push(self.upsert_part(caller, child, true)?);
        }
        let parent_id = parent.trace_id.clone().unwrap_or_default();
        self.structures.insert(
            parent_id,
            children
                .iter()
                .map(|c| {
                    (
                        c.trace_id.clone().unwrap_or_default(),
                        c.amount_required.clone(),
                    )
                })
                .collect(),
        );
        Reply::json(
            201,
            PartsStructure {
                parent_parts_model: parent,
                children_parts_model: children,
            },
        )
    }

    /// `GET …?dataTarget=partsStructure&traceId=` (200 PartsStructureModel).
    pub(crate) fn get_structure(&self, caller: &Caller, query: &Query) -> Result<Reply, ApiError> {
        let trace_id = query.required(Scope::Dataspace, "traceId")?;
        let parent = self.own_part(caller, trace_id)?.part.clone();
        let children = self
            .structures
            .get(trace_id)
            .into_iter()
            .flatten()
            .filter_map(|(child, amount)| {
                let mut part = self.parts.get(child)?.part.clone();
                part.amount_required = amount
                    .clone()
                    .filter(|_| !self.broken(Break::StructureAmountsDropped));
                Some(part)
            })
            .collect();
        Reply::json(
            200,
            PartsStructure {
                parent_parts_model: parent,
                children_parts_model: children,
            },
        )
    }

    // ---- cfp ----------------------------------------------------------------------------------

    /// `PUT …?dataTarget=cfp` (201 CfpModel[] with the cfpId numbered). The four-element rules are
    /// checked by the wire schema module before this runs.
    pub(crate) fn put_cfp(
        &mut self,
        caller: &Caller,
        mut elements: Vec<super::model::Cfp>,
    ) -> Result<Reply, ApiError> {
        let trace_id = elements
            .first()
            .map(|e| e.trace_id.clone())
            .unwrap_or_default();
        self.own_part(caller, &trace_id)?;
        let given = elements.first().and_then(|e| e.cfp_id.clone());
        let existing = self
            .cfps
            .get(&trace_id)
            .and_then(|v| v.first())
            .and_then(|e| e.cfp_id.clone());
        let cfp_id = match (given, existing) {
            (None, None) => self.new_id(),
            (None, Some(_)) => {
                return Err(ApiError::traceability(
                    "指定されたトレース識別子には既にCFP情報が登録されています。",
                    "MSGAECP0020",
                ));
            }
            (Some(given), Some(existing)) if given == existing => given,
            (Some(_), _) => {
                return Err(ApiError::traceability(
                    "指定されたCFP情報は存在しません。",
                    "MSGAECP0021",
                ));
            }
        };
        for element in &mut elements {
            element.cfp_id = Some(if self.broken(Break::CfpIdPerElement) {
                self.rng.uuid().to_string()
            } else {
                cfp_id.clone()
            });
        }
        // Stored in the published order of cfpTypes.
        elements.sort_by_key(|e| {
            CFP_TYPES_ACCEPTED_ON_PUT
                .iter()
                .position(|t| *t == e.cfp_type)
                .unwrap_or(usize::MAX)
        });
        self.cfps.insert(trace_id, elements.clone());
        Reply::json(201, elements)
    }

    /// `GET …?dataTarget=cfp&traceIds=` (200 CfpModel[], in the order of `traceIds`). For an own
    /// part whose CFP was requested from a supplier who answered, the supplier's figures appear as
    /// `preProductionResponse`/`mainProductionResponse` with `cfpId: null`, as in the spec.
    pub(crate) fn get_cfp(&self, caller: &Caller, query: &Query) -> Result<Reply, ApiError> {
        let ids = query.id_list(Scope::Dataspace, "traceIds", MAX_TRACE_IDS_PER_QUERY)?;
        let mut out = Vec::new();
        for trace_id in &ids {
            if self.own_part(caller, trace_id).is_err() {
                continue;
            }
            out.extend(self.cfps.get(trace_id).into_iter().flatten().map(|e| {
                let mut e = e.clone();
                if self.broken(Break::CfpEmissionRounded) {
                    e.ghg_emission = e
                        .ghg_emission
                        .as_ref()
                        .and_then(Number::as_f64)
                        .and_then(|x| Number::from_f64((x * 10.0).round() / 10.0));
                }
                e
            }));
            let answered = self.trades.values().filter(|t| {
                !self.broken(Break::ResponseFiguresHidden)
                    && t.trade.downstream_trace_id == *trace_id
                    && t.status.request_status.cfp_response_status.as_deref() == Some("COMPLETED")
            });
            for trade in answered {
                let Some(upstream) = trade.trade.upstream_trace_id.as_ref() else {
                    continue;
                };
                let Some(elements) = self.cfps.get(upstream) else {
                    continue;
                };
                for (stage, response_type, dqr_response) in [
                    ("pre", "preProductionResponse", "preProcessingResponse"),
                    ("main", "mainProductionResponse", "mainProcessingResponse"),
                ] {
                    let of_stage: Vec<_> = elements
                        .iter()
                        .filter(|e| e.cfp_type.starts_with(stage))
                        .collect();
                    let Some(first) = of_stage.first() else {
                        continue;
                    };
                    let sum: f64 = of_stage
                        .iter()
                        .filter_map(|e| e.ghg_emission.as_ref().and_then(Number::as_f64))
                        .sum();
                    out.push(super::model::Cfp {
                        cfp_id: None,
                        trace_id: trace_id.clone(),
                        ghg_emission: Number::from_f64((sum * 1e5).round() / 1e5),
                        ghg_declared_unit: first.ghg_declared_unit.clone(),
                        cfp_type: response_type.into(),
                        dqr_type: dqr_response.into(),
                        dqr_value: first.dqr_value.clone(),
                    });
                }
            }
        }
        Reply::json(200, out)
    }

    /// `GET …?dataTarget=cfpCertification&traceId=` (200 CfpCertificationModel[]).
    pub(crate) fn get_certifications(
        &self,
        caller: &Caller,
        query: &Query,
    ) -> Result<Reply, ApiError> {
        let trace_id = query.required(Scope::Dataspace, "traceId")?;
        let own = self.own_part(caller, trace_id).is_ok();
        let certs: Vec<&Value> = if own {
            self.certifications
                .get(trace_id)
                .into_iter()
                .flatten()
                .collect()
        } else {
            Vec::new()
        };
        Reply::json(200, certs)
    }

    // ---- trades -------------------------------------------------------------------------------

    /// `PUT …?dataTarget=tradeRequest` (201 TradeRequestModel): the downstream operator asks its
    /// supplier for a CFP answer on one of its own parts.
    pub(crate) fn put_trade_request(
        &mut self,
        caller: &Caller,
        input: TradeRequest,
    ) -> Result<Reply, ApiError> {
        let trade = input.trade_model;
        if trade.downstream_operator_id != caller.operator_id {
            return Err(ApiError::not_own_data());
        }
        self.own_part(caller, &trade.downstream_trace_id)?;
        if !self.operators.contains_key(&trade.upstream_operator_id) {
            return Err(ApiError::traceability(
                "指定された事業者は存在しません。",
                "MSGAECP0004",
            ));
        }
        let stamp = now();
        let (trade_id, status_id, seq) = match &trade.trade_id {
            None => {
                self.trade_seq += 1;
                (self.new_id(), self.new_id(), self.trade_seq)
            }
            Some(id) => match self.trades.get(id) {
                Some(t) if t.trade.downstream_operator_id == caller.operator_id => (
                    id.clone(),
                    t.status.status_id.clone().unwrap_or_default(),
                    t.seq,
                ),
                _ => {
                    return Err(ApiError::traceability(
                        "指定された取引関係は存在しません。",
                        "MSGAECP0017",
                    ));
                }
            },
        };
        let trade = Trade {
            trade_id: Some(trade_id.clone()),
            upstream_trace_id: None,
            ..trade
        };
        let status = Status {
            message: input.status_model.message,
            reply_message: None,
            request_status: RequestStatus {
                cfp_response_status: Some("NOT_COMPLETED".into()),
                trade_tree_status: Some("UNTERMINATED".into()),
                completed_count: Some(0.into()),
                completed_count_modified_at: Some(stamp.clone()),
                trades_count: Some(0.into()),
                trades_count_modified_at: Some(stamp),
            },
            request_type: "CFP".into(),
            status_id: Some(status_id),
            trade_id: Some(trade_id.clone()),
            response_due_date: input.status_model.response_due_date,
        };
        self.trades.insert(
            trade_id,
            TradeRecord {
                seq,
                trade: trade.clone(),
                status: status.clone(),
            },
        );
        let (mut trade, mut status) = (trade, status);
        if self.broken(Break::TradeIdNotNumbered) {
            trade.trade_id = None;
            status.trade_id = None;
        }
        Reply::json(
            201,
            TradeRequest {
                status_model: status,
                trade_model: trade,
            },
        )
    }

    /// `GET …?dataTarget=tradeRequest` (200 TradeModel[], newest first; `traceIds` filters on
    /// `downstreamTraceId` and disables paging).
    pub(crate) fn list_trade_requests(
        &self,
        caller: &Caller,
        query: &Query,
    ) -> Result<Reply, ApiError> {
        let filter = match query.get("traceIds") {
            Some(_) => {
                Some(query.id_list(Scope::Dataspace, "traceIds", MAX_TRACE_IDS_PER_QUERY)?)
            }
            None => None,
        };
        let items: Vec<(String, &Trade)> = self
            .trades_newest_first()
            .filter(|t| t.trade.downstream_operator_id == caller.operator_id)
            .filter(|t| {
                filter
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&t.trade.downstream_trace_id))
            })
            .map(|t| (t.trade.trade_id.clone().unwrap_or_default(), &t.trade))
            .collect();
        if filter.is_some() {
            return Reply::json(200, items.into_iter().map(|(_, t)| t).collect::<Vec<_>>());
        }
        self.page(items, query)
    }

    /// `GET …?dataTarget=tradeResponse` (200 TradeResponseModel[]): requests addressed to the
    /// caller, each with the requester's part (its `amountRequired` withheld as `null`).
    pub(crate) fn list_trade_responses(
        &self,
        caller: &Caller,
        query: &Query,
    ) -> Result<Reply, ApiError> {
        let items: Vec<(String, TradeResponse)> = self
            .trades_newest_first()
            .filter(|t| t.trade.upstream_operator_id == caller.operator_id)
            .filter_map(|t| {
                let mut part = self.parts.get(&t.trade.downstream_trace_id)?.part.clone();
                part.amount_required = None;
                Some((
                    t.trade.trade_id.clone().unwrap_or_default(),
                    TradeResponse {
                        status_model: t.status.clone(),
                        trade_model: t.trade.clone(),
                        parts_model: part,
                    },
                ))
            })
            .collect();
        self.page(items, query)
    }

    /// `PUT …?dataTarget=tradeResponse&tradeId=&traceId=` (201 TradeModel): the supplier links
    /// its own part to the request; the request's status becomes COMPLETED.
    pub(crate) fn put_trade_response(
        &mut self,
        caller: &Caller,
        query: &Query,
    ) -> Result<Reply, ApiError> {
        let trade_id = query.required(Scope::Dataspace, "tradeId")?.to_owned();
        let trace_id = query.required(Scope::Dataspace, "traceId")?.to_owned();
        let terminated = self.own_part(caller, &trace_id)?.part.terminated_flag;
        let record = self.trades.get_mut(&trade_id).ok_or_else(|| {
            ApiError::traceability("指定された取引関係は存在しません。", "MSGAECP0017")
        })?;
        if record.trade.upstream_operator_id != caller.operator_id {
            return Err(ApiError::not_own_data());
        }
        if record.status.request_status.cfp_response_status.as_deref() == Some("CANCEL") {
            return Err(ApiError::traceability(
                "指定された依頼は取消済みです。",
                "MSGAECP0018",
            ));
        }
        let stamp = now();
        record.trade.upstream_trace_id = Some(trace_id);
        let completed = !self.breaks.contains(&Break::StatusNotCompleted);
        let rs = &mut record.status.request_status;
        if completed {
            rs.cfp_response_status = Some("COMPLETED".into());
        }
        rs.trade_tree_status = Some(
            if terminated {
                "TERMINATED"
            } else {
                "UNTERMINATED"
            }
            .into(),
        );
        rs.completed_count = Some(1.into());
        rs.completed_count_modified_at = Some(stamp.clone());
        rs.trades_count = Some(1.into());
        rs.trades_count_modified_at = Some(stamp);
        let trade = record.trade.clone();
        Reply::json(201, trade)
    }

    /// `GET …?dataTarget=status` (200 StatusModel[], newest first, paged).
    pub(crate) fn list_statuses(&self, caller: &Caller, query: &Query) -> Result<Reply, ApiError> {
        let target = query.get("statusTarget");
        if let Some(t) = target
            && !STATUS_TARGETS.contains(&t)
        {
            return Err(ApiError::invalid_param(
                Scope::Dataspace,
                "statusTarget",
                "must be REQUEST or RESPONSE",
            ));
        }
        if target == Some("REQUEST") && query.get("statusId").is_some() {
            return Err(ApiError::bad_request(
                Scope::Dataspace,
                "Invalid request parameters, statusId cannot be used with statusTarget=REQUEST.",
            ));
        }
        let me = &caller.operator_id;
        let items: Vec<(String, &Status)> = self
            .trades_newest_first()
            .filter(|t| match target {
                Some("REQUEST") => t.trade.downstream_operator_id == *me,
                Some(_) if self.broken(Break::SupplierInboxEmpty) => false,
                Some(_) => t.trade.upstream_operator_id == *me,
                None => {
                    t.trade.downstream_operator_id == *me || t.trade.upstream_operator_id == *me
                }
            })
            .filter(|t| {
                query
                    .get("statusId")
                    .is_none_or(|s| t.status.status_id.as_deref() == Some(s))
            })
            .filter(|t| {
                target != Some("REQUEST")
                    || query
                        .get("traceId")
                        .is_none_or(|tr| t.trade.downstream_trace_id == tr)
            })
            .map(|t| (t.status.status_id.clone().unwrap_or_default(), &t.status))
            .collect();
        self.page(items, query)
    }

    /// `PUT …?dataTarget=status` (201, no body): the requester cancels (`CANCEL`) or the
    /// supplier sends the request back (`REJECT`, with `replyMessage`).
    pub(crate) fn put_status(&mut self, caller: &Caller, input: Status) -> Result<Reply, ApiError> {
        let status_id = input.status_id.ok_or_else(|| {
            ApiError::bad_request(
                Scope::Dataspace,
                "Validation failed, statusId: cannot be blank.",
            )
        })?;
        let record = self
            .trades
            .values_mut()
            .find(|t| t.status.status_id.as_deref() == Some(status_id.as_str()))
            .ok_or_else(|| {
                ApiError::traceability("指定された依頼は存在しません。", "MSGAECP0019")
            })?;
        let wanted = input.request_status.cfp_response_status.as_deref();
        let allowed = match wanted {
            Some("CANCEL") => record.trade.downstream_operator_id == caller.operator_id,
            Some("REJECT") => record.trade.upstream_operator_id == caller.operator_id,
            _ => {
                return Err(ApiError::bad_request(
                    Scope::Dataspace,
                    "Validation failed, requestStatus.cfpResponseStatus: must be CANCEL or REJECT.",
                ));
            }
        };
        if !allowed {
            return Err(ApiError::not_own_data());
        }
        record.status.request_status.cfp_response_status = wanted.map(str::to_owned);
        if wanted == Some("REJECT") {
            record.status.reply_message = input.reply_message;
        }
        Ok(Reply::empty(201))
    }

    fn trades_newest_first(&self) -> impl Iterator<Item = &TradeRecord> {
        let mut all: Vec<&TradeRecord> = self.trades.values().collect();
        all.sort_by_key(|t| std::cmp::Reverse(t.seq));
        all.into_iter()
    }

    // ---- paging -------------------------------------------------------------------------------

    /// One page of `items` (already sorted, each with its cursor id) per `limit`/`after`.
    fn page<T: Serialize>(
        &self,
        items: Vec<(String, T)>,
        query: &Query,
    ) -> Result<Reply, ApiError> {
        let limit = match query.get("limit") {
            None => self.default_page_size,
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE_LIMIT).contains(&n) => n,
                Ok(n) if n > 0 && self.broken(Break::AcceptLimitOver100) => n,
                _ => {
                    return Err(ApiError::invalid_param(
                        Scope::Dataspace,
                        "limit",
                        &format!("must be between 1 and {MAX_PAGE_LIMIT}"),
                    ));
                }
            },
        };
        let endless = self.hostile_paging == Some(HostilePaging::EndlessCursor);
        let start = match query.get("after") {
            None => 0,
            Some(after) => match items.iter().position(|(id, _)| id == after) {
                Some(position) => position,
                // Hostile on purpose: an unknown cursor starts the list over.
                None if endless => 0,
                None => {
                    return Err(ApiError::invalid_param(
                        Scope::Dataspace,
                        "after",
                        "unknown position",
                    ));
                }
            },
        };
        let next = if endless {
            // Hostile on purpose: a fresh cursor on every page, the last one included.
            Some(Page {
                limit,
                after: uuid::Uuid::new_v4().to_string(),
            })
        } else {
            items.get(start + limit).map(|(id, _)| Page {
                limit,
                after: id.clone(),
            })
        };
        // Hostile on purpose: every item from the cursor on, whatever `limit` said.
        let oversized = self.hostile_paging == Some(HostilePaging::OversizedPages);
        let page: Vec<T> = items
            .into_iter()
            .skip(start)
            .take(if oversized { usize::MAX } else { limit })
            .map(|(_, v)| v)
            .collect();
        let mut reply = Reply::json(200, page)?;
        reply.next = next;
        Ok(reply)
    }
}

fn natural_key(part: &Part) -> (String, String, String, String) {
    (
        part.operator_id.clone(),
        part.plant_id.clone(),
        part.parts_name.clone(),
        part.support_parts_name.clone().unwrap_or_default(),
    )
}

/// Allowed query parameters of each operation; anything else is the spec's
/// "Unexpected query parameter" 400.
pub(crate) fn allowed_params(target: Target, method: &str) -> &'static [&'static str] {
    match (target, method) {
        (Target::Parts, "GET") => &[
            "dataTarget",
            "limit",
            "after",
            "traceId",
            "partsName",
            "plantId",
            "parentFlag",
        ],
        (Target::Parts, "DELETE") => &["dataTarget", "traceId"],
        (Target::PartsStructure, "GET") => &["dataTarget", "traceId"],
        (Target::TradeRequest, "GET") => &["dataTarget", "limit", "after", "traceIds"],
        (Target::TradeResponse, "GET") => &["dataTarget", "limit", "after"],
        (Target::TradeResponse, "PUT") => &["dataTarget", "tradeId", "traceId"],
        (Target::Status, "GET") => &[
            "dataTarget",
            "limit",
            "after",
            "statusTarget",
            "statusId",
            "traceId",
        ],
        (Target::Cfp, "GET") => &["dataTarget", "traceIds"],
        (Target::CfpCertification, "GET") => &["dataTarget", "traceId"],
        (Target::Operator, "GET") => &["dataTarget", "openOperatorId", "operatorIds"],
        _ => &["dataTarget"],
    }
}
