use proptest::prelude::*;

use crate::headers::{self, SignedHeaders};
use crate::reject::Rejection;

fn sample() -> SignedHeaders {
    // //Alice and //Bob; literal so the property tests do not derive keys per case.
    SignedHeaders {
        dendrite_hotkey: dojo_types::Hotkey::parse_ss58(
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
        )
        .unwrap(),
        uuid: "6f1c2d3e-0000-1111-2222-333344445555".to_owned(),
        nonce: 1_700_000_000_000_000_000,
        axon_hotkey: dojo_types::Hotkey::parse_ss58(
            "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
        )
        .unwrap(),
        body_hash: headers::body_hash(b""),
        signature: [7; 64],
    }
}

#[test]
fn headers_round_trip_and_signing_message_matches_bittensor() {
    let h = sample();
    let mut map = http::HeaderMap::new();
    h.write(&mut map);
    assert_eq!(headers::parse(&map).unwrap(), h);
    // Same layout as bittensor's dendrite; the empty-body hash is sha3-256("").
    assert_eq!(
        h.message(),
        "1700000000000000000.5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY.\
         5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty.6f1c2d3e-0000-1111-2222-333344445555.\
         a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a"
    );
}

#[test]
fn header_problems_are_named() {
    let h = sample();
    let mut map = http::HeaderMap::new();
    h.write(&mut map);
    let mut missing_sig = map.clone();
    missing_sig.remove(headers::DENDRITE_SIGNATURE);
    assert_eq!(
        headers::parse(&missing_sig),
        Err(Rejection::MissingSignature)
    );
    let mut dup = map.clone();
    dup.append(headers::DENDRITE_NONCE, http::HeaderValue::from_static("1"));
    assert!(matches!(
        headers::parse(&dup),
        Err(Rejection::MalformedHeader {
            reason: "repeated",
            ..
        })
    ));
    let mut dotted = map.clone();
    dotted.insert(
        headers::DENDRITE_UUID,
        http::HeaderValue::from_static("a.b"),
    );
    assert!(matches!(
        headers::parse(&dotted),
        Err(Rejection::MalformedHeader {
            header: headers::DENDRITE_UUID,
            ..
        })
    ));
    let mut big = map;
    big.insert(
        headers::DENDRITE_NONCE,
        http::HeaderValue::from_static("99999999999999999999"),
    );
    assert!(matches!(
        headers::parse(&big),
        Err(Rejection::MalformedHeader {
            header: headers::DENDRITE_NONCE,
            ..
        })
    ));
}

#[test]
fn grpc_frames() {
    let mut body = vec![0, 0, 0, 0, 3, b'a', b'b', b'c'];
    assert_eq!(
        headers::framed_body_hash(&body).unwrap(),
        headers::body_hash(b"abc")
    );
    body[0] = 1;
    assert!(headers::framed_body_hash(&body).is_err());
    assert!(headers::framed_body_hash(&[0, 0, 0, 0, 9, 1]).is_err());
    assert_eq!(
        headers::framed_body_hash(&[]).unwrap(),
        headers::body_hash(b"")
    );
}

#[test]
fn every_rejection_has_a_distinct_reason() {
    let all = [
        Rejection::MalformedHeader {
            header: "x",
            reason: "y",
        },
        Rejection::MissingSignature,
        Rejection::BadSignature {
            hotkey: String::new(),
        },
        Rejection::WrongAxon {
            claimed: String::new(),
            ours: String::new(),
        },
        Rejection::StaleNonce { nonce: 0, now: 0 },
        Rejection::ReplayedNonce { nonce: 0, last: 0 },
        Rejection::Unregistered {
            hotkey: String::new(),
        },
        Rejection::LowStake {
            hotkey: String::new(),
            stake: 0.0,
            min: 1.0,
        },
        Rejection::NoValidatorPermit {
            hotkey: String::new(),
        },
        Rejection::RateLimited {
            hotkey: String::new(),
            per_second: 1.0,
        },
        Rejection::BodyTooLarge { limit: 1 },
        Rejection::MalformedBody("x"),
        Rejection::BodyHashMismatch,
        Rejection::Saturated,
    ];
    let mut reasons: Vec<_> = all.iter().map(Rejection::reason).collect();
    reasons.sort_unstable();
    reasons.dedup();
    assert_eq!(reasons.len(), all.len());
    for r in &all {
        let s = r.to_status();
        assert_eq!(crate::reject::reason_of(&s), Some(r.reason()));
        assert_ne!(s.code(), tonic::Code::Ok);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn header_parsing_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        crate::fuzzing::headers(&data);
    }

    #[test]
    fn header_parsing_of_near_valid_sets_never_panics(
        nonce in "[0-9a-z]{0,25}", uuid in "[ -~]{0,70}", sig in "(0x)?[0-9a-f]{0,130}", hash in "[0-9a-fA-F]{0,66}",
    ) {
        let h = sample();
        let mut map = http::HeaderMap::new();
        h.write(&mut map);
        for (k, v) in [(headers::DENDRITE_NONCE, nonce), (headers::DENDRITE_UUID, uuid), (headers::DENDRITE_SIGNATURE, sig), (headers::BODY_HASH, hash)] {
            let mut m = map.clone();
            if let Ok(v) = http::HeaderValue::from_str(&v) {
                m.insert(k, v);
                let _ = headers::parse(&m);
            }
        }
    }

    #[test]
    fn protobuf_decoding_never_panics(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
        crate::fuzzing::proto(&data);
    }
}
