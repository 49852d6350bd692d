//! The Ouranos mock playing a hostile remote in list paging (`HostilePaging`), black-box over
//! HTTP: what a client sees in the `link` header, and that the cursors behave as documented.

mod support;

use std::collections::HashSet;

use dpp_conformance::mock::ouranos::{HostilePaging, MockConfig};
use reqwest::StatusCode;
use support::*;

/// `(URL, after)` of a `link: <URL>;` header.
fn link_of(answer: &Answer) -> Option<(reqwest::Url, String)> {
    let link = answer.header("link")?;
    assert!(link.starts_with('<') && link.ends_with(">;"), "{link}");
    let url = reqwest::Url::parse(&link[1..link.len() - 2]).unwrap();
    let after = url
        .query_pairs()
        .find(|(k, _)| k == "after")
        .map(|(_, v)| v.into_owned())
        .expect("an after cursor");
    Some((url, after))
}

fn hostile(mode: HostilePaging) -> MockConfig {
    let mut cfg = config().with_hostile_paging(mode);
    cfg.page_size = 2;
    cfg
}

#[tokio::test]
async fn foreign_host_links_name_the_metadata_address_with_cursors_valid_here() {
    let mock = start(hostile(HostilePaging::ForeignHost)).await;
    assert_eq!(mock.hostile_paging(), Some(HostilePaging::ForeignHost));
    let api = login(&mock, BUYER).await;
    let mut names: Vec<String> = (0..5).map(|i| format!("FLAKE-{i:02}")).collect();
    for name in &names {
        api.put_part(name, "pet-bottle-flake").await;
    }
    names.sort();

    let first = "/api/v1/datatransport?dataTarget=parts";
    let mut path = first.to_owned();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let answer = api.get(&path).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        pages += 1;
        for part in answer.body.as_array().unwrap() {
            seen.push(part["partsName"].as_str().unwrap().to_owned());
        }
        let Some((url, after)) = link_of(&answer) else {
            break;
        };
        assert_eq!(url.host_str(), Some("169.254.169.254"), "{url}");
        assert_eq!(url.path(), "/api/v1/datatransport");
        // The cursor is asked of the mock itself, as a client should.
        path = format!("{first}&limit=2&after={after}");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, names, "every part once: the cursors are valid");
    assert_mock_answers_were_valid(&mock);
}

#[tokio::test]
async fn endless_cursors_are_fresh_on_every_page_and_unknown_ones_restart_the_list() {
    let mock = start(hostile(HostilePaging::EndlessCursor)).await;
    let api = login(&mock, BUYER).await;
    for name in ["FLAKE-00", "FLAKE-01", "FLAKE-02"] {
        api.put_part(name, "pet-bottle-flake").await;
    }
    let first = "/api/v1/datatransport?dataTarget=parts";
    let page_one = api.get(first).await;
    assert_eq!(page_one.body.as_array().unwrap().len(), 2);

    let mut cursors = HashSet::new();
    let mut path = first.to_owned();
    for _ in 0..20 {
        let answer = api.get(&path).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(
            answer.body, page_one.body,
            "an unknown cursor restarts the list"
        );
        let (url, after) = link_of(&answer).expect("a link on every page");
        assert_ne!(url.host_str(), Some("169.254.169.254"));
        assert!(uuid::Uuid::parse_str(&after).is_ok(), "{after}");
        assert!(cursors.insert(after.clone()), "cursor {after} repeated");
        path = format!("{first}&limit=2&after={after}");
    }

    // The last (here the only) page of a list links onward too, even an empty list.
    let all = api.get(&format!("{first}&limit=100")).await;
    assert_eq!(all.body.as_array().unwrap().len(), 3);
    assert!(link_of(&all).is_some());
    let empty = api
        .get("/api/v1/datatransport?dataTarget=tradeResponse")
        .await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert_eq!(empty.body, serde_json::json!([]));
    assert!(link_of(&empty).is_some());
    assert_mock_answers_were_valid(&mock);
}

#[tokio::test]
async fn an_honest_mock_ends_its_lists_and_refuses_unknown_cursors() {
    let mut cfg = config();
    cfg.page_size = 2;
    let mock = start(cfg).await;
    assert_eq!(mock.hostile_paging(), None);
    let api = login(&mock, BUYER).await;
    api.put_part("FLAKE-00", "pet-bottle-flake").await;
    let only = api.get("/api/v1/datatransport?dataTarget=parts").await;
    assert!(only.header("link").is_none());
    api.get(&format!(
        "/api/v1/datatransport?dataTarget=parts&after={}",
        uuid::Uuid::new_v4()
    ))
    .await
    .assert_error(400, "[dataspace] BadRequest");
}
