//! The Ouranos Ecosystem wire format: the official OpenAPI files (data-transaction-system v3.0.0
//! and ic-user-auth v0.0.5, MIT, copied byte-for-byte into `schemas/wire/ouranos/`), compiled once
//! into validators for every request body and every JSON response body.
//!
//! ```
//! use dpp_schemas::wire::ouranos::{Method, Target, ouranos};
//! use serde_json::json;
//!
//! let bad = json!({ "parentPartsModel": {}, "childrenPartsModel": [] });
//! let violations = ouranos().validate_request(Target::PartsStructure, Method::Put, &bad).unwrap_err();
//! assert!(violations.iter().any(|v| v.pointer == "/parentPartsModel/partsName"));
//! ```
//!
//! # Limits the published interface sets
//! Schema keywords (enforced by the compiled validators):
//! - `partsStructure` PUT: `childrenPartsModel` holds **0..=50** parts ([`MAX_CHILDREN`]).
//! - `PartsModel`: `partsName` 1..=50 chars; `supportPartsName`, `partsLabelName`,
//!   `partsAddInfo1..3` 0..=50 chars (nullable except `partsName`); `amountRequired` number
//!   0..=99999.99999, nullable; `amountRequiredUnit` one of [`AMOUNT_REQUIRED_UNITS`], nullable;
//!   ids (`traceId`, `operatorId`, `plantId`) `format: uuid`, max 36 chars, `traceId` nullable.
//! - `CfpModel`: `cfpType` one of the 10 [`CFP_TYPES`]; `ghgDeclaredUnit` one of the 8
//!   [`GHG_DECLARED_UNITS`]; `dqrType` one of the 6 [`DQR_TYPES`]; `ghgEmission` and
//!   `dqrValue.{TeR,GeR,TiR}` numbers 0..=99999.99999, nullable; `cfpId` nullable uuid.
//! - `StatusModel`: `message`, `replyMessage` 0..=1000 chars; `requestType` only `CFP`;
//!   `requestStatus.cfpResponseStatus` one of [`CFP_RESPONSE_STATUSES`]; `tradeTreeStatus` one of
//!   [`TRADE_TREE_STATUSES`]; `responseDueDate` `format: date`, nullable.
//! - `CfpCertificationModel`: `cfpCertificationDescription` max 100 chars; at most **100**
//!   `cfpCertificationFileInfo` entries.
//! - `OperatorModel`: `openOperatorId` 1..=20, `operatorName`/`operatorAddress` 1..=256,
//!   `globalOperatorId` 0..=256. `PlantModel`: `openPlantId` 6..=26 chars ending in 6 digits
//!   (`pattern: '[0-9]{6}$'`), `plantName`/`plantAddress` 1..=256, `globalPlantId` 0..=256.
//! - Auth (v1): `operatorAccountId` `format: email`; `newPassword` 8..=20 of
//!   `[a-zA-Z0-9!@#$%^&*()]`. Auth (v2, ic-user-auth): `operatorAccountId` 3..=255 chars,
//!   `accountPassword` 8..=20 of the same alphabet; `clientId` + `clientSecret` required.
//!
//! Rules stated only in the prose of the spec (enforced here by [`OuranosSchemas::validate_request`]
//! after the schema, with the spec's own 400 messages as a model):
//! - `cfp` PUT: exactly **4** elements, one each of [`CFP_TYPES_ACCEPTED_ON_PUT`]; all with the same
//!   `cfpId`, `traceId` and `ghgDeclaredUnit`; `dqrType` must match the `cfpType` (pre* →
//!   `preProcessing`, main* → `mainProcessing`); elements sharing a `dqrType` carry the same
//!   `dqrValue`; `ghgEmission` and every `dqrValue` have at most **5 decimals**
//!   ([`MAX_DECIMALS`]); a `dqrValue` above 0 needs a `ghgEmission` above 0 in one of its cfpTypes.
//! - `partsStructure` PUT: the parent's `amountRequired` must be `null`.
//!
//! Query limits (the caller's business, listed for the mock and the adapter):
//! `limit` ≤ [`MAX_PAGE_LIMIT`] (default 100); `traceIds` (cfp, tradeRequest) ≤
//! [`MAX_TRACE_IDS_PER_QUERY`]; `operatorIds` ≤ [`MAX_OPERATOR_IDS_PER_QUERY`]; `statusTarget` one
//! of [`STATUS_TARGETS`]. Paged lists (`parts`, `status`, `tradeRequest`, `tradeResponse`) answer
//! with a `link` header `<…?dataTarget=…&limit=N&after=(uuid)>;`; every datatransport response
//! carries an `x-track` header (an id for support inquiries).
//!
//! Known defects of the published file: the `tradeRequest` PUT example spells
//! `upsreamOperatorId`, so it lacks the required `upstreamOperatorId` and does not validate.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::LazyLock;

use jsonschema::{Draft, Validator, error::ValidationErrorKind};
use serde_json::{Number, Value};

use super::Violation;
use super::openapi::{self, DocumentSet};

/// Maximum number of `childrenPartsModel` in one `partsStructure` (schema `maxItems`).
pub const MAX_CHILDREN: usize = 50;
/// Maximum decimals of `ghgEmission` and `dqrValue` members (prose of `cfp` PUT).
pub const MAX_DECIMALS: u32 = 5;
/// Maximum `limit` of a paged list (prose of the `limit` parameter).
pub const MAX_PAGE_LIMIT: usize = 100;
/// Maximum comma-separated ids in `traceIds` (`cfp` GET, `tradeRequest` GET).
pub const MAX_TRACE_IDS_PER_QUERY: usize = 50;
/// Maximum comma-separated ids in `operatorIds` (`authInfo?dataTarget=operator`).
pub const MAX_OPERATOR_IDS_PER_QUERY: usize = 100;
/// Largest `ghgEmission`, `dqrValue` member and `amountRequired` (schema `maximum`).
pub const MAX_QUANTITY: f64 = 99_999.999_99;

/// `CfpModel.cfpType`, as enumerated by the schema.
pub const CFP_TYPES: [&str; 10] = [
    "preProduction",
    "mainProduction",
    "preComponent",
    "mainComponent",
    "preProductionTotal",
    "mainProductionTotal",
    "preComponentTotal",
    "mainComponentTotal",
    "preProductionResponse",
    "mainProductionResponse",
];
/// The cfpTypes a `cfp` PUT must carry, all four at once (prose: others are a 400).
pub const CFP_TYPES_ACCEPTED_ON_PUT: [&str; 4] = [
    "preProduction",
    "mainProduction",
    "preComponent",
    "mainComponent",
];
/// `CfpModel.ghgDeclaredUnit`.
pub const GHG_DECLARED_UNITS: [&str; 8] = [
    "kgCO2e/liter",
    "kgCO2e/kilogram",
    "kgCO2e/cubic-meter",
    "kgCO2e/kilowatt-hour",
    "kgCO2e/megajoule",
    "kgCO2e/ton-kilometer",
    "kgCO2e/square-meter",
    "kgCO2e/unit",
];
/// `CfpModel.dqrType`.
pub const DQR_TYPES: [&str; 6] = [
    "preProcessing",
    "mainProcessing",
    "preProcessingTotal",
    "mainProcessingTotal",
    "preProcessingResponse",
    "mainProcessingResponse",
];
/// `PartsModel.amountRequiredUnit` (nullable).
pub const AMOUNT_REQUIRED_UNITS: [&str; 8] = [
    "liter",
    "kilogram",
    "cubic-meter",
    "kilowatt-hour",
    "megajoule",
    "ton-kilometer",
    "square-meter",
    "unit",
];
/// `StatusModel.requestStatus.cfpResponseStatus`.
pub const CFP_RESPONSE_STATUSES: [&str; 4] = ["NOT_COMPLETED", "COMPLETED", "REJECT", "CANCEL"];
/// `StatusModel.requestStatus.tradeTreeStatus`.
pub const TRADE_TREE_STATUSES: [&str; 2] = ["TERMINATED", "UNTERMINATED"];
/// `StatusModel.requestType`.
pub const REQUEST_TYPES: [&str; 1] = ["CFP"];
/// The `statusTarget` query parameter of `status` GET.
pub const STATUS_TARGETS: [&str; 2] = ["REQUEST", "RESPONSE"];

/// The `dqrType` that goes with a `cfpType` (prose of `cfp` GET/PUT).
pub fn dqr_type_for(cfp_type: &str) -> Option<&'static str> {
    Some(match cfp_type {
        "preProduction" | "preComponent" => "preProcessing",
        "mainProduction" | "mainComponent" => "mainProcessing",
        "preProductionTotal" | "preComponentTotal" => "preProcessingTotal",
        "mainProductionTotal" | "mainComponentTotal" => "mainProcessingTotal",
        "preProductionResponse" => "preProcessingResponse",
        "mainProductionResponse" => "mainProcessingResponse",
        _ => return None,
    })
}

/// Embeds the published files, keyed by their path under `schemas/wire/ouranos/`.
macro_rules! embedded {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../wire/ouranos/", $path)))),*]
    };
}

const DTS_ROOT: &str = "data-transaction-system/openapi.yaml";
const IUA_ROOT: &str = "ic-user-auth/openapi.yaml";

const FILES: &[(&str, &str)] = embedded![
    "data-transaction-system/openapi.yaml",
    "ic-user-auth/openapi.yaml",
    "ic-user-auth/paths/change.yaml",
    "ic-user-auth/paths/client.yaml",
    "ic-user-auth/paths/login.yaml",
    "ic-user-auth/paths/operator.yaml",
    "ic-user-auth/paths/plant.yaml",
    "ic-user-auth/paths/refresh.yaml",
    "ic-user-auth/paths/token.yaml",
    "ic-user-auth/components/schemas/authentication/changePasswordModel.yaml",
    "ic-user-auth/components/schemas/authentication/clientInputModel.yaml",
    "ic-user-auth/components/schemas/authentication/clientOutputModel.yaml",
    "ic-user-auth/components/schemas/authentication/loginInputModel.yaml",
    "ic-user-auth/components/schemas/authentication/loginOutputModel.yaml",
    "ic-user-auth/components/schemas/authentication/refreshInputModel.yaml",
    "ic-user-auth/components/schemas/authentication/refreshOutputModel.yaml",
    "ic-user-auth/components/schemas/authentication/tokenInputModel.yaml",
    "ic-user-auth/components/schemas/authentication/tokenOutputModel.yaml",
    "ic-user-auth/components/schemas/common/http400Error.yaml",
    "ic-user-auth/components/schemas/common/http401Error.yaml",
    "ic-user-auth/components/schemas/common/http403Error.yaml",
    "ic-user-auth/components/schemas/common/http404Error.yaml",
    "ic-user-auth/components/schemas/common/http500Error.yaml",
    "ic-user-auth/components/schemas/common/http503Error.yaml",
    "ic-user-auth/components/schemas/dataModel/operatorModel.yaml",
    "ic-user-auth/components/schemas/dataModel/plantModel.yaml",
];

/// One Ouranos endpoint. Data-transport and authInfo endpoints share a URL and are told apart by
/// the `dataTarget` query parameter, so a target names a `dataTarget` (or an auth path), and the
/// [`Method`] picks the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Target {
    /// `GET|PUT /api/v1/authInfo?dataTarget=operator` (own operator, or `openOperatorId` search).
    Operator,
    /// `GET /api/v1/authInfo?dataTarget=operator&operatorIds=…` (a list).
    OperatorsByIds,
    /// `GET|PUT /api/v1/authInfo?dataTarget=plant`.
    Plant,
    /// `GET|PUT /api/v1/datatransport?dataTarget=parts`, `DELETE …&traceId=`.
    Parts,
    /// `GET …?dataTarget=partsStructure&traceId=`, `PUT …?dataTarget=partsStructure`.
    PartsStructure,
    /// `GET|PUT …?dataTarget=tradeRequest`.
    TradeRequest,
    /// `GET …?dataTarget=tradeResponse`, `PUT …&tradeId=&traceId=` (no body).
    TradeResponse,
    /// `GET|PUT …?dataTarget=status`.
    Status,
    /// `GET …?dataTarget=cfp&traceIds=`, `PUT …?dataTarget=cfp`.
    Cfp,
    /// `GET …?dataTarget=cfpCertification&traceId=`.
    CfpCertification,
    /// `POST /auth/login` (v1, as documented in data-transaction-system).
    AuthLogin,
    /// `POST /auth/refresh` (v1).
    AuthRefresh,
    /// `POST /auth/change` (v1).
    AuthChange,
    /// `POST /auth/client` (v2 client credentials, ic-user-auth).
    AuthClient,
    /// `POST /auth/login` (v2, ic-user-auth).
    AuthLoginV2,
    /// `POST /auth/refresh` (v2, ic-user-auth).
    AuthRefreshV2,
    /// `POST /auth/change` (v2, ic-user-auth).
    AuthChangeV2,
    /// `POST /api/v2/systemAuth/token` (token introspection, ic-user-auth).
    SystemAuthToken,
    /// `GET|PUT /api/v2/authInfo/operator` (ic-user-auth).
    OperatorV2,
    /// `GET|PUT /api/v2/authInfo/plant` (ic-user-auth).
    PlantV2,
}

/// Which published document an endpoint comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    DataTransactionSystem,
    IcUserAuth,
}

impl Spec {
    fn root(self) -> &'static str {
        match self {
            Spec::DataTransactionSystem => DTS_ROOT,
            Spec::IcUserAuth => IUA_ROOT,
        }
    }
}

impl Target {
    /// Every target, in declaration order.
    pub const ALL: [Target; 20] = [
        Target::Operator,
        Target::OperatorsByIds,
        Target::Plant,
        Target::Parts,
        Target::PartsStructure,
        Target::TradeRequest,
        Target::TradeResponse,
        Target::Status,
        Target::Cfp,
        Target::CfpCertification,
        Target::AuthLogin,
        Target::AuthRefresh,
        Target::AuthChange,
        Target::AuthClient,
        Target::AuthLoginV2,
        Target::AuthRefreshV2,
        Target::AuthChangeV2,
        Target::SystemAuthToken,
        Target::OperatorV2,
        Target::PlantV2,
    ];

    /// The `dataTarget` query value, for the `/api/v1/*` targets.
    pub fn data_target(self) -> Option<&'static str> {
        Some(match self {
            Target::Operator | Target::OperatorsByIds => "operator",
            Target::Plant => "plant",
            Target::Parts => "parts",
            Target::PartsStructure => "partsStructure",
            Target::TradeRequest => "tradeRequest",
            Target::TradeResponse => "tradeResponse",
            Target::Status => "status",
            Target::Cfp => "cfp",
            Target::CfpCertification => "cfpCertification",
            _ => return None,
        })
    }

    /// The target of a `/api/v1/datatransport` `dataTarget` value.
    pub fn from_datatransport(data_target: &str) -> Option<Target> {
        Some(match data_target {
            "parts" => Target::Parts,
            "partsStructure" => Target::PartsStructure,
            "tradeRequest" => Target::TradeRequest,
            "tradeResponse" => Target::TradeResponse,
            "status" => Target::Status,
            "cfp" => Target::Cfp,
            "cfpCertification" => Target::CfpCertification,
            _ => return None,
        })
    }

    /// The target of a `/api/v1/authInfo` `dataTarget` value (`operator` with `operatorIds` is
    /// [`Target::OperatorsByIds`]; the caller decides).
    pub fn from_auth_info(data_target: &str) -> Option<Target> {
        match data_target {
            "operator" => Some(Target::Operator),
            "plant" => Some(Target::Plant),
            _ => None,
        }
    }

    /// The document and the path keys (as written, query strings included) of this target.
    fn locate(self) -> (Spec, &'static [&'static str]) {
        use Spec::{DataTransactionSystem as Dts, IcUserAuth as Iua};
        match self {
            Target::Operator => (Dts, &["/api/v1/authInfo?dataTarget=operator"]),
            Target::OperatorsByIds => (
                Dts,
                &["/api/v1/authInfo?dataTarget=operator&operatorIds={uuid}"],
            ),
            Target::Plant => (Dts, &["/api/v1/authInfo?dataTarget=plant"]),
            Target::Parts => (
                Dts,
                &[
                    "/api/v1/datatransport?dataTarget=parts",
                    "/api/v1/datatransport?dataTarget=parts&traceId={uuid}",
                ],
            ),
            Target::PartsStructure => (
                Dts,
                &[
                    "/api/v1/datatransport?dataTarget=partsStructure",
                    "/api/v1/datatransport?dataTarget=partsStructure&traceId={uuid}",
                ],
            ),
            Target::TradeRequest => (Dts, &["/api/v1/datatransport?dataTarget=tradeRequest"]),
            Target::TradeResponse => (
                Dts,
                &[
                    "/api/v1/datatransport?dataTarget=tradeResponse",
                    "/api/v1/datatransport?dataTarget=tradeResponse&tradeId={uuid}&traceId={uuid}",
                ],
            ),
            Target::Status => (Dts, &["/api/v1/datatransport?dataTarget=status"]),
            Target::Cfp => (
                Dts,
                &[
                    "/api/v1/datatransport?dataTarget=cfp",
                    "/api/v1/datatransport?dataTarget=cfp&traceIds={uuid}",
                ],
            ),
            Target::CfpCertification => (
                Dts,
                &["/api/v1/datatransport?dataTarget=cfpCertification&traceId={uuid}"],
            ),
            Target::AuthLogin => (Dts, &["/auth/login"]),
            Target::AuthRefresh => (Dts, &["/auth/refresh"]),
            Target::AuthChange => (Dts, &["/auth/change"]),
            Target::AuthClient => (Iua, &["/auth/client"]),
            Target::AuthLoginV2 => (Iua, &["/auth/login"]),
            Target::AuthRefreshV2 => (Iua, &["/auth/refresh"]),
            Target::AuthChangeV2 => (Iua, &["/auth/change"]),
            Target::SystemAuthToken => (Iua, &["/api/v2/systemAuth/token"]),
            Target::OperatorV2 => (Iua, &["/api/v2/authInfo/operator"]),
            Target::PlantV2 => (Iua, &["/api/v2/authInfo/plant"]),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.data_target() {
            Some(dt) => f.write_str(dt),
            None => fmt::Debug::fmt(self, f),
        }
    }
}

/// HTTP method of an Ouranos operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// GET
    Get,
    /// PUT
    Put,
    /// POST
    Post,
    /// DELETE
    Delete,
}

impl Method {
    /// Upper-case HTTP spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }

    fn from_openapi(key: &str) -> Option<Method> {
        Some(match key {
            "get" => Method::Get,
            "put" => Method::Put,
            "post" => Method::Post,
            "delete" => Method::Delete,
            _ => return None,
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A JSON Schema (converted from OpenAPI) and its compiled validator.
struct Compiled {
    schema: Value,
    validator: Validator,
}

impl Compiled {
    fn new(schema: Value) -> Result<Self, String> {
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| format!("schema does not compile: {e}"))?;
        Ok(Self { schema, validator })
    }

    fn violations(&self, instance: &Value) -> Vec<Violation> {
        self.validator
            .iter_errors(instance)
            .map(|error| {
                let mut pointer = error.instance_path().as_str().to_owned();
                if let ValidationErrorKind::Required { property } = error.kind()
                    && let Some(name) = property.as_str()
                {
                    pointer.push('/');
                    pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
                }
                Violation::new(pointer, error.to_string())
            })
            .collect()
    }
}

#[derive(Default)]
struct Operation {
    request: Option<Compiled>,
    responses: BTreeMap<u16, Compiled>,
}

/// Compiled validators for every Ouranos operation. Get it with [`ouranos()`].
pub struct OuranosSchemas {
    operations: HashMap<(Target, Method), Operation>,
}

static OURANOS: LazyLock<OuranosSchemas> = LazyLock::new(|| {
    OuranosSchemas::load().unwrap_or_else(|e| panic!("embedded ouranos openapi is unusable: {e}"))
});

/// The Ouranos validators, built on first use from the embedded OpenAPI files.
pub fn ouranos() -> &'static OuranosSchemas {
    &OURANOS
}

impl OuranosSchemas {
    fn load() -> Result<Self, String> {
        let docs = DocumentSet::parse(FILES)?;
        let mut by_doc = HashMap::new();
        for spec in [Spec::DataTransactionSystem, Spec::IcUserAuth] {
            by_doc.insert(spec.root(), openapi::operations(&docs, spec.root())?);
        }
        let mut operations = HashMap::new();
        for target in Target::ALL {
            let (spec, keys) = target.locate();
            let ops = &by_doc[spec.root()];
            for key in keys {
                let mut found = false;
                for ((path, method), schemas) in ops.range((key.to_string(), "")..) {
                    if path != key {
                        break;
                    }
                    found = true;
                    let method = Method::from_openapi(method)
                        .ok_or_else(|| format!("{path}: unsupported method {method}"))?;
                    let mut op = Operation::default();
                    if let Some(schema) = &schemas.request {
                        op.request = Some(
                            Compiled::new(schema.clone())
                                .map_err(|e| format!("{method} {path} request: {e}"))?,
                        );
                    }
                    for (status, schema) in &schemas.responses {
                        let compiled = Compiled::new(schema.clone())
                            .map_err(|e| format!("{method} {path} {status}: {e}"))?;
                        op.responses.insert(*status, compiled);
                    }
                    if operations.insert((target, method), op).is_some() {
                        return Err(format!("{target:?} {method} is defined twice"));
                    }
                }
                if !found {
                    return Err(format!("{}: no path {key}", spec.root()));
                }
            }
        }
        Ok(Self { operations })
    }

    /// Validates a request body of `method` on `target` against the published schema, then
    /// against the rules the spec states in prose (see the module docs).
    pub fn validate_request(
        &self,
        target: Target,
        method: Method,
        body: &Value,
    ) -> Result<(), Vec<Violation>> {
        let Some(compiled) = self
            .operation(target, method)
            .and_then(|op| op.request.as_ref())
        else {
            return Err(vec![Violation::new(
                "",
                format!("ouranos defines no request body for {method} {target}"),
            )]);
        };
        let mut violations = compiled.violations(body);
        violations.extend(documented_rules(target, method, body));
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }

    /// Validates a JSON response body of `method` on `target` with HTTP `status`.
    pub fn validate_response(
        &self,
        target: Target,
        method: Method,
        status: u16,
        body: &Value,
    ) -> Result<(), Vec<Violation>> {
        let Some(compiled) = self
            .operation(target, method)
            .and_then(|op| op.responses.get(&status))
        else {
            return Err(vec![Violation::new(
                "",
                format!("ouranos defines no json body for {method} {target} status {status}"),
            )]);
        };
        let violations = compiled.violations(body);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }

    /// The converted JSON Schema (2020-12) of a request body, if the operation has one.
    pub fn request_schema(&self, target: Target, method: Method) -> Option<&Value> {
        self.operation(target, method)?
            .request
            .as_ref()
            .map(|c| &c.schema)
    }

    /// The converted JSON Schema (2020-12) of a JSON response body.
    pub fn response_schema(&self, target: Target, method: Method, status: u16) -> Option<&Value> {
        self.operation(target, method)?
            .responses
            .get(&status)
            .map(|c| &c.schema)
    }

    /// Status codes that have a JSON body for this operation, ascending; empty if the operation
    /// does not exist.
    pub fn response_statuses(&self, target: Target, method: Method) -> Vec<u16> {
        self.operation(target, method)
            .map(|op| op.responses.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Every (target, method) the published files define.
    pub fn operations(&self) -> Vec<(Target, Method)> {
        let mut ops: Vec<_> = self.operations.keys().copied().collect();
        ops.sort();
        ops
    }

    fn operation(&self, target: Target, method: Method) -> Option<&Operation> {
        self.operations.get(&(target, method))
    }
}

/// Rules the spec states in prose (its 400 examples show them), checked after the schema.
fn documented_rules(target: Target, method: Method, body: &Value) -> Vec<Violation> {
    match (target, method) {
        (Target::Cfp, Method::Put) => body
            .as_array()
            .map(|a| cfp_put_rules(a))
            .unwrap_or_default(),
        (Target::PartsStructure, Method::Put) => {
            match body.pointer("/parentPartsModel/amountRequired") {
                Some(v) if !v.is_null() => vec![Violation::new(
                    "/parentPartsModel/amountRequired",
                    format!("must be blank (null) for a parent part, got {v}"),
                )],
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

fn cfp_put_rules(items: &[Value]) -> Vec<Violation> {
    let mut out = Vec::new();
    if items.len() != CFP_TYPES_ACCEPTED_ON_PUT.len() {
        out.push(Violation::new(
            "",
            format!("cfp models must be 4 elements, got {}", items.len()),
        ));
    }
    let str_at = |i: usize, key: &str| items[i].get(key).and_then(Value::as_str);
    for (i, _) in items.iter().enumerate() {
        if let Some(t) = str_at(i, "cfpType")
            && !CFP_TYPES_ACCEPTED_ON_PUT.contains(&t)
        {
            out.push(Violation::new(
                format!("/{i}/cfpType"),
                format!("cfpType {t} cannot be registered, only {CFP_TYPES_ACCEPTED_ON_PUT:?}"),
            ));
        }
    }
    for wanted in CFP_TYPES_ACCEPTED_ON_PUT {
        if !(0..items.len()).any(|i| str_at(i, "cfpType") == Some(wanted)) {
            out.push(Violation::new(
                "",
                format!("cfpType {wanted} is insufficient"),
            ));
        }
    }
    for key in ["cfpId", "traceId", "ghgDeclaredUnit"] {
        let first = items.first().and_then(|v| v.get(key));
        for (i, item) in items.iter().enumerate().skip(1) {
            if item.get(key) != first {
                out.push(Violation::new(
                    format!("/{i}/{key}"),
                    format!("ensure all objects have the same {key}"),
                ));
            }
        }
    }
    let mut dqr_by_type: BTreeMap<&str, (usize, &Value)> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        if let (Some(cfp_type), Some(dqr_type)) = (str_at(i, "cfpType"), str_at(i, "dqrType"))
            && let Some(expected) = dqr_type_for(cfp_type)
            && expected != dqr_type
        {
            out.push(Violation::new(
                format!("/{i}/dqrType"),
                format!(
                    "ensure the combination of cfpType and dqrType is correct: {cfp_type} needs {expected}, got {dqr_type}"
                ),
            ));
        }
        if let (Some(dqr_type), Some(value)) = (str_at(i, "dqrType"), item.get("dqrValue")) {
            match dqr_by_type.get(dqr_type) {
                Some((_, first)) if *first != value => out.push(Violation::new(
                    format!("/{i}/dqrValue"),
                    format!("different dqrValues are set for the same dqrType {dqr_type}"),
                )),
                Some(_) => {}
                None => {
                    dqr_by_type.insert(dqr_type, (i, value));
                }
            }
        }
        let mut numbers = vec![("ghgEmission".to_owned(), item.get("ghgEmission"))];
        for member in ["TeR", "GeR", "TiR"] {
            numbers.push((
                format!("dqrValue/{member}"),
                item.get("dqrValue").and_then(|d| d.get(member)),
            ));
        }
        for (path, value) in numbers {
            if let Some(Value::Number(n)) = value
                && decimals(n) > MAX_DECIMALS
            {
                out.push(Violation::new(
                    format!("/{i}/{path}"),
                    format!("must be a value up to the 5th decimal place, got {n}"),
                ));
            }
        }
    }
    // A DQR above 0 is only meaningful when one of its cfpTypes emits something.
    for (dqr_type, (i, value)) in &dqr_by_type {
        let positive_dqr = ["TeR", "GeR", "TiR"].iter().any(|m| {
            value
                .get(*m)
                .and_then(Value::as_f64)
                .is_some_and(|x| x > 0.0)
        });
        let positive_ghg = items.iter().enumerate().any(|(j, item)| {
            str_at(j, "cfpType").and_then(dqr_type_for) == Some(*dqr_type)
                && item
                    .get("ghgEmission")
                    .and_then(Value::as_f64)
                    .is_some_and(|x| x > 0.0)
        });
        if positive_dqr && !positive_ghg {
            let owners: Vec<&str> = CFP_TYPES_ACCEPTED_ON_PUT
                .iter()
                .copied()
                .filter(|t| dqr_type_for(t) == Some(*dqr_type))
                .collect();
            out.push(Violation::new(
                format!("/{i}/dqrValue"),
                format!(
                    "set ghgEmission to a value greater than 0 for cfpType of {}",
                    owners.join(" or ")
                ),
            ));
        }
    }
    out
}

/// Decimal places of a JSON number as written in shortest round-trip form (`1e-7` has 7).
fn decimals(n: &Number) -> u32 {
    if n.is_i64() || n.is_u64() {
        return 0;
    }
    let text = n.to_string();
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().unwrap_or(0)),
        None => (text.as_str(), 0),
    };
    let fraction = mantissa
        .split_once('.')
        .map(|(_, f)| f.trim_end_matches('0').len() as i64)
        .unwrap_or(0);
    u32::try_from((fraction - exponent).max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn part(trace_id: Value, amount: Value) -> Value {
        json!({
            "amountRequired": amount,
            "amountRequiredUnit": "kilogram",
            "operatorId": "d9a38406-cae2-4679-b052-15a75f5531e8",
            "partsName": "PP-BUMPER-R30",
            "plantId": "d9a38406-cae2-4679-b052-15a75f5531e9",
            "supportPartsName": "recycled-pp-30",
            "terminatedFlag": false,
            "traceId": trace_id,
            "partsLabelName": "Bumper, 30 % post-consumer PP",
            "partsAddInfo1": null,
            "partsAddInfo2": null,
            "partsAddInfo3": null
        })
    }

    fn cfp_set() -> Value {
        let element = |cfp_type: &str, dqr_type: &str, ghg: f64, dqr: f64| {
            json!({
                "cfpId": null,
                "traceId": "d9a38406-cae2-4679-b052-15a75f5531f6",
                "ghgEmission": ghg,
                "ghgDeclaredUnit": "kgCO2e/kilogram",
                "cfpType": cfp_type,
                "dqrType": dqr_type,
                "dqrValue": { "TeR": dqr, "GeR": dqr, "TiR": dqr }
            })
        };
        json!([
            element("preProduction", "preProcessing", 1.25, 2.1),
            element("mainProduction", "mainProcessing", 0.5, 3.1),
            element("preComponent", "preProcessing", 0.0, 2.1),
            element("mainComponent", "mainProcessing", 0.0, 3.1),
        ])
    }

    fn pointers(r: Result<(), Vec<Violation>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|v| v.pointer).collect()
    }

    /// Every `example`/`examples` value given for a JSON body in the published file.
    fn published_examples() -> Vec<(String, String, String, Value)> {
        let docs = DocumentSet::parse(FILES).unwrap();
        let mut out = Vec::new();
        for root in [DTS_ROOT, IUA_ROOT] {
            let doc = docs.get(root).unwrap();
            for (path, item) in doc["paths"].as_object().unwrap() {
                for (method, op) in item.as_object().unwrap() {
                    let mut holders = vec![("request".to_owned(), &op["requestBody"])];
                    for (status, resp) in op["responses"].as_object().into_iter().flatten() {
                        holders.push((status.clone(), resp));
                    }
                    for (which, holder) in holders {
                        let Some(media) = holder.pointer("/content/application~1json") else {
                            continue;
                        };
                        if let Some(example) = media.get("example") {
                            out.push((
                                path.clone(),
                                method.clone(),
                                which.clone(),
                                example.clone(),
                            ));
                        }
                        for (_, ex) in media
                            .get("examples")
                            .and_then(Value::as_object)
                            .into_iter()
                            .flatten()
                        {
                            out.push((
                                path.clone(),
                                method.clone(),
                                which.clone(),
                                ex["value"].clone(),
                            ));
                        }
                    }
                }
            }
        }
        out
    }

    fn target_of(path: &str) -> Target {
        Target::ALL
            .into_iter()
            .find(|t| t.locate().1.contains(&path) && t.locate().0 == Spec::DataTransactionSystem)
            .unwrap()
    }

    #[test]
    fn every_path_of_both_documents_belongs_to_exactly_one_target() {
        let docs = DocumentSet::parse(FILES).unwrap();
        for spec in [Spec::DataTransactionSystem, Spec::IcUserAuth] {
            for path in docs.get(spec.root()).unwrap()["paths"]
                .as_object()
                .unwrap()
                .keys()
            {
                let owners = Target::ALL
                    .iter()
                    .filter(|t| t.locate().0 == spec && t.locate().1.contains(&path.as_str()))
                    .count();
                assert_eq!(owners, 1, "{path} in {}", spec.root());
            }
        }
        // 17 path keys + 7 in ic-user-auth, some with two methods.
        assert!(ouranos().operations().len() >= 24);
    }

    #[test]
    fn published_examples_validate_except_the_known_typo() {
        let examples = published_examples();
        assert!(
            examples.len() > 40,
            "found only {} examples",
            examples.len()
        );
        let mut failures = Vec::new();
        for (path, method, which, value) in &examples {
            let target = target_of(path);
            let method = Method::from_openapi(method).unwrap();
            let result = if which == "request" {
                ouranos().validate_request(target, method, value)
            } else {
                ouranos().validate_response(target, method, which.parse().unwrap(), value)
            };
            if let Err(v) = result {
                failures.push((path.clone(), method, which.clone(), v));
            }
        }
        // The only failing example: tradeRequest PUT spells `upsreamOperatorId`.
        assert_eq!(failures.len(), 1, "{failures:#?}");
        let (path, method, which, violations) = &failures[0];
        assert_eq!(path, "/api/v1/datatransport?dataTarget=tradeRequest");
        assert_eq!((*method, which.as_str()), (Method::Put, "request"));
        assert_eq!(violations[0].pointer, "/tradeModel/upstreamOperatorId");
    }

    #[test]
    fn the_enum_constants_match_the_published_schema() {
        let s = ouranos();
        let cfp = s.request_schema(Target::Cfp, Method::Put).unwrap();
        let props = &cfp["items"]["properties"];
        assert_eq!(props["cfpType"]["enum"], json!(CFP_TYPES));
        assert_eq!(props["ghgDeclaredUnit"]["enum"], json!(GHG_DECLARED_UNITS));
        assert_eq!(props["dqrType"]["enum"], json!(DQR_TYPES));
        assert_eq!(props["ghgEmission"]["maximum"], json!(MAX_QUANTITY));
        let parts = s.request_schema(Target::Parts, Method::Put).unwrap();
        let mut units = json!(AMOUNT_REQUIRED_UNITS);
        units.as_array_mut().unwrap().push(Value::Null);
        assert_eq!(parts["properties"]["amountRequiredUnit"]["enum"], units);
        let structure = s
            .request_schema(Target::PartsStructure, Method::Put)
            .unwrap();
        assert_eq!(
            structure["properties"]["childrenPartsModel"]["maxItems"],
            json!(MAX_CHILDREN)
        );
        let status = s.request_schema(Target::Status, Method::Put).unwrap();
        let rs = &status["properties"]["requestStatus"]["properties"];
        assert_eq!(
            rs["cfpResponseStatus"]["enum"],
            json!(CFP_RESPONSE_STATUSES)
        );
        assert_eq!(rs["tradeTreeStatus"]["enum"], json!(TRADE_TREE_STATUSES));
        assert_eq!(
            status["properties"]["requestType"]["enum"],
            json!(REQUEST_TYPES)
        );
    }

    #[test]
    fn a_valid_part_passes_and_the_converted_schema_allows_null_trace_id() {
        let s = ouranos();
        assert_eq!(
            s.validate_request(Target::Parts, Method::Put, &part(Value::Null, Value::Null)),
            Ok(())
        );
        assert_eq!(
            s.request_schema(Target::Parts, Method::Put).unwrap()["properties"]["traceId"]["type"],
            json!(["string", "null"])
        );
    }

    #[test]
    fn more_than_50_children_are_refused_at_the_children_array() {
        let children: Vec<Value> = (0..51).map(|_| part(Value::Null, json!(0.25))).collect();
        let body = json!({ "parentPartsModel": part(Value::Null, Value::Null), "childrenPartsModel": children });
        let v = ouranos()
            .validate_request(Target::PartsStructure, Method::Put, &body)
            .unwrap_err();
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].pointer, "/childrenPartsModel");
        let fifty = json!({
            "parentPartsModel": part(Value::Null, Value::Null),
            "childrenPartsModel": vec![part(Value::Null, json!(0.25)); 50],
        });
        assert_eq!(
            ouranos().validate_request(Target::PartsStructure, Method::Put, &fifty),
            Ok(())
        );
    }

    #[test]
    fn a_parent_with_an_amount_is_refused() {
        let body =
            json!({ "parentPartsModel": part(Value::Null, json!(1)), "childrenPartsModel": [] });
        assert_eq!(
            pointers(ouranos().validate_request(Target::PartsStructure, Method::Put, &body)),
            ["/parentPartsModel/amountRequired"]
        );
    }

    #[test]
    fn limits_of_a_part_are_enforced_with_pointers() {
        let mut body = part(Value::Null, Value::Null);
        body["partsName"] = json!("x".repeat(51));
        body["amountRequiredUnit"] = json!("キログラム");
        body["operatorId"] = json!("not-a-uuid");
        body.as_object_mut().unwrap().remove("terminatedFlag");
        let mut got = pointers(ouranos().validate_request(Target::Parts, Method::Put, &body));
        got.sort();
        assert_eq!(
            got,
            [
                "/amountRequiredUnit",
                "/operatorId",
                "/partsName",
                "/terminatedFlag"
            ]
        );
    }

    #[test]
    fn a_complete_cfp_set_passes() {
        assert_eq!(
            ouranos().validate_request(Target::Cfp, Method::Put, &cfp_set()),
            Ok(())
        );
    }

    #[test]
    fn cfp_enums_and_bounds_are_enforced() {
        let mut body = cfp_set();
        body[0]["ghgDeclaredUnit"] = json!("kgCO2e/banana");
        body[1]["ghgEmission"] = json!(100000);
        body[2]["dqrValue"]["TeR"] = json!(-1);
        let got = pointers(ouranos().validate_request(Target::Cfp, Method::Put, &body));
        assert!(got.contains(&"/0/ghgDeclaredUnit".to_owned()), "{got:?}");
        assert!(got.contains(&"/1/ghgEmission".to_owned()), "{got:?}");
        assert!(got.contains(&"/2/dqrValue/TeR".to_owned()), "{got:?}");
    }

    #[test]
    fn more_than_five_decimals_are_refused() {
        let mut body = cfp_set();
        body[0]["ghgEmission"] = json!(1.123456);
        body[1]["dqrValue"] = json!({ "TeR": 3.1, "GeR": 0.0000001, "TiR": 3.1 });
        body[3]["dqrValue"] = body[1]["dqrValue"].clone();
        let v = ouranos()
            .validate_request(Target::Cfp, Method::Put, &body)
            .unwrap_err();
        let got: Vec<&str> = v.iter().map(|v| v.pointer.as_str()).collect();
        assert_eq!(
            got,
            ["/0/ghgEmission", "/1/dqrValue/GeR", "/3/dqrValue/GeR"],
            "{v:?}"
        );
        assert!(v[0].message.contains("5th decimal"));
        // Exactly five is fine.
        let mut ok = cfp_set();
        ok[0]["ghgEmission"] = json!(1.12345);
        assert_eq!(
            ouranos().validate_request(Target::Cfp, Method::Put, &ok),
            Ok(())
        );
    }

    #[test]
    fn cfp_set_rules_from_the_prose_are_enforced() {
        let s = ouranos();
        // Three elements: one missing.
        let mut three = cfp_set();
        three.as_array_mut().unwrap().pop();
        let v = s
            .validate_request(Target::Cfp, Method::Put, &three)
            .unwrap_err();
        assert!(v.iter().any(|v| v.message.contains("must be 4 elements")));
        assert!(
            v.iter()
                .any(|v| v.message == "cfpType mainComponent is insufficient")
        );
        // Different traceIds, wrong dqrType, a Total type.
        let mut body = cfp_set();
        body[1]["traceId"] = json!("d9a38406-cae2-4679-b052-15a75f5531f7");
        body[2]["dqrType"] = json!("mainProcessing");
        body[3]["cfpType"] = json!("mainComponentTotal");
        body[3]["dqrType"] = json!("mainProcessingTotal");
        let got = pointers(s.validate_request(Target::Cfp, Method::Put, &body));
        for expected in ["/1/traceId", "/2/dqrType", "/3/cfpType"] {
            assert!(
                got.contains(&expected.to_owned()),
                "{expected} not in {got:?}"
            );
        }
        // A DQR above zero with no emission in its cfpTypes.
        let mut body = cfp_set();
        body[0]["ghgEmission"] = json!(0);
        let v = s
            .validate_request(Target::Cfp, Method::Put, &body)
            .unwrap_err();
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].message.contains("preProduction or preComponent"));
    }

    #[test]
    fn missing_required_member_points_at_the_member() {
        let body = json!({ "statusModel": {}, "tradeModel": {} });
        let got = pointers(ouranos().validate_request(Target::TradeRequest, Method::Put, &body));
        assert!(
            got.contains(&"/tradeModel/downstreamTraceId".to_owned()),
            "{got:?}"
        );
        assert!(
            got.contains(&"/statusModel/requestType".to_owned()),
            "{got:?}"
        );
    }

    #[test]
    fn v2_client_credentials_and_error_shapes_are_known() {
        let s = ouranos();
        assert_eq!(
            s.validate_request(
                Target::AuthClient,
                Method::Post,
                &json!({ "clientId": "gw", "clientSecret": "s3cret" })
            ),
            Ok(())
        );
        let mut got = pointers(s.validate_request(
            Target::AuthClient,
            Method::Post,
            &json!({ "clientId": 7 }),
        ));
        got.sort();
        assert_eq!(got, ["/clientId", "/clientSecret"]);
        assert_eq!(
            s.validate_response(
                Target::Parts,
                Method::Put,
                400,
                &json!({ "code": "[dataspace] BadRequest", "message": "m", "detail": "d" })
            ),
            Ok(())
        );
        assert!(
            s.response_statuses(Target::Parts, Method::Delete)
                .contains(&400)
        );
        assert!(
            s.validate_request(Target::TradeResponse, Method::Put, &json!({}))
                .is_err()
        );
    }

    #[test]
    fn decimals_counts_shortest_form() {
        let n = |v: Value| match v {
            Value::Number(n) => decimals(&n),
            _ => unreachable!(),
        };
        assert_eq!(n(json!(1)), 0);
        assert_eq!(n(json!(1.5)), 1);
        assert_eq!(n(json!(99999.99999)), 5);
        assert_eq!(n(json!(1.123456)), 6);
        assert_eq!(n(json!(0.0000001)), 7);
        assert_eq!(n(json!(1.5e3)), 0);
    }
}
