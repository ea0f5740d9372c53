use dojo_types::TaskId;
use dojo_types::task::{CodeFile, Completion, CompletionContent, TaskType};
use proptest::prelude::*;

use super::*;

fn cid(s: &str) -> CompletionId {
    CompletionId::new(s).unwrap()
}

fn task(criteria: Vec<Criterion>) -> Task {
    Task {
        id: TaskId::new("t").unwrap(),
        previous: None,
        prompt: "p".into(),
        task_type: TaskType::CodeGeneration,
        completions: ["a", "b", "c"]
            .iter()
            .map(|id| Completion {
                id: cid(id),
                content: CompletionContent::Text(format!("answer {id}")),
            })
            .collect(),
        criteria,
        expire_at_unix_ms: 10,
    }
}

#[test]
fn preferences_fill_every_criterion_kind() {
    let t = task(vec![
        Criterion::Ranking,
        Criterion::score(1.0, 100.0).unwrap(),
        Criterion::multi_score(vec!["a".into(), "b".into(), "c".into()], 1.0, 100.0).unwrap(),
        Criterion::multi_score(vec!["style".into()], 0.0, 10.0).unwrap(),
    ]);
    let prefs = vec![(cid("a"), 0.2), (cid("b"), 0.9), (cid("c"), 0.5)];
    let answers = answers_from_preferences(&t, &prefs).unwrap();
    assert_eq!(answers.len(), 12);
    let ranks: Vec<_> = answers[..3].iter().map(|a| a.answer.clone()).collect();
    assert_eq!(
        ranks,
        vec![Answer::Rank(2), Answer::Rank(0), Answer::Rank(1)]
    );
    assert_eq!(
        answers[4].answer,
        Answer::Score(Score::new(1.0 + 0.9 * 99.0).unwrap())
    );
    // Options equal to the completion ids: one score per completion (Dojo v1).
    assert_eq!(
        answers[6].answer,
        Answer::Score(Score::new(1.0 + 0.2 * 99.0).unwrap())
    );
    match &answers[9].answer {
        Answer::MultiScore(m) => assert_eq!(m["style"].get(), 2.0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn non_finite_preferences_are_errors_and_out_of_range_ones_clamp() {
    let t = task(vec![Criterion::score(1.0, 100.0).unwrap()]);
    assert!(answers_from_preferences(&t, &[(cid("a"), f64::NAN)]).is_err());
    let a = answers_from_preferences(&t, &[(cid("a"), 7.0), (cid("b"), -3.0)]).unwrap();
    assert_eq!(a[0].answer, Answer::Score(Score::new(100.0).unwrap()));
    assert_eq!(a[1].answer, Answer::Score(Score::new(1.0).unwrap()));
}

#[test]
fn unrenderable_tasks_are_reported() {
    let mut t = task(vec![Criterion::Ranking]);
    assert_eq!(renderable(&t), Ok(()));
    t.completions[1].content = CompletionContent::Code {
        files: vec![CodeFile {
            filename: "index.html".into(),
            content: "  ".into(),
            language: "html".into(),
        }],
        installation_commands: String::new(),
    };
    assert!(renderable(&t).unwrap_err().contains("no code"));
    t.completions[1].content = CompletionContent::Media(vec![]);
    assert!(renderable(&t).unwrap_err().contains("media"));
    t.completions[1].content = CompletionContent::Text("x".repeat(MAX_COMPLETION_BYTES + 1));
    assert!(renderable(&t).unwrap_err().contains("limit"));
    t.completions[1].content = CompletionContent::Dialogue(vec![]);
    assert!(renderable(&t).unwrap_err().contains("empty dialogue"));
}

#[test]
fn text_criteria_need_humans() {
    assert!(automatic_criteria(&task(vec![Criterion::text(1, 10).unwrap()])).is_err());
    assert!(automatic_criteria(&task(vec![Criterion::Ranking])).is_ok());
}

#[test]
fn code_is_flattened_with_file_names() {
    let c = CompletionContent::Code {
        files: vec![CodeFile {
            filename: "index.html".into(),
            content: "<p>hi</p>".into(),
            language: "html".into(),
        }],
        installation_commands: "npm i".into(),
    };
    assert_eq!(
        flatten(&c),
        "# install: npm i\n// file: index.html\n<p>hi</p>\n"
    );
}

proptest! {
    #[test]
    fn mapped_scores_stay_in_range_and_ranks_are_a_permutation(
        prefs in proptest::collection::vec(-2.0f64..3.0, 3),
        min in -50.0f64..50.0,
        width in 0.001f64..100.0,
    ) {
        let t = task(vec![Criterion::Ranking, Criterion::score(min, min + width).unwrap()]);
        let p: Vec<_> = ["a", "b", "c"].iter().zip(&prefs).map(|(i, v)| (cid(i), *v)).collect();
        let answers = answers_from_preferences(&t, &p).unwrap();
        let mut ranks: Vec<u32> = answers[..3].iter().map(|a| match a.answer { Answer::Rank(r) => r, _ => 99 }).collect();
        ranks.sort_unstable();
        prop_assert_eq!(ranks, vec![0, 1, 2]);
        for a in &answers[3..] {
            match &a.answer {
                Answer::Score(s) => prop_assert!(s.get() >= min && s.get() <= min + width),
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
