use dojo_types::TaskId;
use dojo_types::task::{Completion, TaskType};

use super::*;

fn task(criteria: Vec<Criterion>) -> Task {
    Task {
        id: TaskId::new("t").unwrap(),
        previous: None,
        prompt: "p".into(),
        task_type: TaskType::CodeGeneration,
        completions: ["a", "b"]
            .iter()
            .map(|id| Completion {
                id: CompletionId::new(*id).unwrap(),
                content: CompletionContent::Text("x".into()),
            })
            .collect(),
        criteria,
        expire_at_unix_ms: 10,
    }
}

fn score(cid: &str, ci: usize, v: serde_json::Value) -> AnswerInput {
    AnswerInput {
        completion_id: cid.into(),
        criterion: ci,
        score: Some(v),
        scores: None,
        rank: None,
        text: None,
    }
}

#[test]
fn valid_scores_become_a_worker_result() {
    let t = task(vec![Criterion::score(1.0, 100.0).unwrap()]);
    let r = validate_submission(
        &t,
        "w1",
        &[score("a", 0, 73.into()), score("b", 0, "12".into())],
    )
    .unwrap();
    assert_eq!(r.worker_id, "w1");
    assert_eq!(
        r.answers[0].answer,
        Answer::Score(Score::new(73.0).unwrap())
    );
    assert_eq!(
        r.answers[1].answer,
        Answer::Score(Score::new(12.0).unwrap())
    );
}

#[test]
fn bad_scores_are_refused_with_reasons() {
    let t = task(vec![Criterion::score(1.0, 100.0).unwrap()]);
    let check = |a: Vec<AnswerInput>, want: &str| {
        let e = validate_submission(&t, "w", &a).unwrap_err();
        assert!(e.contains(want), "{e:?} should mention {want:?}");
    };
    check(
        vec![score("a", 0, 101.into()), score("b", 0, 5.into())],
        "outside",
    );
    check(
        vec![score("a", 0, 0.into()), score("b", 0, 5.into())],
        "outside",
    );
    check(
        vec![score("a", 0, "NaN".into()), score("b", 0, 5.into())],
        "finite",
    );
    check(
        vec![score("a", 0, "inf".into()), score("b", 0, 5.into())],
        "finite",
    );
    check(
        vec![score("a", 0, "lots".into()), score("b", 0, 5.into())],
        "must be a number",
    );
    check(
        vec![
            score("a", 0, serde_json::json!([1])),
            score("b", 0, 5.into()),
        ],
        "must be a number",
    );
    check(vec![score("a", 0, 5.into())], "b has no answer");
    check(
        vec![
            score("a", 0, 5.into()),
            score("a", 0, 6.into()),
            score("b", 0, 5.into()),
        ],
        "twice",
    );
    check(
        vec![score("a", 0, 5.into()), score("zz", 0, 5.into())],
        "not in this task",
    );
    check(vec![score("a", 3, 5.into())], "does not exist");
}

#[test]
fn ranks_must_be_a_permutation() {
    let t = task(vec![Criterion::Ranking]);
    let rank = |cid: &str, r: i64| AnswerInput {
        completion_id: cid.into(),
        criterion: 0,
        score: None,
        scores: None,
        rank: Some(r.into()),
        text: None,
    };
    assert!(validate_submission(&t, "w", &[rank("a", 1), rank("b", 0)]).is_ok());
    assert!(
        validate_submission(&t, "w", &[rank("a", 0), rank("b", 0)])
            .unwrap_err()
            .contains("different rank")
    );
    assert!(
        validate_submission(&t, "w", &[rank("a", 2), rank("b", 0)])
            .unwrap_err()
            .contains("whole number")
    );
}

#[test]
fn form_fields_map_to_answers() {
    let t = task(vec![
        Criterion::score(1.0, 100.0).unwrap(),
        Criterion::multi_score(vec!["style".into(), "speed".into()], 0.0, 10.0).unwrap(),
    ]);
    let fields: Vec<(String, String)> = [
        ("c0.a", "10"),
        ("c0.b", "90"),
        ("c1.0.a", "1"),
        ("c1.1.a", "2"),
        ("c1.0.b", "3"),
        ("c1.1.b", "4"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let answers = answers_from_form(&t, &fields).unwrap();
    let r = validate_submission(&t, "w", &answers).unwrap();
    assert_eq!(r.answers.len(), 4);
    match &r.answers[3].answer {
        Answer::MultiScore(m) => assert_eq!((m["style"].get(), m["speed"].get()), (3.0, 4.0)),
        other => panic!("{other:?}"),
    }
    assert!(answers_from_form(&t, &[("c9.a".into(), "1".into())]).is_err());
}

#[test]
fn html_is_escaped() {
    assert_eq!(
        esc("<script>alert('x')</script>&\""),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
    );
}

#[test]
fn tokens_come_from_bearer_or_cookie() {
    let mut h = HeaderMap::new();
    h.insert(
        header::COOKIE,
        HeaderValue::from_static("a=b; dojo_session=st-1"),
    );
    assert_eq!(token_from(&h).as_deref(), Some("st-1"));
    h.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Bearer st-2"),
    );
    assert_eq!(token_from(&h).as_deref(), Some("st-2"));
    assert_eq!(token_from(&HeaderMap::new()), None);
}

#[test]
fn the_ranking_form_counts_from_one_and_the_api_from_zero() {
    // What the page's rank inputs submit (also typed by hand when JavaScript is off).
    let t = task(vec![Criterion::Ranking]);
    let fields = [
        ("c0.a".to_owned(), "2".to_owned()),
        ("c0.b".to_owned(), "1".to_owned()),
    ];
    let answers = answers_from_form(&t, &fields).unwrap();
    let r = validate_submission(&t, "w", &answers).unwrap();
    let ranks: Vec<_> = r
        .answers
        .iter()
        .map(|a| (a.completion.as_str(), a.answer.clone()))
        .collect();
    assert_eq!(ranks, [("a", Answer::Rank(1)), ("b", Answer::Rank(0))]);
    // Rank 0 on the page is out of range, not "best".
    let zero = [
        ("c0.a".to_owned(), "0".to_owned()),
        ("c0.b".to_owned(), "1".to_owned()),
    ];
    let answers = answers_from_form(&t, &zero).unwrap();
    assert!(validate_submission(&t, "w", &answers).is_err());
    // The page lists one rank input per response, 1 to n, in order.
    let page = task_form(&crate::store::StoredTask {
        caller: dojo_identity::Keypair::from_uri("//Alice").unwrap().ss58(),
        task: t,
        miner_task_id: "mt-1".into(),
        state: crate::store::TaskState::Open,
        declined_reason: None,
        num_results: 0,
        received_at_ms: 0,
    });
    assert!(page.contains("name=\"c0.a\" min=\"1\" max=\"2\" step=\"1\" value=\"1\""));
    assert!(page.contains("draggable=\"true\""));
    assert!(page.contains("aria-label=\"Move response 2 up\""));
}
