//! The Ouranos mock, black-box over HTTP: auth, parts, structures, CFP, paging, the trade flow.

mod support;

use std::time::Duration;

use dpp_conformance::mock::ouranos::{MockConfig, seed};
use dpp_schemas::wire::ouranos::{Method, Target, ouranos};
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn api_key_and_bearer_token_are_required_with_the_published_error_shapes() {
    let mock = start(config()).await;
    let api = login(&mock, BUYER).await;
    let http = reqwest::Client::new();
    let parts = api.url("/api/v1/datatransport?dataTarget=parts");

    // No apiKey / a wrong one: 403 AccessDenied, as the spec lists.
    let no_key = api
        .send(http.get(&parts).bearer_auth(api.token.as_ref().unwrap()))
        .await;
    no_key.assert_error(403, "[auth] AccessDenied");
    assert_eq!(
        no_key.body["message"],
        "You do not have the necessary privileges"
    );
    let wrong_key = api
        .send(http.get(&parts).header("apiKey", "nope").bearer_auth("x"))
        .await;
    assert_eq!(wrong_key.body["message"], "Invalid key");

    // apiKey but no token / a bad token: 401 Unauthorized.
    let no_token = api
        .send(http.get(&parts).header("apiKey", mock.api_key()))
        .await;
    no_token.assert_error(401, "[auth] Unauthorized");
    assert_eq!(no_token.body["message"], "Authentication required");
    let bad_token = api
        .send(
            http.get(&parts)
                .header("apiKey", mock.api_key())
                .bearer_auth("forged"),
        )
        .await;
    bad_token.assert_error(401, "[auth] Unauthorized");
    assert_eq!(bad_token.body["message"], "Invalid or expired token");
    ouranos()
        .validate_response(Target::Parts, Method::Get, 401, &bad_token.body)
        .unwrap();
    assert!(bad_token.header("x-track").is_some());

    assert_eq!(
        api.get("/api/v1/datatransport?dataTarget=parts")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(mock.stats().auth_failures, 4);
}

#[tokio::test]
async fn tokens_expire_and_refresh_tokens_renew_them() {
    let mut cfg = config();
    cfg.token_ttl = Duration::from_millis(300);
    let mock = start(cfg).await;
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{}/auth/login", mock.base_url()))
        .header("apiKey", mock.api_key())
        .json(&json!({ "operatorAccountId": BUYER.0, "accountPassword": BUYER.1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::CREATED);
    let tokens: Value = login.json().await.unwrap();
    let mut api = support::login(&mock, BUYER).await;
    api.token = Some(tokens["accessToken"].as_str().unwrap().to_owned());
    assert_eq!(
        api.get("/api/v1/authInfo?dataTarget=plant").await.status,
        StatusCode::OK
    );

    tokio::time::sleep(Duration::from_millis(400)).await;
    let expired = api.get("/api/v1/authInfo?dataTarget=plant").await;
    expired.assert_error(401, "[auth] Unauthorized");
    assert_eq!(expired.body["message"], "Invalid or expired token");

    let refreshed = api
        .send(
            http.post(api.url("/auth/refresh"))
                .header("apiKey", mock.api_key())
                .json(&json!({ "refreshToken": tokens["refreshToken"] })),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::CREATED, "{}", refreshed.body);
    ouranos()
        .validate_response(Target::AuthRefresh, Method::Post, 201, &refreshed.body)
        .unwrap();
    api.token = Some(refreshed.body["accessToken"].as_str().unwrap().to_owned());
    assert_eq!(
        api.get("/api/v1/authInfo?dataTarget=plant").await.status,
        StatusCode::OK
    );

    let forged = api
        .send(
            http.post(api.url("/auth/refresh"))
                .header("apiKey", mock.api_key())
                .json(&json!({ "refreshToken": "forged" })),
        )
        .await;
    forged.assert_error(401, "[auth] Unauthorized");
}

#[tokio::test]
async fn login_client_credentials_introspection_and_password_change() {
    let mock = start(config()).await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{}{path}", mock.base_url()))
            .header("apiKey", mock.api_key())
            .json(&body)
    };
    let api = login(&mock, BUYER).await;

    let wrong = api
        .send(post(
            "/auth/login",
            json!({ "operatorAccountId": BUYER.0, "accountPassword": "wrong-one" }),
        ))
        .await;
    wrong.assert_error(401, "[auth] Unauthorized");
    assert_eq!(wrong.body["message"], "Invalid credentials");
    // The v1 schema wants an e-mail address as operatorAccountId.
    let not_email = api
        .send(post(
            "/auth/login",
            json!({ "operatorAccountId": "buyer", "accountPassword": "x" }),
        ))
        .await;
    not_email.assert_error(400, "[auth] BadRequest");

    let client = api
        .send(post(
            "/auth/client",
            json!({ "clientId": "gateway-client", "clientSecret": "client-s3cret" }),
        ))
        .await;
    assert_eq!(client.status, StatusCode::CREATED, "{}", client.body);
    ouranos()
        .validate_response(Target::AuthClient, Method::Post, 201, &client.body)
        .unwrap();
    let client_token = client.body["accessToken"].as_str().unwrap().to_owned();
    let as_client = support::Api {
        token: Some(client_token.clone()),
        operator_id: mock.operator_id("gateway-client").unwrap(),
        plant_id: mock.plant_ids("gateway-client")[0].clone(),
        http: http.clone(),
        base: mock.base_url(),
        api_key: mock.api_key().to_owned(),
    };
    as_client.put_part("PET-FLAKE-LOT", "2025-07").await;
    let bad_secret = api
        .send(post(
            "/auth/client",
            json!({ "clientId": "gateway-client", "clientSecret": "nope" }),
        ))
        .await;
    bad_secret.assert_error(401, "[auth] Unauthorized");

    let introspect = |token: &str| post("/api/v2/systemAuth/token", json!({ "idToken": token }));
    let active = api.send(introspect(&client_token)).await;
    assert_eq!(active.body["active"], true);
    assert!(active.body["openSystemId"].is_string());
    ouranos()
        .validate_response(Target::SystemAuthToken, Method::Post, 200, &active.body)
        .unwrap();
    let user = api.send(introspect(api.token.as_ref().unwrap())).await;
    assert_eq!(user.body["operatorId"], api.operator_id.as_str());
    assert_eq!(
        api.send(introspect("nope")).await.body,
        json!({ "active": false })
    );

    let changed = api
        .send(
            api.request(reqwest::Method::POST, "/auth/change")
                .json(&json!({ "newPassword": "N3wPassw0rd" })),
        )
        .await;
    assert_eq!(changed.status, StatusCode::CREATED, "{}", changed.body);
    let old = api
        .send(post(
            "/auth/login",
            json!({ "operatorAccountId": BUYER.0, "accountPassword": BUYER.1 }),
        ))
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
    let new = api
        .send(post(
            "/auth/login",
            json!({ "operatorAccountId": BUYER.0, "accountPassword": "N3wPassw0rd" }),
        ))
        .await;
    assert_eq!(new.status, StatusCode::CREATED);
    assert_mock_answers_were_valid(&mock);
}

#[tokio::test]
async fn parts_are_numbered_stored_and_read_back() {
    let mock = start(config()).await;
    let api = login(&mock, BUYER).await;
    let body = api.part("PP-BUMPER-R30", "recycled-30", None);
    let created = api
        .put("/api/v1/datatransport?dataTarget=parts", &body)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(created.header("x-track").is_some());
    let trace_id = created.body["traceId"].as_str().unwrap().to_owned();
    let mut expected = body.clone();
    expected["traceId"] = json!(trace_id);
    assert_eq!(created.body, expected);

    let listed = api
        .get(&format!(
            "/api/v1/datatransport?dataTarget=parts&traceId={trace_id}"
        ))
        .await;
    assert_eq!(listed.body, json!([expected]));
    assert!(listed.header("link").is_none());
    ouranos()
        .validate_response(Target::Parts, Method::Get, 200, &listed.body)
        .unwrap();

    // Same operatorId + plantId + partsName + supportPartsName: the same traceId.
    let again = api
        .put("/api/v1/datatransport?dataTarget=parts", &body)
        .await;
    assert_eq!(again.body["traceId"], trace_id.as_str());
    // A different supportPartsName is a different part.
    let other = api.put_part("PP-BUMPER-R30", "recycled-50").await;
    assert_ne!(other, trace_id);
    assert_eq!(mock.parts_received(&trace_id), 2);
    assert_eq!(mock.total_puts(), 3);
    assert_eq!(mock.part(&trace_id).unwrap(), expected);

    // Another operator's identity is refused; an unknown traceId is the traceability 400.
    let supplier = login(&mock, SUPPLIER).await;
    let mut foreign = api.part("X", "y", None);
    foreign["operatorId"] = json!(supplier.operator_id);
    api.put("/api/v1/datatransport?dataTarget=parts", &foreign)
        .await
        .assert_error(403, "[dataspace] AccessDenied");
    let mut unknown = body.clone();
    unknown["traceId"] = json!("d9a38406-cae2-4679-b052-15a75f5531e6");
    let refused = api
        .put("/api/v1/datatransport?dataTarget=parts", &unknown)
        .await;
    refused.assert_error(400, "[traceability] BadRequest");
    assert_eq!(refused.body["detail"], "MSGAECP0013");
    // Nothing of the buyer is visible to the supplier.
    assert_eq!(
        supplier
            .get("/api/v1/datatransport?dataTarget=parts")
            .await
            .body,
        json!([])
    );

    // Delete, then it is gone.
    let deleted = api
        .delete(&format!(
            "/api/v1/datatransport?dataTarget=parts&traceId={other}"
        ))
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(mock.part(&other).is_none());
    assert_mock_answers_were_valid(&mock);
}

#[tokio::test]
async fn a_schema_invalid_body_is_a_400_in_the_published_shape() {
    let mock = start(config()).await;
    let api = login(&mock, BUYER).await;
    let mut body = api.part(&"P".repeat(51), "x", None);
    body["amountRequiredUnit"] = json!("キログラム");
    let refused = api
        .put("/api/v1/datatransport?dataTarget=parts", &body)
        .await;
    refused.assert_error(400, "[dataspace] BadRequest");
    let message = refused.body["message"].as_str().unwrap();
    assert!(message.starts_with("Validation failed, "), "{message}");
    assert!(message.contains("/partsName"), "{message}");
    assert!(message.contains("/amountRequiredUnit"), "{message}");
    ouranos()
        .validate_response(Target::Parts, Method::Put, 400, &refused.body)
        .unwrap();

    let broken = api
        .send(
            api.request(
                reqwest::Method::PUT,
                "/api/v1/datatransport?dataTarget=parts",
            )
            .header("content-type", "application/json")
            .body("{\"partsName\": ,}"),
        )
        .await;
    broken.assert_error(400, "[dataspace] BadRequest");

    let unknown_target = api.get("/api/v1/datatransport?dataTarget=passports").await;
    unknown_target.assert_error(400, "[dataspace] BadRequest");
    assert!(
        unknown_target.body["message"]
            .as_str()
            .unwrap()
            .contains("Unexpected query parameter")
    );
    let unknown_param = api
        .get("/api/v1/datatransport?dataTarget=parts&traceIds=x")
        .await;
    unknown_param.assert_error(400, "[dataspace] BadRequest");
    let no_route = api.get("/api/v1/nothing").await;
    no_route.assert_error(404, "[dataspace] NotFound");

    let stats = mock.stats();
    assert_eq!(stats.validation_failures, 1);
    assert!(stats.parts_received.is_empty());
}

#[tokio::test]
async fn paging_walks_every_page_through_the_link_header() {
    let mut cfg = config();
    cfg.page_size = 3;
    let mock = start(cfg).await;
    let api = login(&mock, BUYER).await;
    let mut names: Vec<String> = (0..7).map(|i| format!("FLAKE-{i:02}")).collect();
    names.reverse();
    for name in &names {
        api.put_part(name, "pet-bottle-flake").await;
    }
    names.sort();

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut next = Some(api.url("/api/v1/datatransport?dataTarget=parts&plantId=") + &api.plant_id);
    while let Some(url) = next.take() {
        let answer = api
            .send(api.request(reqwest::Method::GET, &url[api.base.len()..]))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        pages += 1;
        for part in answer.body.as_array().unwrap() {
            seen.push(part["partsName"].as_str().unwrap().to_owned());
        }
        if let Some(link) = answer.header("link") {
            // The published form: `<https://…?dataTarget=parts&limit=N&after=(uuid)>;`
            assert!(link.starts_with('<') && link.ends_with(">;"), "{link}");
            assert!(
                link.contains("limit=3") && link.contains("after="),
                "{link}"
            );
            assert!(
                link.contains(&format!("plantId={}", api.plant_id)),
                "{link}"
            );
            next = Some(link[1..link.len() - 2].to_owned());
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, names, "all parts, once each, sorted by partsName");

    let explicit = api
        .get("/api/v1/datatransport?dataTarget=parts&limit=5")
        .await;
    assert_eq!(explicit.body.as_array().unwrap().len(), 5);
    api.get("/api/v1/datatransport?dataTarget=parts&limit=101")
        .await
        .assert_error(400, "[dataspace] BadRequest");
    assert_mock_answers_were_valid(&mock);
}

#[tokio::test]
async fn parts_structures_hold_at_most_50_children() {
    let mock = start(config()).await;
    let api = login(&mock, BUYER).await;
    let children = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|i| api.part(&format!("PELLET-{i:02}"), "r-pp", Some(0.25)))
            .collect()
    };
    let too_many = json!({
        "parentPartsModel": api.part("HOUSING-ABS", "v1", None),
        "childrenPartsModel": children(51),
    });
    let refused = api
        .put("/api/v1/datatransport?dataTarget=partsStructure", &too_many)
        .await;
    refused.assert_error(400, "[dataspace] BadRequest");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("/childrenPartsModel")
    );
    assert!(mock.stats().parts_received.is_empty(), "nothing stored");

    let fifty = json!({
        "parentPartsModel": api.part("HOUSING-ABS", "v1", None),
        "childrenPartsModel": children(50),
    });
    let stored = api
        .put("/api/v1/datatransport?dataTarget=partsStructure", &fifty)
        .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
    let parent = stored.body["parentPartsModel"]["traceId"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = api
        .get(&format!(
            "/api/v1/datatransport?dataTarget=partsStructure&traceId={parent}"
        ))
        .await;
    assert_eq!(read.body, stored.body);
    assert_eq!(read.body["childrenPartsModel"][7]["amountRequired"], 0.25);

    // Children are found with parentFlag=false, the parent with parentFlag=true.
    let parents = api
        .get("/api/v1/datatransport?dataTarget=parts&parentFlag=true")
        .await;
    assert_eq!(parents.body.as_array().unwrap().len(), 1);
    let kids = api
        .get("/api/v1/datatransport?dataTarget=parts&parentFlag=false&limit=100")
        .await;
    assert_eq!(kids.body.as_array().unwrap().len(), 50);

    // A parent with an amount is refused (prose rule); a part in a structure cannot be deleted.
    let mut with_amount = fifty.clone();
    with_amount["parentPartsModel"]["amountRequired"] = json!(1);
    api.put(
        "/api/v1/datatransport?dataTarget=partsStructure",
        &with_amount,
    )
    .await
    .assert_error(400, "[dataspace] BadRequest");
    let locked = api
        .delete(&format!(
            "/api/v1/datatransport?dataTarget=parts&traceId={parent}"
        ))
        .await;
    locked.assert_error(400, "[traceability] BadRequest");
    assert_eq!(locked.body["detail"], "MSGAECP0014");
    assert_mock_answers_were_valid(&mock);
}

#[tokio::test]
async fn cfp_is_registered_as_four_elements_and_read_by_trace_ids() {
    let mock = start(config()).await;
    let api = login(&mock, SUPPLIER).await;
    let pellet = api.put_part("PP-R100-PELLET", "lot-7").await;
    let mut three = api.cfp(&pellet, 0.35, 0.42);
    three.as_array_mut().unwrap().pop();
    let refused = api
        .put("/api/v1/datatransport?dataTarget=cfp", &three)
        .await;
    refused.assert_error(400, "[dataspace] BadRequest");
    assert!(
        refused.body["message"]
            .as_str()
            .unwrap()
            .contains("mainComponent is insufficient")
    );
    let mut six_decimals = api.cfp(&pellet, 0.35, 0.42);
    six_decimals[0]["ghgEmission"] = json!(0.123456);
    api.put("/api/v1/datatransport?dataTarget=cfp", &six_decimals)
        .await
        .assert_error(400, "[dataspace] BadRequest");

    let created = api
        .put(
            "/api/v1/datatransport?dataTarget=cfp",
            &api.cfp(&pellet, 0.35, 0.42),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let cfp_id = created.body[0]["cfpId"].as_str().unwrap().to_owned();
    assert!(
        created
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["cfpId"] == cfp_id.as_str())
    );

    // Updating needs the cfpId; a second creation is refused.
    let mut update = api.cfp(&pellet, 0.5, 0.42);
    for element in update.as_array_mut().unwrap() {
        element["cfpId"] = json!(cfp_id);
    }
    assert_eq!(
        api.put("/api/v1/datatransport?dataTarget=cfp", &update)
            .await
            .status,
        StatusCode::CREATED
    );
    api.put(
        "/api/v1/datatransport?dataTarget=cfp",
        &api.cfp(&pellet, 1.0, 1.0),
    )
    .await
    .assert_error(400, "[traceability] BadRequest");

    let read = api
        .get(&format!(
            "/api/v1/datatransport?dataTarget=cfp&traceIds={pellet}"
        ))
        .await;
    assert_eq!(read.body.as_array().unwrap().len(), 4);
    assert_eq!(read.body[0]["ghgEmission"], 0.5);
    let too_many: Vec<String> = (0..51).map(|_| pellet.clone()).collect();
    api.get(&format!(
        "/api/v1/datatransport?dataTarget=cfp&traceIds={}",
        too_many.join(",")
    ))
    .await
    .assert_error(400, "[dataspace] BadRequest");
    assert_mock_answers_were_valid(&mock);
}

#[tokio::test]
async fn trade_flow_from_request_to_completed_status() {
    let mock = start(config()).await;
    let buyer = login(&mock, BUYER).await;
    let supplier = login(&mock, SUPPLIER).await;
    let bought = buyer.put_part("PP-R100-PELLET-IN", "from-supplier").await;
    let sold = supplier.put_part("PP-R100-PELLET", "lot-7").await;
    supplier
        .put(
            "/api/v1/datatransport?dataTarget=cfp",
            &supplier.cfp(&sold, 0.35, 0.42),
        )
        .await;

    // 1. The buyer asks the supplier for the CFP of what it bought.
    let request = json!({
        "statusModel": {
            "message": "Please answer by the end of the month.",
            "replyMessage": null, "requestStatus": {}, "requestType": "CFP",
            "statusId": null, "tradeId": null, "responseDueDate": "2025-12-31"
        },
        "tradeModel": {
            "downstreamOperatorId": buyer.operator_id, "downstreamTraceId": bought,
            "tradeId": null, "upstreamOperatorId": supplier.operator_id, "upstreamTraceId": null
        }
    });
    let created = buyer
        .put("/api/v1/datatransport?dataTarget=tradeRequest", &request)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let trade_id = created.body["tradeModel"]["tradeId"]
        .as_str()
        .unwrap()
        .to_owned();
    let status_id = created.body["statusModel"]["statusId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created.body["statusModel"]["tradeId"], trade_id.as_str());

    let mine = buyer
        .get("/api/v1/datatransport?dataTarget=tradeRequest")
        .await;
    assert_eq!(mine.body[0]["tradeId"], trade_id.as_str());

    // 2. The supplier sees the request, still open.
    let inbox = supplier
        .get("/api/v1/datatransport?dataTarget=status&statusTarget=RESPONSE")
        .await;
    assert_eq!(inbox.body.as_array().unwrap().len(), 1);
    assert_eq!(inbox.body[0]["statusId"], status_id.as_str());
    assert_eq!(
        inbox.body[0]["requestStatus"]["cfpResponseStatus"],
        "NOT_COMPLETED"
    );
    let to_answer = supplier
        .get("/api/v1/datatransport?dataTarget=tradeResponse")
        .await;
    assert_eq!(
        to_answer.body[0]["tradeModel"]["tradeId"],
        trade_id.as_str()
    );
    assert_eq!(to_answer.body[0]["partsModel"]["traceId"], bought.as_str());
    assert!(to_answer.body[0]["partsModel"]["amountRequired"].is_null());

    // 3. The supplier links its own part.
    let answered = supplier
        .put(
            &format!(
                "/api/v1/datatransport?dataTarget=tradeResponse&tradeId={trade_id}&traceId={sold}"
            ),
            &Value::Null,
        )
        .await;
    assert_eq!(answered.status, StatusCode::CREATED, "{}", answered.body);
    assert_eq!(answered.body["upstreamTraceId"], sold.as_str());

    // 4. The buyer sees the request completed, and the supplier's figures on its own part.
    let outbox = buyer
        .get(&format!(
            "/api/v1/datatransport?dataTarget=status&statusTarget=REQUEST&traceId={bought}"
        ))
        .await;
    assert_eq!(
        outbox.body[0]["requestStatus"]["cfpResponseStatus"],
        "COMPLETED"
    );
    let cfp = buyer
        .get(&format!(
            "/api/v1/datatransport?dataTarget=cfp&traceIds={bought}"
        ))
        .await;
    let responses: Vec<&Value> = cfp.body.as_array().unwrap().iter().collect();
    assert_eq!(responses.len(), 2, "{}", cfp.body);
    assert_eq!(responses[0]["cfpType"], "preProductionResponse");
    assert_eq!(responses[0]["ghgEmission"], 0.35);
    assert!(responses[0]["cfpId"].is_null());
    assert_eq!(responses[1]["cfpType"], "mainProductionResponse");

    // Parts in a live trade cannot be deleted, on either side.
    buyer
        .delete(&format!(
            "/api/v1/datatransport?dataTarget=parts&traceId={bought}"
        ))
        .await
        .assert_error(400, "[traceability] BadRequest");
    supplier
        .delete(&format!(
            "/api/v1/datatransport?dataTarget=parts&traceId={sold}"
        ))
        .await
        .assert_error(400, "[traceability] BadRequest");

    // Only the requester can cancel.
    let cancel = json!({
        "message": null, "replyMessage": null,
        "requestStatus": { "cfpResponseStatus": "CANCEL", "tradeTreeStatus": "TERMINATED" },
        "requestType": "CFP", "statusId": status_id, "tradeId": trade_id, "responseDueDate": null
    });
    supplier
        .put("/api/v1/datatransport?dataTarget=status", &cancel)
        .await
        .assert_error(403, "[dataspace] AccessDenied");
    let cancelled = buyer
        .put("/api/v1/datatransport?dataTarget=status", &cancel)
        .await;
    assert_eq!(cancelled.status, StatusCode::CREATED, "{}", cancelled.body);
    assert_mock_answers_were_valid(&mock);
}

#[tokio::test]
async fn operators_and_plants_through_auth_info() {
    let mock = start(config()).await;
    let api = login(&mock, BUYER).await;
    let supplier = login(&mock, SUPPLIER).await;
    let me = api.get("/api/v1/authInfo?dataTarget=operator").await;
    assert_eq!(me.body["operatorId"], api.operator_id.as_str());
    let both = api
        .get(&format!(
            "/api/v1/authInfo?dataTarget=operator&operatorIds={},{}",
            api.operator_id, supplier.operator_id
        ))
        .await;
    assert_eq!(both.body.as_array().unwrap().len(), 2);
    ouranos()
        .validate_response(Target::OperatorsByIds, Method::Get, 200, &both.body)
        .unwrap();

    let mut renamed = me.body.clone();
    renamed["operatorName"] = json!("Buyer Plastics K.K.");
    let put = api
        .put("/api/v1/authInfo?dataTarget=operator", &renamed)
        .await;
    assert_eq!(put.status, StatusCode::CREATED, "{}", put.body);
    let mut immutable = renamed.clone();
    immutable["openOperatorId"] = json!("1");
    api.put("/api/v1/authInfo?dataTarget=operator", &immutable)
        .await
        .assert_error(400, "[auth] BadRequest");

    let plant = json!({
        "plantId": null, "operatorId": api.operator_id, "openPlantId": "OSAKA-FLAKE-000301",
        "plantName": "Osaka flake line", "plantAddress": "1-1 Nanko, Osaka",
        "plantAttribute": {}
    });
    let created = api.put("/api/v1/authInfo?dataTarget=plant", &plant).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert!(created.body["plantId"].is_string());
    let plants = api.get("/api/v1/authInfo?dataTarget=plant").await;
    assert_eq!(plants.body.as_array().unwrap().len(), 2);
    api.put("/api/v1/authInfo?dataTarget=plant", &plant)
        .await
        .assert_error(400, "[auth] BadRequest");
    assert_mock_answers_were_valid(&mock);
}

#[tokio::test]
async fn seed_data_holds_an_answered_request_with_its_cfp() {
    let mock = start(MockConfig {
        seed_data: true,
        ..MockConfig::default()
    })
    .await;
    let maker = login(&mock, seed::MAKER_ACCOUNT).await;
    assert_eq!(maker.operator_id, seed::MAKER_OPERATOR_ID);
    let cfp = maker
        .get(&format!(
            "/api/v1/datatransport?dataTarget=cfp&traceIds={}",
            seed::BUMPER_PELLET_TRACE_ID
        ))
        .await;
    assert_eq!(cfp.body[0]["cfpType"], "preProductionResponse");
    let structure = maker
        .get(&format!(
            "/api/v1/datatransport?dataTarget=partsStructure&traceId={}",
            seed::BUMPER_TRACE_ID
        ))
        .await;
    assert_eq!(
        structure.body["childrenPartsModel"][0]["traceId"],
        seed::BUMPER_PELLET_TRACE_ID
    );

    let recycler = login(&mock, seed::RECYCLER_ACCOUNT).await;
    let certs = recycler
        .get(&format!(
            "/api/v1/datatransport?dataTarget=cfpCertification&traceId={}",
            seed::PELLET_TRACE_ID
        ))
        .await;
    assert_eq!(certs.body.as_array().unwrap().len(), 1);
    let requests = recycler
        .get("/api/v1/datatransport?dataTarget=status&statusTarget=RESPONSE")
        .await;
    assert_eq!(requests.body[0]["statusId"], seed::SEED_STATUS_ID);
    assert_mock_answers_were_valid(&mock);
}
