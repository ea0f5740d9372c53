//! Entry points shared by the `cargo fuzz` targets (`fuzz/`) and the property tests: feed
//! arbitrary bytes to everything that parses remote input and check that nothing panics.

use dojo_proto::v1;
use prost::Message;

/// Builds a header map from `data` (`name\0value\0` pairs) and runs the header parser and
/// the gRPC frame parser over it.
pub fn headers(data: &[u8]) {
    let mut map = http::HeaderMap::new();
    let mut parts = data.split(|b| *b == 0);
    while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) {
            map.append(n, v);
        }
    }
    if let Ok(h) = crate::headers::parse(&map) {
        // A parsed header set must re-serialise to something that parses to the same thing.
        let mut again = http::HeaderMap::new();
        h.write(&mut again);
        assert_eq!(
            crate::headers::parse(&again).ok(),
            Some(h),
            "header round trip"
        );
    }
    let _ = crate::headers::framed_body_hash(data);
}

/// Decodes `data` as every request and response message of `dojo.v1`, and converts what decodes
/// into domain types.
pub fn proto(data: &[u8]) {
    if let Ok(m) = v1::SendTaskRequest::decode(data) {
        let _ = dojo_types::task::Task::try_from(m);
    }
    if let Ok(m) = v1::TaskAck::decode(data) {
        let _ = dojo_types::task::TaskAck::try_from(m);
    }
    if let Ok(m) = v1::TaskResults::decode(data) {
        let _ = dojo_types::task::TaskResults::try_from(m);
    }
    if let Ok(m) = v1::ScoreFeedback::decode(data) {
        let _ = dojo_types::task::ScoreFeedback::try_from(m);
    }
    if let Ok(m) = v1::RankingRequest::decode(data) {
        let _ = dojo_types::task::RankingRequest::try_from(m);
    }
    if let Ok(m) = v1::RankingResult::decode(data) {
        let _ = dojo_types::task::RankingResult::try_from(m);
    }
    let _ = v1::HeartbeatAck::decode(data);
    let _ = v1::FetchResultsRequest::decode(data);
}
