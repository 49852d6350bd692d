//! Deliberate rule-breaking (`dpp-mock ouranos --break CASE-ID`): each [`Break`] makes the mock
//! violate exactly the rule that one conformance case checks.
//!
//! The suite's self-test runs every case against a mock broken for it and expects that case to
//! fail: a case that passes against a broken mock checks nothing, which is a defect. The catalogue
//! is keyed by case id so the two cannot drift apart unnoticed (the self-test looks every
//! mandatory case up here).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One rule of the published API the mock can be told to break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Break {
    /// `OUR-AUTH-01`: the login / client token answer names its token `access_token`.
    TokenFieldMisnamed,
    /// `OUR-AUTH-02`: a wrong password or client secret still gets a token.
    AcceptWrongCredentials,
    /// `OUR-AUTH-03`: an unknown or expired bearer token is accepted.
    AcceptInvalidBearer,
    /// `OUR-AUTH-04`: a request without a bearer token is accepted.
    AcceptMissingBearer,
    /// `OUR-AUTH-05`: a request without `apiKey` is accepted.
    AcceptMissingApiKey,
    /// `OUR-AUTH-06`: a wrong `apiKey` is accepted.
    AcceptWrongApiKey,
    /// `OUR-PARTS-01`: a registered part comes back with `traceId: null`.
    PartTraceIdNotNumbered,
    /// `OUR-PARTS-02`: `GET parts` ignores its `traceId` filter.
    PartsTraceIdFilterIgnored,
    /// `OUR-PARTS-03`: paged lists answer without the `link` header.
    NoLinkHeader,
    /// `OUR-PARTS-04`: updating a part by its traceId numbers a new traceId.
    UpdateRenumbersPart,
    /// `OUR-PARTS-05`: a part body that breaks the schema is stored.
    AcceptInvalidPart,
    /// `OUR-PARTS-06`: `limit` above 100 is accepted.
    AcceptLimitOver100,
    /// `OUR-STRUCT-01`: `GET partsStructure` loses the children's `amountRequired`.
    StructureAmountsDropped,
    /// `OUR-STRUCT-02`: a structure with more than 50 children is stored.
    AcceptOver50Children,
    /// `OUR-STRUCT-03`: a parent part with an `amountRequired` is stored.
    AcceptParentAmount,
    /// `OUR-CFP-01`: each of the four CFP elements gets its own cfpId.
    CfpIdPerElement,
    /// `OUR-CFP-02`: `GET cfp` rounds `ghgEmission` to one decimal.
    CfpEmissionRounded,
    /// `OUR-CFP-03`: a CFP set without all four cfpTypes is stored.
    AcceptIncompleteCfp,
    /// `OUR-CFP-04`: a `ghgEmission` with more than 5 decimals is stored.
    AcceptTooManyDecimals,
    /// `OUR-TRADE-01`: the trade request answer carries `tradeId: null`.
    TradeIdNotNumbered,
    /// `OUR-TRADE-02`: the supplier's `status?statusTarget=RESPONSE` list stays empty.
    SupplierInboxEmpty,
    /// `OUR-TRADE-03`: the request stays `NOT_COMPLETED` after the supplier answered.
    StatusNotCompleted,
    /// `OUR-TRADE-04`: the requester's `GET cfp` hides the supplier's answered figures.
    ResponseFiguresHidden,
    /// `OUR-ERR-01`: an unknown `dataTarget` is refused with `{"error": …}` instead of the
    /// published `{code, message, detail}`.
    UnknownTargetErrorShape,
    /// `OUR-ERR-02`: a missing required query parameter is refused with `{"error": …}`.
    MissingParamErrorShape,
    /// `OUR-ERR-03`: answers carry no `x-track` header.
    NoXTrack,
    /// `OUR-ERR-04`: an unknown endpoint answers a plain-text 404.
    NotFoundPlainText,
    /// `OUR-ERR-05`: unknown query parameters are ignored instead of refused.
    AcceptUnknownParam,
}

/// (break, case id, what the mock does wrong).
const CATALOGUE: &[(Break, &str, &str)] = &[
    (
        Break::TokenFieldMisnamed,
        "OUR-AUTH-01",
        "token answers name the token access_token instead of accessToken",
    ),
    (
        Break::AcceptWrongCredentials,
        "OUR-AUTH-02",
        "a wrong password or client secret still gets a token",
    ),
    (
        Break::AcceptInvalidBearer,
        "OUR-AUTH-03",
        "an unknown or expired bearer token is accepted",
    ),
    (
        Break::AcceptMissingBearer,
        "OUR-AUTH-04",
        "requests without a bearer token are accepted",
    ),
    (
        Break::AcceptMissingApiKey,
        "OUR-AUTH-05",
        "requests without apiKey are accepted",
    ),
    (
        Break::AcceptWrongApiKey,
        "OUR-AUTH-06",
        "a wrong apiKey is accepted",
    ),
    (
        Break::PartTraceIdNotNumbered,
        "OUR-PARTS-01",
        "a registered part comes back with traceId null",
    ),
    (
        Break::PartsTraceIdFilterIgnored,
        "OUR-PARTS-02",
        "GET parts ignores the traceId filter",
    ),
    (
        Break::NoLinkHeader,
        "OUR-PARTS-03",
        "paged lists answer without the link header",
    ),
    (
        Break::UpdateRenumbersPart,
        "OUR-PARTS-04",
        "updating a part by traceId numbers a new traceId",
    ),
    (
        Break::AcceptInvalidPart,
        "OUR-PARTS-05",
        "part bodies that break the schema are stored",
    ),
    (
        Break::AcceptLimitOver100,
        "OUR-PARTS-06",
        "limit above 100 is accepted",
    ),
    (
        Break::StructureAmountsDropped,
        "OUR-STRUCT-01",
        "GET partsStructure loses the children's amountRequired",
    ),
    (
        Break::AcceptOver50Children,
        "OUR-STRUCT-02",
        "structures with more than 50 children are stored",
    ),
    (
        Break::AcceptParentAmount,
        "OUR-STRUCT-03",
        "a parent part with amountRequired is stored",
    ),
    (
        Break::CfpIdPerElement,
        "OUR-CFP-01",
        "each CFP element gets its own cfpId",
    ),
    (
        Break::CfpEmissionRounded,
        "OUR-CFP-02",
        "GET cfp rounds ghgEmission to one decimal",
    ),
    (
        Break::AcceptIncompleteCfp,
        "OUR-CFP-03",
        "CFP sets without all four cfpTypes are stored",
    ),
    (
        Break::AcceptTooManyDecimals,
        "OUR-CFP-04",
        "ghgEmission with more than 5 decimals is stored",
    ),
    (
        Break::TradeIdNotNumbered,
        "OUR-TRADE-01",
        "the trade request answer carries tradeId null",
    ),
    (
        Break::SupplierInboxEmpty,
        "OUR-TRADE-02",
        "status?statusTarget=RESPONSE never lists the requests addressed to the caller",
    ),
    (
        Break::StatusNotCompleted,
        "OUR-TRADE-03",
        "requests stay NOT_COMPLETED after the supplier answered",
    ),
    (
        Break::ResponseFiguresHidden,
        "OUR-TRADE-04",
        "GET cfp hides the supplier's answered figures",
    ),
    (
        Break::UnknownTargetErrorShape,
        "OUR-ERR-01",
        "an unknown dataTarget is refused with {\"error\": …}",
    ),
    (
        Break::MissingParamErrorShape,
        "OUR-ERR-02",
        "a missing required query parameter is refused with {\"error\": …}",
    ),
    (
        Break::NoXTrack,
        "OUR-ERR-03",
        "answers carry no x-track header",
    ),
    (
        Break::NotFoundPlainText,
        "OUR-ERR-04",
        "unknown endpoints answer a plain-text 404",
    ),
    (
        Break::AcceptUnknownParam,
        "OUR-ERR-05",
        "unknown query parameters are ignored",
    ),
];

impl Break {
    /// Every break mode, in case-id order.
    pub fn all() -> impl Iterator<Item = Break> {
        CATALOGUE.iter().map(|(b, _, _)| *b)
    }

    /// The break mode for a conformance case id (`OUR-AUTH-02`), if the mock has one.
    pub fn for_case(case_id: &str) -> Option<Break> {
        CATALOGUE
            .iter()
            .find(|(_, id, _)| id.eq_ignore_ascii_case(case_id))
            .map(|(b, _, _)| *b)
    }

    /// The conformance case this break mode makes fail.
    pub fn case_id(self) -> &'static str {
        self.entry().1
    }

    /// What the mock does wrong in this mode.
    pub fn description(self) -> &'static str {
        self.entry().2
    }

    fn entry(self) -> &'static (Break, &'static str, &'static str) {
        CATALOGUE
            .iter()
            .find(|(b, _, _)| *b == self)
            .expect("every break mode is in the catalogue")
    }
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.case_id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn case_ids_are_unique_and_round_trip() {
        let ids: BTreeSet<&str> = Break::all().map(Break::case_id).collect();
        assert_eq!(ids.len(), CATALOGUE.len());
        for b in Break::all() {
            assert_eq!(Break::for_case(b.case_id()), Some(b));
            assert_eq!(Break::for_case(&b.case_id().to_lowercase()), Some(b));
        }
        assert_eq!(Break::for_case("OUR-NOPE-01"), None);
    }
}
