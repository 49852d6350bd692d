//! Helpers for driving the Ouranos mock over HTTP the way a client of the published API would.
#![allow(dead_code)]

use dpp_conformance::mock::ouranos::{MockConfig, MockOuranos};
use dpp_schemas::wire::ouranos::{Method, Target, ouranos};
use reqwest::StatusCode;
use serde_json::{Value, json};

pub const BUYER: (&str, &str) = ("buyer@example.com", "Passw0rd");
pub const SUPPLIER: (&str, &str) = ("supplier@example.com", "Passw0rd");

pub fn config() -> MockConfig {
    MockConfig::default()
        .with_account(BUYER.0, BUYER.1)
        .with_account(SUPPLIER.0, SUPPLIER.1)
        .with_client("gateway-client", "client-s3cret")
}

pub async fn start(config: MockConfig) -> MockOuranos {
    MockOuranos::start(config).await.expect("mock starts")
}

/// A client of one operator.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub api_key: String,
    pub token: Option<String>,
    pub operator_id: String,
    pub plant_id: String,
}

/// What came back.
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the answer is an error in the published `{code, message, detail}` shape.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.body["code"], code, "{}", self.body);
        assert!(self.body["message"].is_string(), "{}", self.body);
        assert!(self.body["detail"].is_string(), "{}", self.body);
    }
}

pub async fn login(mock: &MockOuranos, account: (&str, &str)) -> Api {
    let http = reqwest::Client::new();
    let res = http
        .post(format!("{}/auth/login", mock.base_url()))
        .header("apiKey", mock.api_key())
        .json(&json!({ "operatorAccountId": account.0, "accountPassword": account.1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    ouranos()
        .validate_response(Target::AuthLogin, Method::Post, 201, &body)
        .unwrap();
    Api {
        http,
        base: mock.base_url(),
        api_key: mock.api_key().to_owned(),
        token: Some(body["accessToken"].as_str().unwrap().to_owned()),
        operator_id: mock.operator_id(account.0).unwrap(),
        plant_id: mock.plant_ids(account.0)[0].clone(),
    }
}

impl Api {
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.base, path_and_query)
    }

    pub fn request(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, self.url(path_and_query))
            .header("apiKey", &self.api_key);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        req
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Answer {
        let res = req.send().await.expect("an answer");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path_and_query: &str) -> Answer {
        self.send(self.request(reqwest::Method::GET, path_and_query))
            .await
    }

    pub async fn put(&self, path_and_query: &str, body: &Value) -> Answer {
        self.send(
            self.request(reqwest::Method::PUT, path_and_query)
                .json(body),
        )
        .await
    }

    pub async fn delete(&self, path_and_query: &str) -> Answer {
        self.send(self.request(reqwest::Method::DELETE, path_and_query))
            .await
    }

    /// A part of this operator with `traceId: null` (to be numbered by the mock).
    pub fn part(&self, name: &str, support: &str, amount: Option<f64>) -> Value {
        json!({
            "amountRequired": amount,
            "amountRequiredUnit": "kilogram",
            "operatorId": self.operator_id,
            "partsName": name,
            "plantId": self.plant_id,
            "supportPartsName": support,
            "terminatedFlag": false,
            "traceId": null,
            "partsLabelName": "Recycled PP part",
            "partsAddInfo1": null,
            "partsAddInfo2": null,
            "partsAddInfo3": null
        })
    }

    /// Registers a part and returns its traceId.
    pub async fn put_part(&self, name: &str, support: &str) -> String {
        let answer = self
            .put(
                "/api/v1/datatransport?dataTarget=parts",
                &self.part(name, support, None),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["traceId"].as_str().unwrap().to_owned()
    }

    /// The four CFP elements of a part, to be numbered (`cfpId: null`).
    pub fn cfp(&self, trace_id: &str, pre: f64, main: f64) -> Value {
        let element = |cfp_type: &str, dqr_type: &str, ghg: f64, dqr: f64| {
            json!({
                "cfpId": null, "traceId": trace_id, "ghgEmission": ghg,
                "ghgDeclaredUnit": "kgCO2e/kilogram", "cfpType": cfp_type, "dqrType": dqr_type,
                "dqrValue": { "TeR": dqr, "GeR": dqr, "TiR": dqr }
            })
        };
        json!([
            element("preProduction", "preProcessing", pre, 1.5),
            element("mainProduction", "mainProcessing", main, 2.0),
            element("preComponent", "preProcessing", 0.0, 1.5),
            element("mainComponent", "mainProcessing", 0.0, 2.0),
        ])
    }
}

/// The mock's own answers must never break the official response schema.
pub fn assert_mock_answers_were_valid(mock: &MockOuranos) {
    assert_eq!(mock.stats().self_check_failures, 0, "{:#?}", mock.stats());
}
