use proptest::prelude::*;

use crate::fuzzing::{AdmissionCase, Header, Mutation, Signer};
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
fn per_request_headers_are_never_indexed_and_stable_ones_may_be() {
    let mut map = http::HeaderMap::new();
    sample().write(&mut map);
    let sensitive = |name: &str| map.get(name).unwrap().is_sensitive();
    for unique in [
        headers::DENDRITE_NONCE,
        headers::DENDRITE_SIGNATURE,
        headers::BODY_HASH,
    ] {
        assert!(sensitive(unique), "{unique}");
    }
    for stable in [
        headers::DENDRITE_HOTKEY,
        headers::DENDRITE_UUID,
        headers::AXON_HOTKEY,
    ] {
        assert!(!sensitive(stable), "{stable}");
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

fn header() -> impl Strategy<Value = Header> {
    proptest::sample::select(Header::ALL.to_vec())
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => Just(Mutation::None),
        1 => header().prop_map(Mutation::Drop),
        // The one header whose absence has its own reason.
        1 => Just(Mutation::Drop(Header::Signature)),
        1 => header().prop_map(Mutation::Repeat),
        1 => header().prop_map(Mutation::Garble),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(byte, bit)| Mutation::FlipSignatureBit { byte, bit }),
        1 => Just(Mutation::ForeignSignature),
        1 => (1u32..).prop_map(|by| Mutation::AlterSignedNonce { by }),
        1 => Just(Mutation::WrongAxon),
        1 => any::<u32>().prop_map(|extra_ms| Mutation::StaleNonce { extra_ms }),
        1 => any::<u32>().prop_map(|extra_ms| Mutation::FutureNonce { extra_ms }),
        1 => Just(Mutation::Replay),
        1 => (1u32..).prop_map(|by_ns| Mutation::OlderNonce { by_ns }),
        1 => Just(Mutation::RequirePermit),
        1 => (1u8..=8).prop_map(|burst| Mutation::ExceedRate { burst }),
        1 => (1u16..64).prop_map(|under| Mutation::Oversize { under }),
        1 => (any::<u16>(), 1u8..).prop_map(|(at, mask)| Mutation::TamperBody { at, mask }),
        1 => Just(Mutation::CompressedFrame),
        1 => (1u16..40).prop_map(|cut| Mutation::TruncateFrame { cut }),
        1 => Just(Mutation::Saturate),
    ]
}

/// Structurally valid requests (what a dendrite sends) with one mutation each.
fn admission_case() -> impl Strategy<Value = AdmissionCase> {
    let signer = prop_oneof![
        4 => Just(Signer::Validator),
        4 => Just(Signer::Miner),
        1 => Just(Signer::Minnow),
        1 => Just(Signer::Stranger),
    ];
    (
        signer,
        "[A-Za-z0-9-]{1,64}",
        0u32..8_000,
        "[ -~]{0,40}",
        ".{0,200}",
        mutation(),
    )
        .prop_map(
            |(signer, uuid, nonce_age_ms, task_id, prompt, mutation)| AdmissionCase {
                signer,
                uuid,
                nonce_age_ms,
                task_id,
                prompt,
                mutation,
            },
        )
}

#[test]
fn mutated_valid_requests_reach_admission_and_every_rejection() {
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    let outcomes: RefCell<BTreeMap<String, u32>> = RefCell::default();
    let config = ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(600)
    };
    let mut runner = proptest::test_runner::TestRunner::new(config);
    runner
        .run(&admission_case(), |case| {
            let got = crate::fuzzing::admission(&case);
            let want = crate::fuzzing::expected(&case).map_or(Ok(()), |r| Err(r.to_owned()));
            prop_assert_eq!(&got, &want, "{:?}", case);
            let key = got.err().unwrap_or_else(|| "admitted".to_owned());
            *outcomes.borrow_mut().entry(key).or_insert(0) += 1;
            Ok(())
        })
        .unwrap();
    let outcomes = outcomes.into_inner();
    eprintln!("admission outcomes: {outcomes:?}");
    let every = [
        "admitted",
        "malformed-header",
        "missing-signature",
        "bad-signature",
        "wrong-axon",
        "stale-nonce",
        "replayed-nonce",
        "unregistered",
        "low-stake",
        "no-validator-permit",
        "rate-limited",
        "body-too-large",
        "malformed-body",
        "body-hash-mismatch",
        "saturated",
    ];
    for reason in every {
        assert!(
            outcomes.get(reason).copied().unwrap_or(0) > 0,
            "{reason} never reached: {outcomes:?}"
        );
    }
    // And nothing else: every outcome is one of the axon's reasons.
    assert_eq!(outcomes.len(), every.len(), "{outcomes:?}");
}

#[test]
fn fuzz_byte_cases_follow_the_same_rule() {
    // The `admission` fuzz target's decoding: a few fixed byte strings, one per mutation kind.
    for kind in 0u8..20 {
        let data = [kind, kind, kind, 7, 3, 9, b'a', b'b', b'c'];
        let case = crate::fuzzing::admission_case(&data);
        crate::fuzzing::check_admission(&case).ok();
    }
}

fn signed_headers() -> impl Strategy<Value = SignedHeaders> {
    let hotkeys = [
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
        "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
        "5FLSigC9HGRKVhB9FiEo4Y3koPsNmBmLJbpXg2mp1hXcS59Y",
    ];
    let hotkey = proptest::sample::select(hotkeys.to_vec())
        .prop_map(|s| dojo_types::Hotkey::parse_ss58(s).unwrap());
    (
        hotkey.clone(),
        "[A-Za-z0-9-]{1,64}",
        any::<u64>(),
        hotkey,
        any::<[u8; 32]>(),
        proptest::collection::vec(any::<u8>(), 64),
    )
        .prop_map(
            |(dendrite_hotkey, uuid, nonce, axon_hotkey, body_hash, sig)| SignedHeaders {
                dendrite_hotkey,
                uuid,
                nonce,
                axon_hotkey,
                body_hash,
                signature: sig.try_into().unwrap(),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_header_sets_reach_the_round_trip(h in signed_headers(), drop in header()) {
        let mut map = http::HeaderMap::new();
        h.write(&mut map);
        prop_assert_eq!(headers::parse(&map), Ok(h));
        // Through the fuzz entry point's byte format, so its round-trip assertion runs.
        prop_assert!(crate::fuzzing::headers(&crate::fuzzing::encode_headers(&map)));
        map.remove(drop.name());
        prop_assert!(!crate::fuzzing::headers(&crate::fuzzing::encode_headers(&map)));
    }

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
