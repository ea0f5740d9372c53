use std::collections::BTreeMap;

use dojo_types::task::*;
use dojo_types::{CompletionId, Criterion, Score, TaskId};
use proptest::prelude::*;
use prost::Message;

use crate::{WireError, v1};

fn cid(s: &str) -> CompletionId {
    CompletionId::new(s).unwrap()
}

fn sample_task() -> Task {
    Task {
        id: TaskId::new("t-1").unwrap(),
        previous: Some(TaskId::new("t-0").unwrap()),
        prompt: "build a todo app".to_owned(),
        task_type: TaskType::CodeGeneration,
        completions: vec![
            Completion {
                id: cid("a"),
                content: CompletionContent::Text("hello".to_owned()),
            },
            Completion {
                id: cid("b"),
                content: CompletionContent::Dialogue(vec![
                    DialogueTurn {
                        role: Role::User,
                        message: "hi".to_owned(),
                    },
                    DialogueTurn {
                        role: Role::Assistant,
                        message: "hello".to_owned(),
                    },
                ]),
            },
            Completion {
                id: cid("c"),
                content: CompletionContent::Code {
                    files: vec![CodeFile {
                        filename: "index.html".to_owned(),
                        content: "<p/>".to_owned(),
                        language: "html".to_owned(),
                    }],
                    installation_commands: "npm i".to_owned(),
                },
            },
            Completion {
                id: cid("d"),
                content: CompletionContent::Media(vec![MediaFile {
                    filename: "x.png".to_owned(),
                    content: vec![0x89, b'P', b'N', b'G'],
                    mime_type: "image/png".to_owned(),
                }]),
            },
        ],
        criteria: vec![
            Criterion::Ranking,
            Criterion::score(1.0, 100.0).unwrap(),
            Criterion::multi_score(vec!["a".to_owned(), "b".to_owned()], 0.0, 10.0).unwrap(),
            Criterion::text(10, 500).unwrap(),
        ],
        expire_at_unix_ms: 1_732_000_000_123,
    }
}

#[test]
fn task_round_trips_through_bytes() {
    let task = sample_task();
    let bytes = v1::SendTaskRequest::from(task.clone()).encode_to_vec();
    let back = Task::try_from(v1::SendTaskRequest::decode(bytes.as_slice()).unwrap()).unwrap();
    assert_eq!(back, task);
}

#[test]
fn results_feedback_and_ranking_round_trip() {
    let results = TaskResults {
        task: TaskId::new("t").unwrap(),
        results: vec![WorkerResult {
            worker_id: "w1".to_owned(),
            answers: vec![
                CompletionAnswer {
                    completion: cid("a"),
                    answer: Answer::Rank(0),
                },
                CompletionAnswer {
                    completion: cid("b"),
                    answer: Answer::Score(Score::new(73.0).unwrap()),
                },
                CompletionAnswer {
                    completion: cid("c"),
                    answer: Answer::MultiScore(BTreeMap::from([(
                        "x".to_owned(),
                        Score::new(1.5).unwrap(),
                    )])),
                },
                CompletionAnswer {
                    completion: cid("d"),
                    answer: Answer::Text("meh".to_owned()),
                },
            ],
        }],
        status: Some(ResultStatus::Complete),
    };
    assert_eq!(
        TaskResults::try_from(v1::TaskResults::from(results.clone())).unwrap(),
        results
    );
    let fb = ScoreFeedback {
        task: TaskId::new("t").unwrap(),
        score: Score::new(0.25).unwrap(),
    };
    assert_eq!(
        ScoreFeedback::try_from(v1::ScoreFeedback::from(fb.clone())).unwrap(),
        fb
    );
    let ack = TaskAck {
        miner_task_id: Some(TaskId::new("dojo-9").unwrap()),
    };
    assert_eq!(
        TaskAck::try_from(v1::TaskAck::from(ack.clone())).unwrap(),
        ack
    );
    assert_eq!(
        TaskAck::try_from(v1::TaskAck::default()).unwrap(),
        TaskAck {
            miner_task_id: None
        }
    );
    let rr = RankingRequest {
        request_id: TaskId::new("r").unwrap(),
        prompt: "p".to_owned(),
        completions: sample_task().completions,
    };
    assert_eq!(
        RankingRequest::try_from(v1::RankingRequest::from(rr.clone())).unwrap(),
        rr
    );
    let res = RankingResult {
        request_id: TaskId::new("r").unwrap(),
        scores: vec![(cid("a"), Score::new(0.9).unwrap())],
    };
    assert_eq!(
        RankingResult::try_from(v1::RankingResult::from(res.clone())).unwrap(),
        res
    );
}

#[test]
fn negative_timestamps_round_trip() {
    let mut t = sample_task();
    t.expire_at_unix_ms = -1_500;
    assert_eq!(Task::try_from(v1::Task::from(t.clone())).unwrap(), t);
}

#[test]
fn bad_wire_values_are_typed_errors() {
    let good = v1::Task::from(sample_task());
    let with = |f: &dyn Fn(&mut v1::Task)| {
        let mut t = good.clone();
        f(&mut t);
        Task::try_from(t).unwrap_err()
    };
    assert_eq!(
        with(&|t| t.expire_at = None),
        WireError::Missing("task.expire_at")
    );
    assert!(matches!(
        with(&|t| t.task_id.clear()),
        WireError::Id {
            field: "task.task_id",
            ..
        }
    ));
    assert_eq!(
        with(&|t| t.task_type = 0),
        WireError::UnknownEnum {
            field: "task_type",
            value: 0
        }
    );
    assert_eq!(
        with(&|t| t.task_type = 99),
        WireError::UnknownEnum {
            field: "task_type",
            value: 99
        }
    );
    assert!(matches!(
        with(&|t| t.criteria[1] = v1::Criterion {
            kind: Some(v1::criterion::Kind::Score(v1::ScoreCriterion {
                min: 5.0,
                max: 1.0
            }))
        }),
        WireError::Criterion(_)
    ));
    assert_eq!(
        with(&|t| t.criteria[0].kind = None),
        WireError::Missing("criterion.kind")
    );
    assert_eq!(
        with(&|t| t.completions[0].content = None),
        WireError::Missing("completion.content")
    );
    assert!(matches!(
        with(&|t| t.expire_at = Some(prost_types::Timestamp {
            seconds: 0,
            nanos: -1
        })),
        WireError::Timestamp(_)
    ));
    assert!(matches!(
        with(&|t| t.expire_at = Some(prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: 0
        })),
        WireError::Timestamp(_)
    ));
    let nan = v1::ScoreFeedback {
        task_id: "t".to_owned(),
        score: f64::NAN,
    };
    assert!(matches!(
        ScoreFeedback::try_from(nan),
        Err(WireError::Score { .. })
    ));
}

#[test]
fn unknown_fields_from_newer_peers_are_ignored() {
    let mut bytes = v1::SendTaskRequest::from(sample_task()).encode_to_vec();
    // Field 15 (varint) of the outer message: a field this version does not know.
    bytes.extend_from_slice(&[15 << 3, 1]);
    let t = Task::try_from(v1::SendTaskRequest::decode(bytes.as_slice()).unwrap()).unwrap();
    assert_eq!(t, sample_task());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn decoding_arbitrary_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
        if let Ok(m) = v1::SendTaskRequest::decode(data.as_slice()) {
            let _ = Task::try_from(m);
        }
        if let Ok(m) = v1::TaskResults::decode(data.as_slice()) {
            let _ = TaskResults::try_from(m);
        }
    }

    #[test]
    fn scores_round_trip(v in -1e12f64..1e12, ms in -1_000_000_000_000i64..4_000_000_000_000) {
        let fb = ScoreFeedback { task: TaskId::new("t").unwrap(), score: Score::new(v).unwrap() };
        prop_assert_eq!(ScoreFeedback::try_from(v1::ScoreFeedback::from(fb.clone())).unwrap(), fb);
        let mut t = sample_task();
        t.expire_at_unix_ms = ms;
        prop_assert_eq!(Task::try_from(v1::Task::from(t.clone())).unwrap(), t);
    }
}

#[test]
fn result_status_and_heartbeat_round_trip_and_old_peers_read_as_unreported() {
    for status in [
        None,
        Some(ResultStatus::Pending),
        Some(ResultStatus::Complete),
        Some(ResultStatus::Expired),
        Some(ResultStatus::Declined),
    ] {
        let r = TaskResults {
            task: TaskId::new("t").unwrap(),
            results: vec![],
            status,
        };
        let bytes = v1::TaskResults::from(r.clone()).encode_to_vec();
        let back = TaskResults::try_from(v1::TaskResults::decode(bytes.as_slice()).unwrap());
        assert_eq!(back.unwrap(), r);
    }
    let unknown = v1::TaskResults {
        task_id: "t".to_owned(),
        results: vec![],
        status: 99,
    };
    assert!(matches!(
        TaskResults::try_from(unknown),
        Err(WireError::UnknownEnum { value: 99, .. })
    ));
    for method in ScoringMethod::ALL {
        let h = HeartbeatInfo {
            ack: true,
            version: Some("0.1.0".to_owned()),
            scoring_method: Some(method),
            free_capacity: Some(0),
        };
        let bytes = v1::HeartbeatAck::from(h.clone()).encode_to_vec();
        let back = HeartbeatInfo::try_from(v1::HeartbeatAck::decode(bytes.as_slice()).unwrap());
        assert_eq!(back.unwrap(), h);
    }
    // What a miner from before these fields sends: only `ack`.
    let old = HeartbeatInfo::try_from(v1::HeartbeatAck {
        ack: true,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        old,
        HeartbeatInfo {
            ack: true,
            version: None,
            scoring_method: None,
            free_capacity: None
        }
    );
    let bad = v1::HeartbeatAck {
        ack: true,
        scoring_method: 42,
        ..Default::default()
    };
    assert!(matches!(
        HeartbeatInfo::try_from(bad),
        Err(WireError::UnknownEnum { value: 42, .. })
    ));
}

fn id_strategy() -> impl Strategy<Value = String> {
    "[a-z0-9-]{1,12}"
}

fn completion_strategy() -> impl Strategy<Value = Completion> {
    (
        id_strategy(),
        prop_oneof![
            ".{0,40}".prop_map(CompletionContent::Text),
            ".{0,40}".prop_map(|html| CompletionContent::Code {
                files: vec![CodeFile {
                    filename: "index.html".to_owned(),
                    content: html,
                    language: "html".to_owned(),
                }],
                installation_commands: String::new(),
            }),
        ],
    )
        .prop_map(|(id, content)| Completion {
            id: cid(&id),
            content,
        })
}

fn task_type_strategy() -> impl Strategy<Value = TaskType> {
    prop_oneof![
        Just(TaskType::CodeGeneration),
        Just(TaskType::Dialogue),
        Just(TaskType::TextToImage),
        Just(TaskType::TextToThreeD),
        Just(TaskType::TextFeedback),
        Just(TaskType::ScoreFeedback),
    ]
}

fn outcome_strategy<T: std::fmt::Debug + Clone>(
    done: impl Strategy<Value = T>,
) -> impl Strategy<Value = RoleOutcome<T>> {
    prop_oneof![
        Just(RoleOutcome::Pending),
        Just(RoleOutcome::Expired),
        Just(RoleOutcome::Declined),
        done.prop_map(RoleOutcome::Complete),
    ]
}

fn through_bytes<M: Message + Default>(m: M) -> M {
    M::decode(m.encode_to_vec().as_slice()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn role_assignments_round_trip(
        id in id_strategy(),
        prompt in ".{0,60}",
        task_type in task_type_strategy(),
        completions in proptest::collection::vec(completion_strategy(), 0..4),
        ms in -1_000_000_000_000i64..4_000_000_000_000,
    ) {
        let g = GenerationTask {
            id: TaskId::new(id.clone()).unwrap(),
            prompt: prompt.clone(),
            task_type,
            expire_at_unix_ms: ms,
        };
        let back = GenerationTask::try_from(through_bytes(v1::GenerationTask::from(g.clone())));
        prop_assert_eq!(back.unwrap(), g);
        let v = VoteTask {
            id: TaskId::new(id).unwrap(),
            prompt,
            task_type,
            completions,
            expire_at_unix_ms: ms,
        };
        let back = VoteTask::try_from(through_bytes(v1::VoteTask::from(v.clone())));
        prop_assert_eq!(back.unwrap(), v);
    }

    #[test]
    fn role_results_round_trip(
        id in id_strategy(),
        generated in outcome_strategy((completion_strategy(), ".{0,20}")),
        voted in outcome_strategy((id_strategy(), proptest::collection::btree_map(id_strategy(), 0u32..50, 0..3))),
    ) {
        let g = GenerationResult {
            task: TaskId::new(id.clone()).unwrap(),
            outcome: match generated {
                RoleOutcome::Complete((completion, author)) => RoleOutcome::Complete(Generated { completion, author }),
                RoleOutcome::Pending => RoleOutcome::Pending,
                RoleOutcome::Expired => RoleOutcome::Expired,
                RoleOutcome::Declined => RoleOutcome::Declined,
            },
        };
        let back = GenerationResult::try_from(through_bytes(v1::GenerationResult::from(g.clone())));
        prop_assert_eq!(back.unwrap(), g);
        let v = VoteResult {
            task: TaskId::new(id).unwrap(),
            outcome: match voted {
                RoleOutcome::Complete((chosen, tally)) => RoleOutcome::Complete(Vote {
                    chosen: cid(&chosen),
                    tally: tally.into_iter().map(|(c, n)| (cid(&c), n)).collect(),
                }),
                RoleOutcome::Pending => RoleOutcome::Pending,
                RoleOutcome::Expired => RoleOutcome::Expired,
                RoleOutcome::Declined => RoleOutcome::Declined,
            },
        };
        let back = VoteResult::try_from(through_bytes(v1::VoteResult::from(v.clone())));
        prop_assert_eq!(back.unwrap(), v);
    }

    #[test]
    fn decoding_arbitrary_role_bytes_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(m) = v1::GenerationTask::decode(data.as_slice()) {
            let _ = GenerationTask::try_from(m);
        }
        if let Ok(m) = v1::VoteTask::decode(data.as_slice()) {
            let _ = VoteTask::try_from(m);
        }
        if let Ok(m) = v1::GenerationResult::decode(data.as_slice()) {
            let _ = GenerationResult::try_from(m);
        }
        if let Ok(m) = v1::VoteResult::decode(data.as_slice()) {
            let _ = VoteResult::try_from(m);
        }
    }
}

#[test]
fn role_results_whose_status_and_fields_disagree_are_typed_errors() {
    let text = v1::Completion::from(Completion {
        id: cid("g"),
        content: CompletionContent::Text("<p>hi</p>".to_owned()),
    });
    let gen_result = |status: v1::ResultStatus, completion: Option<v1::Completion>| {
        GenerationResult::try_from(v1::GenerationResult {
            task_id: "t".to_owned(),
            status: status as i32,
            completion,
            author: String::new(),
        })
    };
    assert_eq!(
        gen_result(v1::ResultStatus::Complete, None),
        Err(WireError::Missing("generation_result.completion"))
    );
    assert_eq!(
        gen_result(v1::ResultStatus::Pending, Some(text.clone())),
        Err(WireError::Unexpected("generation_result.completion"))
    );
    assert_eq!(
        gen_result(v1::ResultStatus::Unspecified, None),
        Err(WireError::UnknownEnum {
            field: "generation_result.status",
            value: 0
        })
    );
    assert!(gen_result(v1::ResultStatus::Complete, Some(text)).is_ok());
    let vote = |status: v1::ResultStatus, chosen: &str| {
        VoteResult::try_from(v1::VoteResult {
            task_id: "t".to_owned(),
            status: status as i32,
            chosen_completion_id: chosen.to_owned(),
            tally: Default::default(),
        })
    };
    assert_eq!(
        vote(v1::ResultStatus::Complete, ""),
        Err(WireError::Missing("vote_result.chosen_completion_id"))
    );
    assert_eq!(
        vote(v1::ResultStatus::Expired, "a"),
        Err(WireError::Unexpected("vote_result.chosen_completion_id"))
    );
    assert!(matches!(
        vote(v1::ResultStatus::Pending, ""),
        Ok(VoteResult {
            outcome: RoleOutcome::Pending,
            ..
        })
    ));
    assert!(matches!(
        VoteResult::try_from(v1::VoteResult {
            task_id: "t".to_owned(),
            status: 77,
            ..Default::default()
        }),
        Err(WireError::UnknownEnum { value: 77, .. })
    ));
    let no_deadline = v1::VoteTask {
        task_id: "t".to_owned(),
        task_type: v1::TaskType::CodeGeneration as i32,
        ..Default::default()
    };
    assert_eq!(
        VoteTask::try_from(no_deadline),
        Err(WireError::Missing("vote_task.expire_at"))
    );
    let no_type = v1::GenerationTask {
        task_id: "t".to_owned(),
        expire_at: Some(prost_types::Timestamp::default()),
        ..Default::default()
    };
    assert!(matches!(
        GenerationTask::try_from(no_type),
        Err(WireError::UnknownEnum {
            field: "task_type",
            ..
        })
    ));
}
