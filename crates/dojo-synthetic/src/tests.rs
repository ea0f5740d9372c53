use std::collections::{BTreeSet, HashSet};

use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::answer::CodeAnswer;
use crate::dedupe::{Deduper, Duplicate, normalise};
use crate::llm::{LlmError, parse_json};
use crate::obfuscate::{miner_order, minify_js, obfuscate_html, reassign_ids};
use crate::seeds::Seeds;
use crate::task::{Augmentation, CodeFile, Family, SyntheticTask};
use crate::{OfflineGenerator, augment};

#[test]
fn embedded_seeds_parse() {
    let s = Seeds::parse(include_str!("../seeds/default.json")).expect("embedded seeds are valid");
    assert_eq!(s.topics.len(), 3);
    assert!(s.personas.len() >= 30);
    assert!(Seeds::parse("{}").is_err());
    assert!(Seeds::parse(r#"{"topics":[{"topic":"GAMES","weight":-1,"requirement_counts":[2]}],"personas":["p"],"examples":[]}"#).is_err());
}

#[test]
fn offline_is_deterministic_under_a_seed() {
    let g = OfflineGenerator::default();
    let a = g.task(42).expect("task");
    let b = g.task(42).expect("task");
    assert_eq!(a, b);
    assert_ne!(a.prompt(), g.task(43).expect("task").prompt());
}

#[test]
fn offline_tasks_have_exact_ground_truth_and_distinct_pages() {
    let g = OfflineGenerator::default();
    let mut prompts = HashSet::new();
    let mut seen_augs = HashSet::new();
    let n = 600;
    for seed in 0..n {
        let t = g.task(seed).expect("task");
        prompts.insert(t.prompt().to_owned());
        assert_eq!(t.completions().len(), 4);
        let ranks: BTreeSet<u32> = t.ground_truth().iter().map(|(_, r)| r).collect();
        assert_eq!(ranks, BTreeSet::from([0, 1, 2, 3]));
        let pages: HashSet<&str> = t
            .completions()
            .iter()
            .filter_map(|c| c.index_html())
            .collect();
        assert_eq!(
            pages.len(),
            4,
            "augmented pages must differ from the original (seed {seed})"
        );
        for c in t.completions() {
            assert_eq!(
                t.ground_truth().rank(c.id.as_str()),
                Some(c.augmentation.rank())
            );
            seen_augs.insert(c.augmentation);
            let html = c.index_html().expect("page");
            assert!(html.contains("<canvas id=\"stage\""));
            assert_eq!(
                html.contains("S.stats.count")
                    || html.contains("S.config.maxItems")
                    || html.contains("S.physics"),
                c.augmentation == Augmentation::InjectError
            );
        }
        assert!(!t.requirements().is_empty());
        for r in t.requirements() {
            assert!(
                t.prompt().contains(r.as_str()),
                "requirement is listed in the prompt"
            );
        }
    }
    assert!(
        prompts.len() as u64 >= n * 99 / 100,
        "only {} distinct prompts in {n}",
        prompts.len()
    );
    assert_eq!(
        seen_augs.len(),
        10,
        "every augmentation occurs: {seen_augs:?}"
    );
}

#[test]
fn original_implements_every_requirement_and_remove_drops_one() {
    let g = OfflineGenerator::default();
    for seed in 0..200 {
        let t = g.task(seed).expect("task");
        let orig = t
            .completions()
            .iter()
            .find(|c| c.augmentation == Augmentation::Original)
            .expect("original");
        let orig_html = orig.index_html().expect("html");
        let features = orig_html.matches("\n// ").count();
        assert_eq!(features, t.requirements().len());
        if let Some(rm) = t
            .completions()
            .iter()
            .find(|c| c.augmentation == Augmentation::RemoveRequirement)
        {
            assert_eq!(
                rm.index_html().expect("html").matches("\n// ").count(),
                features - 1
            );
        }
    }
}

#[test]
fn families_map_ranks_one_to_three() {
    for f in Family::ALL {
        for r in 1..=3 {
            let a = f.member(r).expect("member");
            assert_eq!(a.rank(), r);
            assert_eq!(a.family(), Some(f));
        }
        assert!(f.member(0).is_none() && f.member(4).is_none());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn ground_truth_ids_equal_completion_ids(seed in any::<u64>(), salt in any::<u64>()) {
        let t = OfflineGenerator::default().task(seed).expect("task");
        let mut rng = ChaCha8Rng::seed_from_u64(salt);
        let t = reassign_ids(t, &mut rng).expect("reassign");
        let ids: BTreeSet<&str> = t.completions().iter().map(|c| c.id.as_str()).collect();
        let truth: BTreeSet<&str> = t.ground_truth().iter().map(|(c, _)| c.as_str()).collect();
        prop_assert_eq!(ids, truth);
        let json = serde_json::to_string(&t).expect("serialise");
        let back: SyntheticTask = serde_json::from_str(&json).expect("round trip");
        prop_assert_eq!(back, t);
    }

    #[test]
    fn tampered_ground_truth_is_rejected(seed in any::<u64>(), victim in 0usize..4, new_id in "[a-z0-9]{1,40}") {
        let t = OfflineGenerator::default().task(seed).expect("task");
        let mut v: serde_json::Value = serde_json::to_value(&t).expect("value");
        let old = v["completions"][victim]["id"].as_str().expect("id").to_owned();
        prop_assume!(old != new_id);
        // Rename the id in the ground truth only: the ids no longer match.
        let gt = v["ground_truth"].as_object_mut().expect("map");
        let rank = gt.remove(&old).expect("rank");
        gt.insert(new_id.clone(), rank);
        prop_assert!(serde_json::from_value::<SyntheticTask>(v.clone()).is_err());
        // Or swap two ranks: ids match but ranks contradict the augmentations.
        let mut w: serde_json::Value = serde_json::to_value(&t).expect("value");
        let a = w["completions"][0]["id"].as_str().expect("id").to_owned();
        let b = w["completions"][1]["id"].as_str().expect("id").to_owned();
        let gt = w["ground_truth"].as_object_mut().expect("map");
        let (ra, rb) = (gt[&a].clone(), gt[&b].clone());
        gt.insert(a, rb);
        gt.insert(b, ra);
        prop_assert!(serde_json::from_value::<SyntheticTask>(w).is_err());
    }

    #[test]
    fn miner_order_is_a_permutation(len in 1usize..16, salt in any::<u64>(), miner in "[a-zA-Z0-9]{1,48}") {
        let o = miner_order(len, salt, &miner);
        let mut s = o.clone();
        s.sort_unstable();
        prop_assert_eq!(s, (0..len).collect::<Vec<_>>());
        prop_assert_eq!(o, miner_order(len, salt, &miner));
    }

    #[test]
    fn parse_json_never_panics(s in ".{0,400}") {
        let _ = parse_json::<crate::instructor::Question>(&s);
    }

    #[test]
    fn normalise_is_idempotent(s in ".{0,200}") {
        let n = normalise(&s);
        prop_assert_eq!(normalise(&n), n);
    }
}

#[test]
fn miners_see_different_orders() {
    let orders: HashSet<Vec<usize>> = (0..50)
        .map(|i| miner_order(4, 7, &format!("miner-{i}")))
        .collect();
    assert!(orders.len() > 10);
}

#[test]
fn dedupe_catches_exact_and_near_duplicates() {
    let g = OfflineGenerator::default();
    let mut d = Deduper::new(1000, 0.8);
    let q = g.task(1).expect("task").prompt().to_owned();
    d.admit(&q).expect("first time");
    assert_eq!(
        d.admit(&q.to_uppercase().replace('\n', "  ")),
        Err(Duplicate::Exact)
    );
    let near = q.replacen("Create", "Please build", 1);
    assert!(
        matches!(d.admit(&near), Err(Duplicate::Near { .. })),
        "a one-word edit is a near duplicate"
    );
    let mut admitted = 0;
    for seed in 2..300 {
        if d.admit(g.task(seed).expect("task").prompt()).is_ok() {
            admitted += 1;
        }
    }
    assert!(
        admitted >= 290,
        "distinct offline questions pass dedupe: {admitted}/298"
    );
    let mut small = Deduper::new(2, 0.8);
    small.admit("alpha beta gamma delta").expect("a");
    small.admit("one two three four five").expect("b");
    small.admit("six seven eight nine ten").expect("c");
    assert_eq!(small.len(), 2);
    small
        .admit("alpha beta gamma delta")
        .expect("evicted entries are forgotten");
}

#[test]
fn parse_json_handles_fences_and_garbage() {
    let q: crate::instructor::Question = parse_json(
        "```json\n{\"question\": \"Build a thing that moves\", \"requirements\": [\"a\"]}\n```",
    )
    .expect("fenced");
    assert_eq!(q.requirements, vec!["a"]);
    assert!(matches!(
        parse_json::<crate::instructor::Question>("I cannot do that"),
        Err(LlmError::NotJson { .. })
    ));
    assert!(matches!(
        parse_json::<crate::instructor::Question>("{\"q\": 1}"),
        Err(LlmError::WrongShape(_))
    ));
}

#[test]
fn programmatic_augments_change_any_page() {
    let page = "<!DOCTYPE html><html><head><title>x</title></head><body><p>hi</p><script>var a = 1;</script></body></html>";
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for f in [Family::Answer, Family::Performance] {
        for r in 1..=3 {
            let aug = f.member(r).expect("member");
            assert!(augment::is_programmatic(aug));
            let out = augment::apply(page, aug, &mut rng).expect("applies");
            assert_ne!(out, page);
            assert!(out.contains("<p>hi</p>") && out.contains("var a = 1;"));
        }
    }
    assert!(augment::apply(page, Augmentation::ChangeSubject, &mut rng).is_none());
}

#[test]
fn code_answer_merges_into_one_page() {
    let a = CodeAnswer {
        files: vec![
            CodeFile {
                filename: "index.html".into(),
                content: "<html><head></head><body><canvas></canvas></body></html>".into(),
                language: "html".into(),
            },
            CodeFile {
                filename: "index.js".into(),
                content: "console.log('</script>')".into(),
                language: "javascript".into(),
            },
            CodeFile {
                filename: "style.css".into(),
                content: "body{margin:0}".into(),
                language: "css".into(),
            },
        ],
    };
    a.validate().expect("valid");
    let m = a.merge();
    assert_eq!(m.filename, "index.html");
    let c = &m.content;
    assert!(c.find("<style>").expect("style") < c.find("</head>").expect("head"));
    assert!(c.find("console.log").expect("js") < c.find("</body>").expect("body"));
    assert!(
        !c.contains("'</script>'"),
        "a closing tag inside JS is escaped"
    );
    assert!(CodeAnswer { files: vec![] }.validate().is_err());
    let huge = CodeAnswer {
        files: vec![CodeFile::html(
            "x".repeat(crate::answer::MAX_ANSWER_BYTES + 1),
        )],
    };
    assert!(huge.validate().is_err());
}

#[test]
fn minify_keeps_code_lines_and_template_literals() {
    let js = "// comment\nvar a = 1;\n\n    var b = `x\n    y`;\n  // another\nfoo(a, b);\n";
    let m = minify_js(js);
    assert_eq!(m, "var a = 1;\nvar b = `x\n    y`;\nfoo(a, b);\n");
}

#[test]
fn obfuscated_page_hides_markup_and_keeps_scripts() {
    let t = OfflineGenerator::default().task(5).expect("task");
    let html = t.completions()[0].index_html().expect("html");
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let o = obfuscate_html(html, &mut rng);
    assert!(!o.contains("<canvas id=\"stage\""), "markup is encoded");
    assert!(o.contains("atob("));
    assert!(o.contains("setInterval(frame"), "the page script is kept");
    assert!(o.len() < html.len() * 2);
}

/// Test double: a bag-of-letters embedding, so reordered words embed identically.
#[derive(Debug)]
struct Letters;

impl crate::dedupe::Encoder for Letters {
    fn embed(&self, text: &str) -> Result<Vec<f32>, String> {
        let mut v = vec![0f32; 26];
        for c in text
            .to_ascii_lowercase()
            .bytes()
            .filter(u8::is_ascii_lowercase)
        {
            v[usize::from(c - b'a')] += 1.0;
        }
        if v.iter().all(|x| *x == 0.0) {
            Err("no letters".to_owned())
        } else {
            Ok(v)
        }
    }
}

#[test]
fn encoder_catches_semantic_duplicates() {
    let mut d = Deduper::new(100, 0.8).with_encoder(std::sync::Arc::new(Letters), 0.999);
    d.admit("the quick brown fox jumps over the lazy dog")
        .expect("first");
    // Same words in another order: no shared 3-shingles, but identical letter counts.
    let r = d.admit("lazy dog the over jumps fox brown quick the");
    assert!(matches!(r, Err(Duplicate::Semantic { .. })), "{r:?}");
    d.admit("an entirely different sentence about orbits")
        .expect("distinct");
    // An encoder failure skips the semantic check instead of rejecting.
    d.admit("1234 5678 9012")
        .expect("no letters: encoder fails, text is still admitted");
}

#[test]
fn question_schema_fixes_the_requirement_count_when_asked() {
    use crate::instructor::{question_schema, question_schema_with};
    let reqs = |s: &serde_json::Value| {
        let r = &s["properties"]["requirements"];
        (r["minItems"].as_u64(), r["maxItems"].as_u64())
    };
    assert_eq!(reqs(&question_schema_with(Some(3))), (Some(3), Some(3)));
    assert_eq!(reqs(&question_schema()), (Some(1), Some(8)));
    // Out-of-range counts are clamped to what validation accepts at all.
    assert_eq!(reqs(&question_schema_with(Some(20))), (Some(8), Some(8)));
}
