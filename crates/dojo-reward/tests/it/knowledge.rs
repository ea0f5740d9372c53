//! The `knowledge` feature on the real dictionary the setup installs (WordNet 3.1's noun synsets
//! in the shipped model directory): how often it gives the right answer of a fact pair more
//! support than the wrong one. The model card quotes these counts.

use dojo_reward::knowledge::KnowledgeBase;
use dojo_reward::pairs::{facts, read_jsonl};

use crate::model;

/// `(more, less, same)` support for the right answer than for the wrong one.
fn tally<'a>(
    kb: &KnowledgeBase,
    pairs: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
) -> [usize; 3] {
    let mut t = [0; 3];
    for (prompt, right, wrong) in pairs {
        let (r, w) = (kb.support(prompt, right), kb.support(prompt, wrong));
        t[if r > w {
            0
        } else if r < w {
            1
        } else {
            2
        }] += 1;
    }
    t
}

#[test]
fn the_dictionary_supports_right_answers_more_often_than_wrong_ones() {
    let Some(m) = model() else { return };
    let kb = m
        .knowledge_base()
        .expect("the shipped model names its dictionary");
    // WordNet 3.1 has 82 192 noun synsets; a truncated or wrong file fails here first.
    assert_eq!(kb.len(), 82_192);
    let items = facts();
    let [more, less, same] = tally(
        kb,
        items
            .iter()
            .map(|f| (f.prompt.as_str(), f.right.as_str(), f.wrong.as_str())),
    );
    eprintln!("training-side facts: right answer more support {more}, less {less}, same {same}");
    assert!(
        more >= 3 * less && more >= items.len() / 3,
        "{more} / {less} / {same}"
    );
    for file in ["independent-pairs.jsonl", "fresh-pairs.jsonl"] {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../models/dojo-minilm-rm")
            .join(file);
        let pairs = read_jsonl(&path).expect("committed evaluation pairs");
        let [more, less, same] = tally(
            kb,
            pairs
                .iter()
                .filter(|p| p.kind.as_deref() == Some("wrong_fact"))
                .map(|p| (p.prompt.as_str(), p.chosen.as_str(), p.rejected.as_str())),
        );
        eprintln!(
            "{file}, wrong facts: right answer more support {more}, less {less}, same {same}"
        );
    }
}
