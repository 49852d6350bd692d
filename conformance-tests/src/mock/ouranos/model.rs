//! The mock's own serde types for the Ouranos models, written from the published OpenAPI (field
//! names as published). Bodies are checked against the official schema before they are read into
//! these, so the types only need to carry the data; numbers stay `serde_json::Number` so they are
//! echoed as they were sent.

use serde::{Deserialize, Serialize};
use serde_json::Number;

/// `traceability.OperatorModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Operator {
    pub(crate) operator_id: String,
    pub(crate) open_operator_id: String,
    pub(crate) operator_name: String,
    pub(crate) operator_address: String,
    #[serde(default)]
    pub(crate) operator_attribute: OperatorAttribute,
}

/// `OperatorModel.operatorAttribute`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperatorAttribute {
    #[serde(default)]
    pub(crate) global_operator_id: Option<String>,
}

/// `traceability.PlantModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Plant {
    pub(crate) plant_id: Option<String>,
    pub(crate) operator_id: String,
    pub(crate) open_plant_id: String,
    pub(crate) plant_name: String,
    pub(crate) plant_address: String,
    #[serde(default)]
    pub(crate) plant_attribute: PlantAttribute,
}

/// `PlantModel.plantAttribute`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PlantAttribute {
    #[serde(default)]
    pub(crate) global_plant_id: Option<String>,
}

/// `traceability.PartsModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Part {
    pub(crate) amount_required: Option<Number>,
    pub(crate) amount_required_unit: Option<String>,
    pub(crate) operator_id: String,
    pub(crate) parts_name: String,
    pub(crate) plant_id: String,
    pub(crate) support_parts_name: Option<String>,
    pub(crate) terminated_flag: bool,
    pub(crate) trace_id: Option<String>,
    #[serde(default)]
    pub(crate) parts_label_name: Option<String>,
    #[serde(default)]
    pub(crate) parts_add_info1: Option<String>,
    #[serde(default)]
    pub(crate) parts_add_info2: Option<String>,
    #[serde(default)]
    pub(crate) parts_add_info3: Option<String>,
}

/// `traceability.PartsStructureModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PartsStructure {
    pub(crate) parent_parts_model: Part,
    pub(crate) children_parts_model: Vec<Part>,
}

/// `traceability.CfpModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Cfp {
    pub(crate) cfp_id: Option<String>,
    pub(crate) trace_id: String,
    pub(crate) ghg_emission: Option<Number>,
    pub(crate) ghg_declared_unit: String,
    pub(crate) cfp_type: String,
    pub(crate) dqr_type: String,
    pub(crate) dqr_value: Dqr,
}

/// `CfpModel.dqrValue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Dqr {
    #[serde(rename = "TeR")]
    pub(crate) te_r: Option<Number>,
    #[serde(rename = "GeR")]
    pub(crate) ge_r: Option<Number>,
    #[serde(rename = "TiR")]
    pub(crate) ti_r: Option<Number>,
}

/// `traceability.TradeModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Trade {
    pub(crate) downstream_operator_id: String,
    pub(crate) downstream_trace_id: String,
    pub(crate) trade_id: Option<String>,
    pub(crate) upstream_operator_id: String,
    pub(crate) upstream_trace_id: Option<String>,
}

/// `traceability.StatusModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Status {
    pub(crate) message: Option<String>,
    pub(crate) reply_message: Option<String>,
    #[serde(default)]
    pub(crate) request_status: RequestStatus,
    pub(crate) request_type: String,
    pub(crate) status_id: Option<String>,
    pub(crate) trade_id: Option<String>,
    pub(crate) response_due_date: Option<String>,
}

/// `StatusModel.requestStatus`. The two statuses are enums without `nullable`, so they are left
/// out rather than sent as `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RequestStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cfp_response_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) trade_tree_status: Option<String>,
    #[serde(default)]
    pub(crate) completed_count: Option<Number>,
    #[serde(default)]
    pub(crate) completed_count_modified_at: Option<String>,
    #[serde(default)]
    pub(crate) trades_count: Option<Number>,
    #[serde(default)]
    pub(crate) trades_count_modified_at: Option<String>,
}

/// `traceability.TradeRequestModel`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TradeRequest {
    pub(crate) status_model: Status,
    pub(crate) trade_model: Trade,
}

/// `traceability.TradeResponseModel` (as listed by `tradeResponse` GET).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TradeResponse {
    pub(crate) status_model: Status,
    pub(crate) trade_model: Trade,
    pub(crate) parts_model: Part,
}

/// `authentication.LoginInputModel`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoginInput {
    pub(crate) operator_account_id: String,
    pub(crate) account_password: String,
}

/// `authentication.RefreshInputModel`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RefreshInput {
    pub(crate) refresh_token: String,
}

/// `authentication.ClientInputModel` (v2).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ClientInput {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
}

/// `authentication.ChangePasswordModel`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChangePassword {
    pub(crate) new_password: String,
}

/// `authentication.TokenInputModel` (v2 introspection).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenInput {
    pub(crate) id_token: String,
}
