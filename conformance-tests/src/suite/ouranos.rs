//! Ouranos Ecosystem cases (`OUR-…`): authentication, parts, parts structures, CFP, the trade
//! flow and error shapes, checked against data-transaction-system v3.0.0 and ic-user-auth v0.0.5.
//!
//! Ouranos does no payload signing, so there are no signature cases.
//!
//! Cases run in order and share a context: one login per operator, and the parts, CFP and trade
//! each case needs, registered on first use (so any subset can run alone). A prerequisite that
//! fails fails the case with a reason saying so: a case that could not be checked is not a pass.
//! Test data is named `DPPCONF-<run id>-…` and left in place (the spec forbids deleting parts
//! that are in a structure or a trade).

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use chrono::Utc;
use dpp_schemas::wire::ouranos::{CFP_TYPES_ACCEPTED_ON_PUT, Method as Wm, Target as Wt, ouranos};
use reqwest::Method;
use serde_json::{Value, json};

use super::probe::{Answer, Probe, SentHeader};
use super::report::{CaseReport, Outcome, SuiteReport};
use super::target::{Credentials, Login, Target};
use super::{CaseFilter, CaseInfo, DataSpace, Level};

macro_rules! dts {
    ($path:literal) => {
        concat!(
            "ouranos/data-transaction-system/openapi.yaml#/paths/",
            $path
        )
    };
}

const fn case(
    id: &'static str,
    area: &'static str,
    level: Level,
    description: &'static str,
    spec: &'static str,
) -> CaseInfo {
    CaseInfo {
        id,
        data_space: DataSpace::Ouranos,
        area,
        level,
        description,
        spec,
    }
}

use Level::{Mandatory as M, Recommended as R};

/// Every Ouranos case, in run order.
pub(super) const CASES: &[CaseInfo] = &[
    case(
        "OUR-AUTH-01",
        "AUTH",
        M,
        "valid credentials get an access token (v1 POST /auth/login or v2 POST /auth/client: 201, schema-valid) that opens the data API",
        concat!(
            dts!("~1auth~1login/post"),
            "; ouranos/ic-user-auth/paths/client.yaml#/post"
        ),
    ),
    case(
        "OUR-AUTH-02",
        "AUTH",
        M,
        "a wrong password or client secret is refused with 401 [auth] Unauthorized in the published error shape",
        concat!(
            dts!("~1auth~1login/post/responses/401"),
            "; ouranos/ic-user-auth/paths/client.yaml#/post/responses/401"
        ),
    ),
    case(
        "OUR-AUTH-03",
        "AUTH",
        M,
        "an invalid or expired bearer token is refused with 401 [auth] Unauthorized",
        dts!("~1api~1v1~1datatransport?dataTarget=parts/get/responses/401"),
    ),
    case(
        "OUR-AUTH-04",
        "AUTH",
        M,
        "a request without a bearer token is refused with 401 [auth] Unauthorized",
        dts!("~1api~1v1~1datatransport?dataTarget=parts/get/responses/401"),
    ),
    case(
        "OUR-AUTH-05",
        "AUTH",
        M,
        "a request without the apiKey header is refused with 403 [auth] AccessDenied",
        dts!("~1api~1v1~1datatransport?dataTarget=parts/get/responses/403"),
    ),
    case(
        "OUR-AUTH-06",
        "AUTH",
        M,
        "a wrong apiKey is refused with 403 [auth] AccessDenied",
        dts!("~1api~1v1~1datatransport?dataTarget=parts/get/responses/403"),
    ),
    case(
        "OUR-PARTS-01",
        "PARTS",
        M,
        "PUT parts with traceId null registers the part: 201, a schema-valid PartsModel with a numbered traceId and the fields sent",
        dts!("~1api~1v1~1datatransport?dataTarget=parts/put"),
    ),
    case(
        "OUR-PARTS-02",
        "PARTS",
        M,
        "GET parts with traceId reads back exactly that part, schema-valid and as registered",
        dts!("~1api~1v1~1datatransport?dataTarget=parts/get"),
    ),
    case(
        "OUR-PARTS-03",
        "PARTS",
        M,
        "GET parts pages with limit/after: the link header leads from a full first page to the rest, every part once, each page schema-valid",
        dts!("~1api~1v1~1datatransport?dataTarget=parts/get/responses/200/headers/link"),
    ),
    case(
        "OUR-PARTS-04",
        "PARTS",
        M,
        "PUT parts with an existing traceId updates that part in place: the traceId stays and the change reads back",
        dts!("~1api~1v1~1datatransport?dataTarget=parts/put"),
    ),
    case(
        "OUR-PARTS-05",
        "PARTS",
        M,
        "a part body that breaks the schema (partsName over 50 characters, unknown amountRequiredUnit) is refused with 400 BadRequest in the published shape",
        dts!("~1api~1v1~1datatransport?dataTarget=parts/put/responses/400"),
    ),
    case(
        "OUR-PARTS-06",
        "PARTS",
        R,
        "limit above 100 is refused with 400 BadRequest",
        dts!("~1api~1v1~1datatransport?dataTarget=parts/get/parameters/1"),
    ),
    case(
        "OUR-STRUCT-01",
        "STRUCT",
        M,
        "PUT partsStructure registers a parent with children (201, schema-valid, traceIds numbered) and GET partsStructure returns the children with their amountRequired",
        concat!(
            dts!("~1api~1v1~1datatransport?dataTarget=partsStructure/put"),
            "; ",
            dts!("~1api~1v1~1datatransport?dataTarget=partsStructure&traceId={uuid}/get")
        ),
    ),
    case(
        "OUR-STRUCT-02",
        "STRUCT",
        M,
        "a partsStructure with more than 50 children is refused with 400 BadRequest",
        dts!("~1api~1v1~1datatransport?dataTarget=partsStructure/put/requestBody"),
    ),
    case(
        "OUR-STRUCT-03",
        "STRUCT",
        M,
        "a partsStructure whose parent carries an amountRequired is refused with 400 BadRequest",
        dts!("~1api~1v1~1datatransport?dataTarget=partsStructure/put/description"),
    ),
    case(
        "OUR-CFP-01",
        "CFP",
        M,
        "PUT cfp with the four cfpTypes (preProduction, mainProduction, preComponent, mainComponent) numbers one cfpId shared by all four (201, schema-valid)",
        dts!("~1api~1v1~1datatransport?dataTarget=cfp/put"),
    ),
    case(
        "OUR-CFP-02",
        "CFP",
        M,
        "GET cfp with traceIds returns the four elements as registered (ghgEmission, unit, dqrType, dqrValue) under one cfpId, schema-valid",
        dts!("~1api~1v1~1datatransport?dataTarget=cfp&traceIds={uuid}/get"),
    ),
    case(
        "OUR-CFP-03",
        "CFP",
        M,
        "a cfp set without all four cfpTypes is refused with 400 BadRequest",
        dts!("~1api~1v1~1datatransport?dataTarget=cfp/put/description"),
    ),
    case(
        "OUR-CFP-04",
        "CFP",
        M,
        "a ghgEmission with more than 5 decimals is refused with 400 BadRequest",
        dts!("~1api~1v1~1datatransport?dataTarget=cfp/put/description"),
    ),
    case(
        "OUR-TRADE-01",
        "TRADE",
        M,
        "PUT tradeRequest by the requester numbers a tradeId and a statusId (201, schema-valid TradeRequestModel, not completed)",
        dts!("~1api~1v1~1datatransport?dataTarget=tradeRequest/put"),
    ),
    case(
        "OUR-TRADE-02",
        "TRADE",
        M,
        "the supplier sees the request: GET status with statusTarget=RESPONSE lists it NOT_COMPLETED and GET tradeResponse lists it with the requester's part",
        concat!(
            dts!("~1api~1v1~1datatransport?dataTarget=status/get"),
            "; ",
            dts!("~1api~1v1~1datatransport?dataTarget=tradeResponse/get")
        ),
    ),
    case(
        "OUR-TRADE-03",
        "TRADE",
        M,
        "PUT tradeResponse by the supplier links its part (201, schema-valid) and the requester's status becomes COMPLETED",
        concat!(
            dts!(
                "~1api~1v1~1datatransport?dataTarget=tradeResponse&tradeId={uuid}&traceId={uuid}/put"
            ),
            "; ",
            dts!("~1api~1v1~1datatransport?dataTarget=status/get")
        ),
    ),
    case(
        "OUR-TRADE-04",
        "TRADE",
        R,
        "after the answer the requester's GET cfp shows the supplier's figures as preProductionResponse and mainProductionResponse",
        dts!("~1api~1v1~1datatransport?dataTarget=cfp&traceIds={uuid}/get/description"),
    ),
    case(
        "OUR-ERR-01",
        "ERR",
        M,
        "an unknown dataTarget is refused with 400 [dataspace] BadRequest as {code, message, detail}",
        dts!("~1api~1v1~1datatransport?dataTarget=parts/get/responses/400"),
    ),
    case(
        "OUR-ERR-02",
        "ERR",
        M,
        "a missing required query parameter (partsStructure without traceId) is refused with 400 BadRequest as {code, message, detail}",
        dts!("~1api~1v1~1datatransport?dataTarget=partsStructure&traceId={uuid}/get/responses/400"),
    ),
    case(
        "OUR-ERR-03",
        "ERR",
        R,
        "every /api answer, success or error, carries an x-track header",
        dts!("~1api~1v1~1datatransport?dataTarget=parts/get/responses/200/headers/x-track"),
    ),
    case(
        "OUR-ERR-04",
        "ERR",
        R,
        "an unknown endpoint answers 404 NotFound as {code, message, detail}",
        dts!("~1api~1v1~1datatransport?dataTarget=parts/get/responses/404"),
    ),
    case(
        "OUR-ERR-05",
        "ERR",
        R,
        "an unknown query parameter is refused with 400 [dataspace] BadRequest",
        dts!("~1api~1v1~1datatransport?dataTarget=parts/get/responses/400"),
    ),
];

const PARTS: &str = "/api/v1/datatransport?dataTarget=parts";
const LABEL: &str = "dpp-conformance test part";
/// Pages followed at most when looking for an item in a paged list.
const MAX_PAGES: usize = 20;
const BAD_REQUEST: &[&str] = &["[dataspace] BadRequest", "[traceability] BadRequest"];
const WRONG_API_KEY: &str = "dpp-conformance-wrong-api-key";
const FORGED_TOKEN: &str = "dpp-conformance-invalid-or-expired-token";

/// Why a case failed. (Ouranos has no case that can be inapplicable, so no skip yet.)
struct Stop(String);

type Check<T = ()> = Result<T, Stop>;

fn fail<T>(reason: impl Into<String>) -> Check<T> {
    Err(Stop(reason.into()))
}

fn ensure(condition: bool, reason: impl FnOnce() -> String) -> Check {
    if condition { Ok(()) } else { fail(reason()) }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Party {
    Requester,
    Supplier,
}

/// A logged-in operator.
#[derive(Debug, Clone)]
struct Session {
    api_key: String,
    token: String,
    operator_id: String,
    plant_id: String,
}

/// Which headers a request carries.
enum Auth<'a> {
    /// `apiKey` + bearer: a proper call.
    Full(&'a Session),
    /// `apiKey` only.
    NoBearer(&'a Session),
    /// Bearer only.
    NoApiKey(&'a Session),
    /// A wrong `apiKey` + the proper bearer.
    WrongApiKey(&'a Session),
    /// The proper `apiKey` + a forged bearer.
    ForgedBearer(&'a Session),
    /// `apiKey` only, before a session exists (login).
    ApiKey(&'a str),
}

impl Auth<'_> {
    fn headers(&self) -> Vec<SentHeader> {
        let api_key = |value: &str, secret| SentHeader {
            name: "apiKey",
            value: value.to_owned(),
            secret,
        };
        let bearer = |token: &str, secret| SentHeader {
            name: "Authorization",
            value: format!("Bearer {token}"),
            secret,
        };
        match self {
            Auth::Full(s) => vec![api_key(&s.api_key, true), bearer(&s.token, true)],
            Auth::NoBearer(s) => vec![api_key(&s.api_key, true)],
            Auth::NoApiKey(s) => vec![bearer(&s.token, true)],
            Auth::WrongApiKey(s) => vec![api_key(WRONG_API_KEY, false), bearer(&s.token, true)],
            Auth::ForgedBearer(s) => vec![api_key(&s.api_key, true), bearer(FORGED_TOKEN, false)],
            Auth::ApiKey(key) => vec![api_key(key, true)],
        }
    }
}

#[derive(Debug, Clone)]
struct TradeIds {
    trade_id: String,
    status_id: String,
    bought: String,
    sold: String,
}

/// What the cases share during one run.
struct Ctx<'t> {
    target: &'t Target,
    probe: Probe,
    /// Names this run's test data.
    run_id: String,
    sessions: HashMap<Party, Result<Session, String>>,
    /// (party, name suffix, supportPartsName) → traceId.
    parts: HashMap<(Party, String, String), Result<String, String>>,
    /// traceId → the CFP elements registered for it.
    cfps: HashMap<String, Result<Vec<Value>, String>>,
    trade: Option<Result<TradeIds, String>>,
    answered: Option<Result<(), String>>,
}

pub(super) async fn run(target: &Target, filter: &CaseFilter) -> SuiteReport {
    let started_at = Utc::now();
    let started = Instant::now();
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
    let mut ctx = Ctx {
        target,
        probe: Probe::new(target),
        run_id: run_id.clone(),
        sessions: HashMap::new(),
        parts: HashMap::new(),
        cfps: HashMap::new(),
        trade: None,
        answered: None,
    };
    let mut reports = Vec::new();
    for info in CASES.iter().filter(|c| filter.matches(c)) {
        let case_started = Instant::now();
        let (outcome, reason) = match dispatch(&mut ctx, info.id).await {
            Ok(note) => (Outcome::Pass, note),
            Err(Stop(reason)) => (Outcome::Fail, Some(reason)),
        };
        reports.push(CaseReport::new(
            info,
            outcome,
            reason,
            case_started.elapsed(),
            ctx.probe.take_log(),
        ));
    }
    let mut login = target.credentials().login.describe();
    if let Some(counterpart) = target.counterpart() {
        login.push_str(&format!(", supplier {}", counterpart.login.describe()));
    }
    SuiteReport::new(
        DataSpace::Ouranos,
        target.endpoint(),
        login,
        run_id,
        started_at,
        started.elapsed(),
        reports,
    )
}

/// Runs one case; `Ok(Some(note))` is a pass with a remark.
async fn dispatch(ctx: &mut Ctx<'_>, id: &str) -> Check<Option<String>> {
    match id {
        "OUR-AUTH-01" => auth_01_login(ctx).await,
        "OUR-AUTH-02" => auth_02_wrong_credentials(ctx).await,
        "OUR-AUTH-03" => auth_03_invalid_bearer(ctx).await,
        "OUR-AUTH-04" => auth_04_missing_bearer(ctx).await,
        "OUR-AUTH-05" => auth_05_missing_api_key(ctx).await,
        "OUR-AUTH-06" => auth_06_wrong_api_key(ctx).await,
        "OUR-PARTS-01" => parts_01_register(ctx).await,
        "OUR-PARTS-02" => parts_02_read_back(ctx).await,
        "OUR-PARTS-03" => parts_03_paging(ctx).await,
        "OUR-PARTS-04" => parts_04_update(ctx).await,
        "OUR-PARTS-05" => parts_05_invalid_body(ctx).await,
        "OUR-PARTS-06" => parts_06_limit_over_100(ctx).await,
        "OUR-STRUCT-01" => struct_01_put_get(ctx).await,
        "OUR-STRUCT-02" => struct_02_over_50_children(ctx).await,
        "OUR-STRUCT-03" => struct_03_parent_amount(ctx).await,
        "OUR-CFP-01" => cfp_01_four_elements(ctx).await,
        "OUR-CFP-02" => cfp_02_read_back(ctx).await,
        "OUR-CFP-03" => cfp_03_incomplete(ctx).await,
        "OUR-CFP-04" => cfp_04_decimals(ctx).await,
        "OUR-TRADE-01" => trade_01_request(ctx).await,
        "OUR-TRADE-02" => trade_02_supplier_sees(ctx).await,
        "OUR-TRADE-03" => trade_03_response(ctx).await,
        "OUR-TRADE-04" => trade_04_response_figures(ctx).await,
        "OUR-ERR-01" => err_01_unknown_target(ctx).await,
        "OUR-ERR-02" => err_02_missing_param(ctx).await,
        "OUR-ERR-03" => err_03_x_track(ctx).await,
        "OUR-ERR-04" => err_04_unknown_endpoint(ctx).await,
        "OUR-ERR-05" => err_05_unknown_param(ctx).await,
        other => fail(format!("case {other} has no implementation")),
    }
}

// ---- checks -----------------------------------------------------------------------------------

fn expect_status(answer: &Answer, status: u16, what: &str) -> Check {
    ensure(answer.status == status, || {
        format!("{what}: expected HTTP {status}, got {}", answer.brief())
    })
}

/// The JSON body, valid against the official response schema for its status.
fn expect_valid<'a>(answer: &'a Answer, target: Wt, method: Wm, what: &str) -> Check<&'a Value> {
    let Some(body) = answer.json.as_ref() else {
        return fail(format!("{what}: the body is not JSON: {}", answer.brief()));
    };
    if let Err(violations) = ouranos().validate_response(target, method, answer.status, body) {
        let listed: Vec<String> = violations
            .iter()
            .take(5)
            .map(|v| {
                format!(
                    "{} {}",
                    if v.pointer.is_empty() {
                        "/"
                    } else {
                        &v.pointer
                    },
                    v.message
                )
            })
            .collect();
        return fail(format!(
            "{what}: the answer breaks the official schema of {method} {target} {}: {}",
            answer.status,
            listed.join("; ")
        ));
    }
    Ok(body)
}

/// An error answer: this status, a `{code, message, detail}` body of strings with one of
/// `codes`, valid against the operation's published error schema.
fn expect_error(
    answer: &Answer,
    status: u16,
    codes: &[&str],
    (target, method): (Wt, Wm),
    what: &str,
) -> Check {
    expect_status(answer, status, what)?;
    let Some(body) = answer.json.as_ref().filter(|b| b.is_object()) else {
        return fail(format!(
            "{what}: the error body is not a JSON object: {}",
            answer.brief()
        ));
    };
    for member in ["code", "message", "detail"] {
        ensure(body.get(member).is_some_and(Value::is_string), || {
            format!(
                "{what}: the error body has no string `{member}` (published shape {{code, message, detail}}): {}",
                answer.brief()
            )
        })?;
    }
    let code = body["code"].as_str().unwrap_or_default();
    ensure(codes.contains(&code), || {
        format!("{what}: expected code {}, got {code:?}", codes.join(" or "))
    })?;
    expect_valid(answer, target, method, what).map(|_| ())
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

fn is_uuid(text: &str) -> bool {
    text.len() == 36 && uuid::Uuid::parse_str(text).is_ok()
}

fn same_number(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a.and_then(Value::as_f64), b.and_then(Value::as_f64)) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a.is_none_or(Value::is_null) && b.is_none_or(Value::is_null),
    }
}

/// The URL inside a `link` header (`<URL>;` as published, parameters tolerated).
fn link_target(header: &str) -> Option<&str> {
    let start = header.find('<')? + 1;
    let end = start + header[start..].find('>')?;
    Some(&header[start..end])
}

/// `scheme://authority` of an absolute URL.
fn origin(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")? + 3;
    let end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    Some(&url[..end])
}

// ---- bodies -----------------------------------------------------------------------------------

fn part_body(
    s: &Session,
    name: &str,
    support: &str,
    label: &str,
    amount: Option<f64>,
    trace_id: Option<&str>,
) -> Value {
    json!({
        "amountRequired": amount,
        "amountRequiredUnit": "kilogram",
        "operatorId": s.operator_id,
        "partsName": name,
        "plantId": s.plant_id,
        "supportPartsName": support,
        "terminatedFlag": false,
        "traceId": trace_id,
        "partsLabelName": label,
        "partsAddInfo1": "dpp-conformance",
        "partsAddInfo2": null,
        "partsAddInfo3": null
    })
}

/// The four CFP elements of a part, `cfpId: null` (to be numbered).
fn cfp_set(trace_id: &str, pre: Value, main: f64) -> Vec<Value> {
    let element = |cfp_type: &str, dqr_type: &str, ghg: Value, dqr: f64| {
        json!({
            "cfpId": null, "traceId": trace_id, "ghgEmission": ghg,
            "ghgDeclaredUnit": "kgCO2e/kilogram", "cfpType": cfp_type, "dqrType": dqr_type,
            "dqrValue": { "TeR": dqr, "GeR": dqr, "TiR": dqr }
        })
    };
    vec![
        element("preProduction", "preProcessing", pre, 2.1),
        element("mainProduction", "mainProcessing", json!(main), 1.8),
        element("preComponent", "preProcessing", json!(0.0), 2.1),
        element("mainComponent", "mainProcessing", json!(0.0), 1.8),
    ]
}

// ---- context: sessions and fixtures -----------------------------------------------------------

impl Ctx<'_> {
    fn name(&self, suffix: &str) -> String {
        format!("DPPCONF-{}-{suffix}", self.run_id)
    }

    fn credentials(&self, party: Party) -> &Credentials {
        match (party, self.target.counterpart()) {
            (Party::Supplier, Some(counterpart)) => counterpart,
            _ => self.target.credentials(),
        }
    }

    /// The party whose session serves `party` (the requester doubles as supplier without a
    /// counterpart).
    fn acting(&self, party: Party) -> Party {
        if self.target.counterpart().is_none() {
            Party::Requester
        } else {
            party
        }
    }

    fn self_trade_note(&self) -> Option<String> {
        self.target.counterpart().is_none().then(|| {
            "no counterpart credentials: the requester answered its own request".to_owned()
        })
    }

    /// Sends a request to a path under the endpoint, or to an absolute URL.
    async fn call(
        &mut self,
        method: Method,
        path_or_url: &str,
        auth: Auth<'_>,
        body: Option<&Value>,
    ) -> Check<Answer> {
        let url = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_owned()
        } else {
            self.probe.url(path_or_url)
        };
        self.probe
            .send(method.clone(), url, auth.headers(), body)
            .await
            .map_err(|e| Stop(format!("no answer to {method} {path_or_url}: {e}")))
    }

    /// `POST /auth/login` (v1) or `/auth/client` (v2); with `wrong`, the secret is altered.
    async fn login(&mut self, creds: &Credentials, wrong: bool) -> Check<(Answer, Wt)> {
        let alter = |secret: &str| {
            if wrong {
                format!("{secret}-wrong")
            } else {
                secret.to_owned()
            }
        };
        let (path, target, body) = match &creds.login {
            Login::Account {
                account_id,
                password,
            } => (
                "/auth/login",
                Wt::AuthLogin,
                json!({ "operatorAccountId": account_id, "accountPassword": alter(password.expose()) }),
            ),
            Login::Client {
                client_id,
                client_secret,
            } => (
                "/auth/client",
                Wt::AuthClient,
                json!({ "clientId": client_id, "clientSecret": alter(client_secret.expose()) }),
            ),
        };
        let answer = self
            .call(
                Method::POST,
                path,
                Auth::ApiKey(creds.api_key.expose()),
                Some(&body),
            )
            .await?;
        Ok((answer, target))
    }

    /// Logs in and learns the operatorId and a plantId (`authInfo`).
    async fn establish(&mut self, creds: &Credentials) -> Check<Session> {
        let (answer, target) = self.login(creds, false).await?;
        let what = format!("login as {}", creds.login.describe());
        expect_status(&answer, 201, &what)?;
        let body = expect_valid(&answer, target, Wm::Post, &what)?;
        let Some(token) = str_at(body, "/accessToken").filter(|t| !t.is_empty()) else {
            return fail(format!("{what}: no accessToken in the answer"));
        };
        let mut session = Session {
            api_key: creds.api_key.expose().to_owned(),
            token: token.to_owned(),
            operator_id: String::new(),
            plant_id: String::new(),
        };
        let operator = self
            .call(
                Method::GET,
                "/api/v1/authInfo?dataTarget=operator",
                Auth::Full(&session),
                None,
            )
            .await?;
        expect_status(&operator, 200, "GET authInfo operator")?;
        let body = expect_valid(&operator, Wt::Operator, Wm::Get, "GET authInfo operator")?;
        session.operator_id = str_at(body, "/operatorId").unwrap_or_default().to_owned();
        let plants = self
            .call(
                Method::GET,
                "/api/v1/authInfo?dataTarget=plant",
                Auth::Full(&session),
                None,
            )
            .await?;
        expect_status(&plants, 200, "GET authInfo plant")?;
        let body = expect_valid(&plants, Wt::Plant, Wm::Get, "GET authInfo plant")?;
        let Some(plant_id) = str_at(body, "/0/plantId") else {
            return fail(format!(
                "{} has no plant; register one before running the suite",
                creds.login.describe()
            ));
        };
        session.plant_id = plant_id.to_owned();
        Ok(session)
    }

    /// The session of `party`, logged in on first use.
    async fn session(&mut self, party: Party) -> Check<Session> {
        let party = self.acting(party);
        if !self.sessions.contains_key(&party) {
            let creds = self.credentials(party).clone();
            let result = match self.establish(&creds).await {
                Ok(session) => Ok(session),
                Err(Stop(e)) => Err(e),
            };
            self.sessions.insert(party, result);
        }
        match &self.sessions[&party] {
            Ok(session) => Ok(session.clone()),
            Err(e) => fail(format!("prerequisite failed: {e}")),
        }
    }

    /// A part of `party` named `DPPCONF-<run>-<suffix>`, registered on first use; its traceId.
    async fn part(&mut self, party: Party, suffix: &str, support: &str) -> Check<String> {
        let key = (party, suffix.to_owned(), support.to_owned());
        if !self.parts.contains_key(&key) {
            let s = self.session(party).await?;
            let body = part_body(&s, &self.name(suffix), support, LABEL, None, None);
            let result = match self
                .call(Method::PUT, PARTS, Auth::Full(&s), Some(&body))
                .await
            {
                Ok(a) if a.status == 201 => a
                    .json
                    .as_ref()
                    .and_then(|b| str_at(b, "/traceId"))
                    .filter(|t| is_uuid(t))
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        format!("registering part {suffix}: no traceId in {}", a.brief())
                    }),
                Ok(a) => Err(format!("registering part {suffix}: {}", a.brief())),
                Err(Stop(e)) => Err(e),
            };
            self.parts.insert(key.clone(), result);
        }
        match &self.parts[&key] {
            Ok(trace_id) => Ok(trace_id.clone()),
            Err(e) => fail(format!("prerequisite failed: {e}")),
        }
    }

    /// The CFP of a part of `party`, registered on first use: (traceId, elements sent).
    async fn cfp(&mut self, party: Party, suffix: &str) -> Check<(String, Vec<Value>)> {
        let trace_id = self.part(party, suffix, "conformance").await?;
        if !self.cfps.contains_key(&trace_id) {
            let s = self.session(party).await?;
            let set = cfp_set(&trace_id, json!(0.35412), 0.42);
            let body = Value::Array(set.clone());
            let result = match self
                .call(
                    Method::PUT,
                    "/api/v1/datatransport?dataTarget=cfp",
                    Auth::Full(&s),
                    Some(&body),
                )
                .await
            {
                Ok(a) if a.status == 201 => Ok(set),
                Ok(a) => Err(format!("registering the CFP of {suffix}: {}", a.brief())),
                Err(Stop(e)) => Err(e),
            };
            self.cfps.insert(trace_id.clone(), result);
        }
        match &self.cfps[&trace_id] {
            Ok(set) => Ok((trace_id, set.clone())),
            Err(e) => fail(format!("prerequisite failed: {e}")),
        }
    }

    /// Looks through a paged list (following `link`) for an item matching `wanted`.
    async fn find_in_pages(
        &mut self,
        s: &Session,
        first: &str,
        target: Wt,
        what: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> Check<Option<Value>> {
        let mut next = first.to_owned();
        for _ in 0..MAX_PAGES {
            let answer = self.call(Method::GET, &next, Auth::Full(s), None).await?;
            expect_status(&answer, 200, what)?;
            let body = expect_valid(&answer, target, Wm::Get, what)?;
            let Some(items) = body.as_array() else {
                return fail(format!("{what}: expected a list, got {}", answer.brief()));
            };
            if let Some(found) = items.iter().find(|i| wanted(i)) {
                return Ok(Some(found.clone()));
            }
            match answer.header("link").and_then(link_target) {
                Some(link) => next = self.next_page(link, what)?,
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Where a `link` header leads: same origin as the endpoint, or refused (the suite does not
    /// send credentials elsewhere).
    fn next_page(&self, link: &str, what: &str) -> Check<String> {
        let endpoint = self.target.endpoint();
        if link.starts_with('/') {
            return Ok(format!("{}{link}", origin(endpoint).unwrap_or(endpoint)));
        }
        ensure(
            origin(link).is_some() && origin(link) == origin(endpoint),
            || {
                format!(
                    "{what}: the link header points to another origin than the endpoint: {link}"
                )
            },
        )?;
        Ok(link.to_owned())
    }

    /// The trade request of this run, created on first use.
    async fn trade(&mut self) -> Check<TradeIds> {
        if self.trade.is_none() {
            let result = match self.create_trade().await {
                Ok((answer, bought, sold)) => trade_ids(&answer, bought, sold)
                    .ok_or_else(|| format!("creating the trade request: {}", answer.brief())),
                Err(Stop(e)) => Err(e),
            };
            self.trade = Some(result);
        }
        match self.trade.as_ref() {
            Some(Ok(ids)) => Ok(ids.clone()),
            Some(Err(e)) => fail(format!("prerequisite failed: {e}")),
            None => fail("prerequisite failed: no trade request"),
        }
    }

    /// Registers both parts (and the supplier's CFP), then PUTs the trade request.
    async fn create_trade(&mut self) -> Check<(Answer, String, String)> {
        let bought = self
            .part(Party::Requester, "BOUGHT", "from-supplier")
            .await?;
        let (sold, _) = self.cfp(Party::Supplier, "SOLD").await?;
        let requester = self.session(Party::Requester).await?;
        let supplier = self.session(Party::Supplier).await?;
        let body = json!({
            "statusModel": {
                "message": "dpp-conformance: please answer with the CFP of the supplied part",
                "replyMessage": null, "requestStatus": {}, "requestType": "CFP",
                "statusId": null, "tradeId": null, "responseDueDate": null
            },
            "tradeModel": {
                "downstreamOperatorId": requester.operator_id, "downstreamTraceId": bought,
                "tradeId": null, "upstreamOperatorId": supplier.operator_id, "upstreamTraceId": null
            }
        });
        let answer = self
            .call(
                Method::PUT,
                "/api/v1/datatransport?dataTarget=tradeRequest",
                Auth::Full(&requester),
                Some(&body),
            )
            .await?;
        Ok((answer, bought, sold))
    }

    /// The supplier answers this run's trade request (creating it first if needed).
    async fn answer_trade(&mut self) -> Check<(TradeIds, Answer)> {
        let ids = self.trade().await?;
        let supplier = self.session(Party::Supplier).await?;
        let path = format!(
            "/api/v1/datatransport?dataTarget=tradeResponse&tradeId={}&traceId={}",
            ids.trade_id, ids.sold
        );
        let answer = self
            .call(Method::PUT, &path, Auth::Full(&supplier), None)
            .await?;
        self.answered = Some(if answer.status == 201 {
            Ok(())
        } else {
            Err(format!("answering the trade request: {}", answer.brief()))
        });
        Ok((ids, answer))
    }
}

fn trade_ids(answer: &Answer, bought: String, sold: String) -> Option<TradeIds> {
    let body = answer.json.as_ref().filter(|_| answer.status == 201)?;
    let trade_id = str_at(body, "/tradeModel/tradeId").filter(|t| is_uuid(t))?;
    let status_id = str_at(body, "/statusModel/statusId").filter(|t| is_uuid(t))?;
    Some(TradeIds {
        trade_id: trade_id.to_owned(),
        status_id: status_id.to_owned(),
        bought,
        sold,
    })
}

// ---- AUTH -------------------------------------------------------------------------------------

async fn auth_01_login(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let creds = ctx.target.credentials();
    let (answer, target) = ctx.login(creds, false).await?;
    let what = format!("login as {}", creds.login.describe());
    expect_status(&answer, 201, &what)?;
    let body = expect_valid(&answer, target, Wm::Post, &what)?;
    let Some(token) = str_at(body, "/accessToken").filter(|t| !t.is_empty()) else {
        return fail(format!("{what}: the answer has no accessToken"));
    };
    let session = Session {
        api_key: creds.api_key.expose().to_owned(),
        token: token.to_owned(),
        operator_id: String::new(),
        plant_id: String::new(),
    };
    let me = ctx
        .call(
            Method::GET,
            "/api/v1/authInfo?dataTarget=operator",
            Auth::Full(&session),
            None,
        )
        .await?;
    expect_status(&me, 200, "GET authInfo operator with the new token")?;
    let body = expect_valid(&me, Wt::Operator, Wm::Get, "GET authInfo operator")?;
    ensure(str_at(body, "/operatorId").is_some_and(is_uuid), || {
        "GET authInfo operator: no operatorId in the answer".to_owned()
    })?;
    Ok(None)
}

async fn auth_02_wrong_credentials(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    // Log in properly first: the platform locks an account after repeated failures, and the
    // other cases need this session.
    ctx.session(Party::Requester).await?;
    let creds = ctx.target.credentials();
    let (answer, target) = ctx.login(creds, true).await?;
    expect_error(
        &answer,
        401,
        &["[auth] Unauthorized"],
        (target, Wm::Post),
        "login with a wrong secret",
    )?;
    Ok(None)
}

/// A request with one credential missing or wrong.
#[derive(Clone, Copy)]
enum Misuse {
    ForgedBearer,
    NoBearer,
    NoApiKey,
    WrongApiKey,
}

async fn refused(
    ctx: &mut Ctx<'_>,
    misuse: Misuse,
    status: u16,
    code: &str,
    what: &str,
) -> Check<Option<String>> {
    let s = ctx.session(Party::Requester).await?;
    let auth = match misuse {
        Misuse::ForgedBearer => Auth::ForgedBearer(&s),
        Misuse::NoBearer => Auth::NoBearer(&s),
        Misuse::NoApiKey => Auth::NoApiKey(&s),
        Misuse::WrongApiKey => Auth::WrongApiKey(&s),
    };
    let answer = ctx
        .call(Method::GET, &format!("{PARTS}&limit=1"), auth, None)
        .await?;
    expect_error(&answer, status, &[code], (Wt::Parts, Wm::Get), what)?;
    Ok(None)
}

async fn auth_03_invalid_bearer(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    refused(
        ctx,
        Misuse::ForgedBearer,
        401,
        "[auth] Unauthorized",
        "GET parts with an invalid bearer token",
    )
    .await
}

async fn auth_04_missing_bearer(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    refused(
        ctx,
        Misuse::NoBearer,
        401,
        "[auth] Unauthorized",
        "GET parts without a bearer token",
    )
    .await
}

async fn auth_05_missing_api_key(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    refused(
        ctx,
        Misuse::NoApiKey,
        403,
        "[auth] AccessDenied",
        "GET parts without apiKey",
    )
    .await
}

async fn auth_06_wrong_api_key(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    refused(
        ctx,
        Misuse::WrongApiKey,
        403,
        "[auth] AccessDenied",
        "GET parts with a wrong apiKey",
    )
    .await
}

// ---- PARTS ------------------------------------------------------------------------------------

/// Fields a registered part must read back unchanged.
const ECHOED: [&str; 7] = [
    "/partsName",
    "/supportPartsName",
    "/operatorId",
    "/plantId",
    "/amountRequiredUnit",
    "/terminatedFlag",
    "/partsLabelName",
];

fn expect_echo(sent: &Value, got: &Value, what: &str) -> Check {
    for pointer in ECHOED {
        ensure(sent.pointer(pointer) == got.pointer(pointer), || {
            format!(
                "{what}: {pointer} is {}, sent {}",
                got.pointer(pointer).unwrap_or(&Value::Null),
                sent.pointer(pointer).unwrap_or(&Value::Null)
            )
        })?;
    }
    Ok(())
}

async fn parts_01_register(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let s = ctx.session(Party::Requester).await?;
    let body = part_body(&s, &ctx.name("A"), "conformance", LABEL, None, None);
    let answer = ctx
        .call(Method::PUT, PARTS, Auth::Full(&s), Some(&body))
        .await?;
    expect_status(&answer, 201, "PUT parts")?;
    let got = expect_valid(&answer, Wt::Parts, Wm::Put, "PUT parts")?;
    let Some(trace_id) = str_at(got, "/traceId").filter(|t| is_uuid(t)) else {
        return fail(format!(
            "PUT parts: the answer carries no numbered traceId (uuid): {}",
            answer.brief()
        ));
    };
    expect_echo(&body, got, "PUT parts")?;
    ctx.parts.insert(
        (Party::Requester, "A".into(), "conformance".into()),
        Ok(trace_id.to_owned()),
    );
    Ok(None)
}

async fn parts_02_read_back(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let a = ctx.part(Party::Requester, "A", "conformance").await?;
    // A sibling, so that a filter that is ignored shows.
    ctx.part(Party::Requester, "A", "sibling").await?;
    let s = ctx.session(Party::Requester).await?;
    let answer = ctx
        .call(
            Method::GET,
            &format!("{PARTS}&traceId={a}"),
            Auth::Full(&s),
            None,
        )
        .await?;
    expect_status(&answer, 200, "GET parts by traceId")?;
    let got = expect_valid(&answer, Wt::Parts, Wm::Get, "GET parts by traceId")?;
    let items = got.as_array().map(Vec::as_slice).unwrap_or_default();
    ensure(items.len() == 1, || {
        format!(
            "GET parts by traceId: expected exactly the one part {a}, got {} parts",
            items.len()
        )
    })?;
    ensure(str_at(&items[0], "/traceId") == Some(a.as_str()), || {
        format!("GET parts by traceId: got another part: {}", items[0])
    })?;
    let sent = part_body(&s, &ctx.name("A"), "conformance", LABEL, None, None);
    expect_echo(&sent, &items[0], "GET parts by traceId")?;
    Ok(None)
}

async fn parts_03_paging(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let mut registered = BTreeSet::new();
    for support in ["page-1", "page-2", "page-3"] {
        registered.insert(ctx.part(Party::Requester, "PAGE", support).await?);
    }
    let s = ctx.session(Party::Requester).await?;
    let mut next = Some(format!("{PARTS}&partsName={}&limit=2", ctx.name("PAGE")));
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(url) = next.take() {
        pages += 1;
        ensure(pages <= 3, || {
            "GET parts: the link header keeps leading on after every part was listed".to_owned()
        })?;
        let what = format!("GET parts page {pages}");
        let answer = ctx.call(Method::GET, &url, Auth::Full(&s), None).await?;
        expect_status(&answer, 200, &what)?;
        let body = expect_valid(&answer, Wt::Parts, Wm::Get, &what)?;
        let items = body.as_array().map(Vec::as_slice).unwrap_or_default();
        ensure(items.len() <= 2, || {
            format!("{what}: limit=2 but {} parts came", items.len())
        })?;
        seen.extend(
            items
                .iter()
                .filter_map(|i| str_at(i, "/traceId"))
                .map(str::to_owned),
        );
        match answer.header("link") {
            Some(link) => {
                let Some(url) = link_target(link) else {
                    return fail(format!(
                        "{what}: the link header is not in the published form <URL>;: {link:?}"
                    ));
                };
                ensure(url.contains("limit=") && url.contains("after="), || {
                    format!("{what}: the link URL carries no limit and after: {url}")
                })?;
                next = Some(ctx.next_page(url, &what)?);
            }
            None if pages == 1 => {
                return fail(format!(
                    "{what}: {} of 3 parts came and there is no link header to the next page",
                    items.len()
                ));
            }
            None => {}
        }
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    ensure(unique.len() == seen.len(), || {
        format!("GET parts: a part came twice across the pages: {seen:?}")
    })?;
    ensure(unique == registered, || {
        format!("GET parts: the pages listed {unique:?}, registered {registered:?}")
    })?;
    Ok(None)
}

async fn parts_04_update(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let trace_id = ctx.part(Party::Requester, "U", "conformance").await?;
    let s = ctx.session(Party::Requester).await?;
    let label = format!("{LABEL} (updated)");
    let body = part_body(
        &s,
        &ctx.name("U"),
        "conformance",
        &label,
        None,
        Some(&trace_id),
    );
    let answer = ctx
        .call(Method::PUT, PARTS, Auth::Full(&s), Some(&body))
        .await?;
    expect_status(&answer, 201, "PUT parts with its traceId")?;
    let got = expect_valid(&answer, Wt::Parts, Wm::Put, "PUT parts with its traceId")?;
    ensure(str_at(got, "/traceId") == Some(trace_id.as_str()), || {
        format!(
            "PUT parts with traceId {trace_id}: the answer has traceId {}",
            got.pointer("/traceId").unwrap_or(&Value::Null)
        )
    })?;
    let read = ctx
        .call(
            Method::GET,
            &format!("{PARTS}&traceId={trace_id}"),
            Auth::Full(&s),
            None,
        )
        .await?;
    expect_status(&read, 200, "GET the updated part")?;
    let list = expect_valid(&read, Wt::Parts, Wm::Get, "GET the updated part")?;
    ensure(
        str_at(list, "/0/partsLabelName") == Some(label.as_str()),
        || {
            format!(
                "GET the updated part: partsLabelName did not change: {}",
                read.brief()
            )
        },
    )?;
    Ok(None)
}

async fn parts_05_invalid_body(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let s = ctx.session(Party::Requester).await?;
    let mut body = part_body(&s, &"X".repeat(51), "conformance", LABEL, None, None);
    body["amountRequiredUnit"] = json!("kg");
    let answer = ctx
        .call(Method::PUT, PARTS, Auth::Full(&s), Some(&body))
        .await?;
    expect_error(
        &answer,
        400,
        BAD_REQUEST,
        (Wt::Parts, Wm::Put),
        "PUT parts with partsName of 51 characters and amountRequiredUnit kg",
    )?;
    Ok(None)
}

async fn parts_06_limit_over_100(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let s = ctx.session(Party::Requester).await?;
    let answer = ctx
        .call(
            Method::GET,
            &format!("{PARTS}&limit=101"),
            Auth::Full(&s),
            None,
        )
        .await?;
    expect_error(
        &answer,
        400,
        BAD_REQUEST,
        (Wt::Parts, Wm::Get),
        "GET parts with limit=101",
    )?;
    Ok(None)
}

// ---- STRUCT -----------------------------------------------------------------------------------

const STRUCTURE: &str = "/api/v1/datatransport?dataTarget=partsStructure";

async fn struct_01_put_get(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let s = ctx.session(Party::Requester).await?;
    let amounts = [1.25, 0.5];
    let children: Vec<Value> = amounts
        .iter()
        .enumerate()
        .map(|(i, amount)| {
            part_body(
                &s,
                &ctx.name(&format!("ASSY-C{}", i + 1)),
                "conformance",
                LABEL,
                Some(*amount),
                None,
            )
        })
        .collect();
    let body = json!({
        "parentPartsModel": part_body(&s, &ctx.name("ASSY"), "conformance", LABEL, None, None),
        "childrenPartsModel": children,
    });
    let answer = ctx
        .call(Method::PUT, STRUCTURE, Auth::Full(&s), Some(&body))
        .await?;
    expect_status(&answer, 201, "PUT partsStructure")?;
    let got = expect_valid(&answer, Wt::PartsStructure, Wm::Put, "PUT partsStructure")?;
    let Some(parent) = str_at(got, "/parentPartsModel/traceId").filter(|t| is_uuid(t)) else {
        return fail("PUT partsStructure: the parent has no numbered traceId");
    };
    let parent = parent.to_owned();
    let mut expected = Vec::new();
    for (i, amount) in amounts.iter().enumerate() {
        let Some(child) =
            str_at(got, &format!("/childrenPartsModel/{i}/traceId")).filter(|t| is_uuid(t))
        else {
            return fail(format!(
                "PUT partsStructure: child {i} has no numbered traceId"
            ));
        };
        expected.push((child.to_owned(), *amount));
    }
    let read = ctx
        .call(
            Method::GET,
            &format!("{STRUCTURE}&traceId={parent}"),
            Auth::Full(&s),
            None,
        )
        .await?;
    expect_status(&read, 200, "GET partsStructure")?;
    let got = expect_valid(&read, Wt::PartsStructure, Wm::Get, "GET partsStructure")?;
    ensure(
        str_at(got, "/parentPartsModel/traceId") == Some(parent.as_str()),
        || "GET partsStructure: the parent is another part".to_owned(),
    )?;
    let children = got["childrenPartsModel"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    ensure(children.len() == expected.len(), || {
        format!(
            "GET partsStructure: {} children, registered {}",
            children.len(),
            expected.len()
        )
    })?;
    for (trace_id, amount) in expected {
        let child = children
            .iter()
            .find(|c| str_at(c, "/traceId") == Some(trace_id.as_str()));
        let Some(child) = child else {
            return fail(format!("GET partsStructure: child {trace_id} is missing"));
        };
        ensure(
            same_number(child.get("amountRequired"), Some(&json!(amount))),
            || {
                format!(
                    "GET partsStructure: child {trace_id} has amountRequired {}, registered {amount}",
                    child.get("amountRequired").unwrap_or(&Value::Null)
                )
            },
        )?;
    }
    Ok(None)
}

async fn struct_02_over_50_children(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let s = ctx.session(Party::Requester).await?;
    let children: Vec<Value> = (1..=51)
        .map(|i| {
            part_body(
                &s,
                &ctx.name(&format!("BIG-C{i:02}")),
                "conformance",
                LABEL,
                Some(0.1),
                None,
            )
        })
        .collect();
    let body = json!({
        "parentPartsModel": part_body(&s, &ctx.name("BIG"), "conformance", LABEL, None, None),
        "childrenPartsModel": children,
    });
    let answer = ctx
        .call(Method::PUT, STRUCTURE, Auth::Full(&s), Some(&body))
        .await?;
    expect_error(
        &answer,
        400,
        BAD_REQUEST,
        (Wt::PartsStructure, Wm::Put),
        "PUT partsStructure with 51 children",
    )?;
    Ok(None)
}

async fn struct_03_parent_amount(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let s = ctx.session(Party::Requester).await?;
    let body = json!({
        "parentPartsModel": part_body(&s, &ctx.name("PAMT"), "conformance", LABEL, Some(1.0), None),
        "childrenPartsModel": [part_body(&s, &ctx.name("PAMT-C1"), "conformance", LABEL, Some(0.3), None)],
    });
    let answer = ctx
        .call(Method::PUT, STRUCTURE, Auth::Full(&s), Some(&body))
        .await?;
    expect_error(
        &answer,
        400,
        BAD_REQUEST,
        (Wt::PartsStructure, Wm::Put),
        "PUT partsStructure whose parent has amountRequired 1.0",
    )?;
    Ok(None)
}

// ---- CFP --------------------------------------------------------------------------------------

const CFP: &str = "/api/v1/datatransport?dataTarget=cfp";

async fn cfp_01_four_elements(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let trace_id = ctx.part(Party::Requester, "CFP", "conformance").await?;
    let s = ctx.session(Party::Requester).await?;
    let set = cfp_set(&trace_id, json!(0.35412), 0.42);
    let answer = ctx
        .call(
            Method::PUT,
            CFP,
            Auth::Full(&s),
            Some(&Value::Array(set.clone())),
        )
        .await?;
    expect_status(&answer, 201, "PUT cfp")?;
    let got = expect_valid(&answer, Wt::Cfp, Wm::Put, "PUT cfp")?;
    let items = got.as_array().map(Vec::as_slice).unwrap_or_default();
    let types: BTreeSet<&str> = items.iter().filter_map(|i| str_at(i, "/cfpType")).collect();
    ensure(
        items.len() == 4 && types == BTreeSet::from(CFP_TYPES_ACCEPTED_ON_PUT),
        || format!("PUT cfp: expected the four cfpTypes back, got {types:?}"),
    )?;
    let ids: BTreeSet<Option<&str>> = items.iter().map(|i| str_at(i, "/cfpId")).collect();
    ensure(
        ids.len() == 1 && ids.iter().all(|id| id.is_some_and(is_uuid)),
        || format!("PUT cfp: the four elements must share one numbered cfpId, got {ids:?}"),
    )?;
    ensure(
        items
            .iter()
            .all(|i| str_at(i, "/traceId") == Some(trace_id.as_str())),
        || "PUT cfp: an element came back with another traceId".to_owned(),
    )?;
    ctx.cfps.insert(trace_id, Ok(set));
    Ok(None)
}

async fn cfp_02_read_back(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let (trace_id, sent) = ctx.cfp(Party::Requester, "CFP").await?;
    let s = ctx.session(Party::Requester).await?;
    let answer = ctx
        .call(
            Method::GET,
            &format!("{CFP}&traceIds={trace_id}"),
            Auth::Full(&s),
            None,
        )
        .await?;
    expect_status(&answer, 200, "GET cfp")?;
    let got = expect_valid(&answer, Wt::Cfp, Wm::Get, "GET cfp")?;
    let items = got.as_array().map(Vec::as_slice).unwrap_or_default();
    let own: Vec<&Value> = items
        .iter()
        .filter(|i| str_at(i, "/traceId") == Some(trace_id.as_str()))
        .filter(|i| str_at(i, "/cfpType").is_some_and(|t| CFP_TYPES_ACCEPTED_ON_PUT.contains(&t)))
        .collect();
    ensure(own.len() == 4, || {
        format!(
            "GET cfp: expected the 4 registered elements, got {}",
            own.len()
        )
    })?;
    let ids: BTreeSet<Option<&str>> = own.iter().map(|i| str_at(i, "/cfpId")).collect();
    ensure(ids.len() == 1 && ids.iter().all(Option::is_some), || {
        format!("GET cfp: the elements do not share one cfpId: {ids:?}")
    })?;
    for element in &sent {
        let cfp_type = str_at(element, "/cfpType").unwrap_or_default();
        let Some(read) = own.iter().find(|i| str_at(i, "/cfpType") == Some(cfp_type)) else {
            return fail(format!("GET cfp: {cfp_type} is missing"));
        };
        for pointer in [
            "/ghgEmission",
            "/dqrValue/TeR",
            "/dqrValue/GeR",
            "/dqrValue/TiR",
        ] {
            ensure(
                same_number(read.pointer(pointer), element.pointer(pointer)),
                || {
                    format!(
                        "GET cfp: {cfp_type}{pointer} is {}, registered {}",
                        read.pointer(pointer).unwrap_or(&Value::Null),
                        element.pointer(pointer).unwrap_or(&Value::Null)
                    )
                },
            )?;
        }
        for pointer in ["/ghgDeclaredUnit", "/dqrType"] {
            ensure(read.pointer(pointer) == element.pointer(pointer), || {
                format!("GET cfp: {cfp_type}{pointer} changed: {}", read)
            })?;
        }
    }
    Ok(None)
}

async fn cfp_refused(
    ctx: &mut Ctx<'_>,
    suffix: &str,
    shape: impl FnOnce(&mut Vec<Value>),
    what: &str,
) -> Check<Option<String>> {
    // A part without a CFP, so the refusal can only be about the body.
    let trace_id = ctx.part(Party::Requester, suffix, "conformance").await?;
    let s = ctx.session(Party::Requester).await?;
    let mut set = cfp_set(&trace_id, json!(0.35412), 0.42);
    shape(&mut set);
    let answer = ctx
        .call(Method::PUT, CFP, Auth::Full(&s), Some(&Value::Array(set)))
        .await?;
    expect_error(&answer, 400, BAD_REQUEST, (Wt::Cfp, Wm::Put), what)?;
    Ok(None)
}

async fn cfp_03_incomplete(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    cfp_refused(
        ctx,
        "CFP3",
        |set| {
            set.pop();
        },
        "PUT cfp without mainComponent",
    )
    .await
}

async fn cfp_04_decimals(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    cfp_refused(
        ctx,
        "CFP4",
        |set| set[0]["ghgEmission"] = json!(0.1234567),
        "PUT cfp with ghgEmission 0.1234567",
    )
    .await
}

// ---- TRADE ------------------------------------------------------------------------------------

async fn trade_01_request(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let (answer, bought, sold) = ctx.create_trade().await?;
    let what = "PUT tradeRequest";
    let checked = (|| -> Check {
        expect_status(&answer, 201, what)?;
        let got = expect_valid(&answer, Wt::TradeRequest, Wm::Put, what)?;
        let trade_id = str_at(got, "/tradeModel/tradeId");
        ensure(trade_id.is_some_and(is_uuid), || {
            format!(
                "{what}: tradeModel.tradeId is not numbered: {}",
                answer.brief()
            )
        })?;
        ensure(
            str_at(got, "/statusModel/statusId").is_some_and(is_uuid),
            || {
                format!(
                    "{what}: statusModel.statusId is not numbered: {}",
                    answer.brief()
                )
            },
        )?;
        ensure(str_at(got, "/statusModel/tradeId") == trade_id, || {
            format!("{what}: statusModel.tradeId differs from tradeModel.tradeId")
        })?;
        ensure(
            str_at(got, "/tradeModel/downstreamTraceId") == Some(bought.as_str()),
            || format!("{what}: downstreamTraceId is not the requester's part {bought}"),
        )?;
        let status = str_at(got, "/statusModel/requestStatus/cfpResponseStatus");
        ensure(status.is_none_or(|s| s == "NOT_COMPLETED"), || {
            format!("{what}: a new request is {status:?}, expected NOT_COMPLETED")
        })?;
        Ok(())
    })();
    ctx.trade = Some(
        trade_ids(&answer, bought, sold)
            .ok_or_else(|| format!("creating the trade request: {}", answer.brief())),
    );
    checked.map(|()| ctx.self_trade_note())
}

async fn trade_02_supplier_sees(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let ids = ctx.trade().await?;
    let supplier = ctx.session(Party::Supplier).await?;
    let status = ctx
        .find_in_pages(
            &supplier,
            "/api/v1/datatransport?dataTarget=status&statusTarget=RESPONSE",
            Wt::Status,
            "GET status (RESPONSE) as the supplier",
            |s| str_at(s, "/statusId") == Some(ids.status_id.as_str()),
        )
        .await?;
    let Some(status) = status else {
        return fail(format!(
            "GET status (RESPONSE) as the supplier: request {} is not listed",
            ids.status_id
        ));
    };
    ensure(
        str_at(&status, "/requestStatus/cfpResponseStatus") == Some("NOT_COMPLETED"),
        || {
            format!(
                "GET status (RESPONSE): an unanswered request should be NOT_COMPLETED: {status}"
            )
        },
    )?;
    let inbox = ctx
        .find_in_pages(
            &supplier,
            "/api/v1/datatransport?dataTarget=tradeResponse",
            Wt::TradeResponse,
            "GET tradeResponse as the supplier",
            |t| str_at(t, "/tradeModel/tradeId") == Some(ids.trade_id.as_str()),
        )
        .await?;
    let Some(inbox) = inbox else {
        return fail(format!(
            "GET tradeResponse as the supplier: trade {} is not listed",
            ids.trade_id
        ));
    };
    ensure(
        str_at(&inbox, "/partsModel/traceId") == Some(ids.bought.as_str()),
        || {
            format!(
                "GET tradeResponse: the listed part is not the requester's {}",
                ids.bought
            )
        },
    )?;
    Ok(ctx.self_trade_note())
}

async fn trade_03_response(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let (ids, answer) = ctx.answer_trade().await?;
    let what = "PUT tradeResponse as the supplier";
    expect_status(&answer, 201, what)?;
    let got = expect_valid(&answer, Wt::TradeResponse, Wm::Put, what)?;
    ensure(
        str_at(got, "/upstreamTraceId") == Some(ids.sold.as_str()),
        || {
            format!(
                "{what}: upstreamTraceId is not the supplier's part {}",
                ids.sold
            )
        },
    )?;
    ensure(
        str_at(got, "/tradeId") == Some(ids.trade_id.as_str()),
        || format!("{what}: the answer is about another trade"),
    )?;
    let requester = ctx.session(Party::Requester).await?;
    let status = ctx
        .find_in_pages(
            &requester,
            &format!(
                "/api/v1/datatransport?dataTarget=status&statusTarget=REQUEST&traceId={}",
                ids.bought
            ),
            Wt::Status,
            "GET status (REQUEST) as the requester",
            |s| str_at(s, "/statusId") == Some(ids.status_id.as_str()),
        )
        .await?;
    let Some(status) = status else {
        return fail(format!(
            "GET status (REQUEST) as the requester: request {} is not listed",
            ids.status_id
        ));
    };
    let state = str_at(&status, "/requestStatus/cfpResponseStatus");
    ensure(state == Some("COMPLETED"), || {
        format!("GET status (REQUEST): the answered request is {state:?}, expected COMPLETED")
    })?;
    Ok(ctx.self_trade_note())
}

async fn trade_04_response_figures(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let ids = match ctx.answered.clone() {
        Some(Ok(())) => ctx.trade().await?,
        Some(Err(e)) => return fail(format!("prerequisite failed: {e}")),
        None => {
            let (ids, answer) = ctx.answer_trade().await?;
            expect_status(&answer, 201, "prerequisite: PUT tradeResponse")?;
            ids
        }
    };
    let requester = ctx.session(Party::Requester).await?;
    let answer = ctx
        .call(
            Method::GET,
            &format!("{CFP}&traceIds={}", ids.bought),
            Auth::Full(&requester),
            None,
        )
        .await?;
    expect_status(&answer, 200, "GET cfp of the requested part")?;
    let got = expect_valid(&answer, Wt::Cfp, Wm::Get, "GET cfp of the requested part")?;
    let items = got.as_array().map(Vec::as_slice).unwrap_or_default();
    for wanted in ["preProductionResponse", "mainProductionResponse"] {
        let found = items.iter().find(|i| str_at(i, "/cfpType") == Some(wanted));
        ensure(found.is_some_and(|i| i["ghgEmission"].is_number()), || {
            format!(
                "GET cfp of the requested part: no {wanted} with a ghgEmission after the supplier answered"
            )
        })?;
    }
    Ok(ctx.self_trade_note())
}

// ---- ERR --------------------------------------------------------------------------------------

async fn err_01_unknown_target(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let s = ctx.session(Party::Requester).await?;
    let answer = ctx
        .call(
            Method::GET,
            "/api/v1/datatransport?dataTarget=dppConformanceUnknown",
            Auth::Full(&s),
            None,
        )
        .await?;
    expect_error(
        &answer,
        400,
        &["[dataspace] BadRequest"],
        (Wt::Parts, Wm::Get),
        "GET an unknown dataTarget",
    )?;
    Ok(None)
}

async fn err_02_missing_param(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let s = ctx.session(Party::Requester).await?;
    let answer = ctx
        .call(Method::GET, STRUCTURE, Auth::Full(&s), None)
        .await?;
    expect_error(
        &answer,
        400,
        BAD_REQUEST,
        (Wt::PartsStructure, Wm::Get),
        "GET partsStructure without traceId",
    )?;
    Ok(None)
}

async fn err_03_x_track(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let s = ctx.session(Party::Requester).await?;
    let probes = [
        ("a 200", format!("{PARTS}&limit=1"), Auth::Full(&s)),
        (
            "a 400",
            "/api/v1/datatransport?dataTarget=dppConformanceUnknown".to_owned(),
            Auth::Full(&s),
        ),
        ("a 401", format!("{PARTS}&limit=1"), Auth::NoBearer(&s)),
    ];
    for (which, path, auth) in probes {
        let answer = ctx.call(Method::GET, &path, auth, None).await?;
        ensure(
            answer
                .header("x-track")
                .is_some_and(|v| !v.trim().is_empty()),
            || {
                format!(
                    "{which} answer (GET {path}) has no x-track header: {}",
                    answer.brief()
                )
            },
        )?;
    }
    Ok(None)
}

async fn err_04_unknown_endpoint(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let s = ctx.session(Party::Requester).await?;
    let answer = ctx
        .call(
            Method::GET,
            "/api/v1/dppConformanceNoSuchEndpoint",
            Auth::Full(&s),
            None,
        )
        .await?;
    expect_error(
        &answer,
        404,
        &["[dataspace] NotFound", "[auth] NotFound"],
        (Wt::Parts, Wm::Get),
        "GET an unknown endpoint",
    )?;
    Ok(None)
}

async fn err_05_unknown_param(ctx: &mut Ctx<'_>) -> Check<Option<String>> {
    let s = ctx.session(Party::Requester).await?;
    let answer = ctx
        .call(
            Method::GET,
            &format!("{PARTS}&dppConformanceUnknown=1"),
            Auth::Full(&s),
            None,
        )
        .await?;
    expect_error(
        &answer,
        400,
        &["[dataspace] BadRequest"],
        (Wt::Parts, Wm::Get),
        "GET parts with an unknown query parameter",
    )?;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_in_the_published_form_and_with_parameters_are_read() {
        assert_eq!(
            link_target(
                "<https://example.com/api/v1/datatransport?dataTarget=parts&limit=100&after=x>;"
            ),
            Some("https://example.com/api/v1/datatransport?dataTarget=parts&limit=100&after=x")
        );
        assert_eq!(
            link_target("<http://h/p?a=1>; rel=\"next\""),
            Some("http://h/p?a=1")
        );
        assert_eq!(link_target("http://h/p"), None);
        assert_eq!(origin("https://h:8443/x/y?z"), Some("https://h:8443"));
        assert_eq!(origin("http://h"), Some("http://h"));
    }

    #[test]
    fn numbers_compare_by_value_and_nulls_match_nulls() {
        assert!(same_number(Some(&json!(0.5)), Some(&json!(0.50))));
        assert!(!same_number(Some(&json!(0.35412)), Some(&json!(0.4))));
        assert!(same_number(Some(&Value::Null), None));
        assert!(!same_number(Some(&json!(1)), None));
    }
}
