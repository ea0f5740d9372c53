//! A rule for the `refusal` side feature: does the response open by declining?
//!
//! The pair embedding learns the wording of the training refusals, and a refusal worded otherwise
//! ("I'd prefer not to discuss …", "I can't give instructions involving knives …") lands near the
//! topic it names rather than near other refusals: the sentence encoder places meaning by subject.
//! Declining, in English, is a small closed set of first-person forms, so a rule reads it reliably,
//! the way the arithmetic checker reads sums. It looks only at the first two sentences: an answer
//! that helps and later says "I can't stress this enough" is not a refusal.

/// First-person forms of declining, after [`normalise`] (contractions expanded, lower case).
const DECLINING: &[&str] = &[
    "i cannot",
    "i will not",
    "i am unable to",
    "i am not able to",
    "i am not comfortable",
    "i do not feel comfortable",
    "i would rather not",
    "i would prefer not to",
    "i must decline",
    "i must respectfully decline",
    "i have to decline",
    "i need to decline",
    "i am not in a position to",
    "i am only able to",
    "i do not think i can",
    "not something i can",
    "against my guidelines",
];

/// Words after "i cannot" that make it emphasis, not declining ("I can't stress enough…").
const EMPHASIS: &[&str] = &[
    "stress",
    "emphasise",
    "emphasize",
    "overstate",
    "recommend",
    "believe",
    "wait",
    "imagine",
    "thank",
];

/// Sentences read from the start of the response.
const OPENING_SENTENCES: usize = 2;
/// Characters read at most: the opening of a hostile megabyte input is enough.
const MAX_CHARS: usize = 1024;

/// Whether the opening of `response` declines in the first person.
pub fn declines(response: &str) -> bool {
    let opening = opening(crate::model::cap_chars(response, MAX_CHARS));
    let text = normalise(opening);
    DECLINING.iter().any(|form| {
        let needle = format!(" {form} ");
        text.match_indices(&needle).any(|(at, _)| {
            let next = text[at + needle.len()..].split(' ').next().unwrap_or("");
            !EMPHASIS.contains(&next)
        })
    })
}

/// The first [`OPENING_SENTENCES`] sentences (ends at `.`, `!`, `?` or `;`).
fn opening(text: &str) -> &str {
    let mut seen = 0;
    for (i, c) in text.char_indices() {
        if matches!(c, '.' | '!' | '?' | ';') {
            seen += 1;
            if seen == OPENING_SENTENCES {
                return &text[..i];
            }
        }
    }
    text
}

/// Lower case, curly apostrophes straightened, contractions expanded, punctuation as spaces, one
/// space between words and one at each end, so forms match whole words only.
fn normalise(text: &str) -> String {
    let lower = text.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
    let mut words = String::with_capacity(lower.len() + 2);
    words.push(' ');
    for w in lower.split(|c: char| !(c.is_alphanumeric() || c == '\'')) {
        let w = w.trim_matches('\'');
        if w.is_empty() {
            continue;
        }
        let expanded = match w {
            "i'm" => "i am",
            "i'd" => "i would",
            "can't" | "cant" => "cannot",
            "won't" => "will not",
            "don't" => "do not",
            _ => w,
        };
        words.push_str(expanded);
        words.push(' ');
    }
    // "can not" is one form of "cannot".
    words.replace(" can not ", " cannot ")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_the_common_forms_of_declining() {
        for r in [
            "I'm sorry, but I can't help with that.",
            "Sorry, I won\u{2019}t be able to do that.",
            "I am not able to give legal advice.",
            "I'd rather not get into that. Anything else?",
            "Unfortunately I cannot answer this.",
            "As an AI, I must respectfully decline.",
            "That is not something I can discuss.",
            "Thanks for asking. I'm not comfortable writing that.",
        ] {
            assert!(declines(r), "{r}");
        }
    }

    #[test]
    fn helpful_answers_are_not_refusals() {
        for r in [
            "Blot the stain, then rinse it with cold water.",
            "Canberra is the capital. I can't stress enough how often people say Sydney.",
            "Preheat the oven to 200 °C. Roast for 25 minutes. I cannot recommend it enough.",
            "Icicles form when melting snow refreezes.",
            "",
        ] {
            assert!(!declines(r), "{r}");
        }
    }

    #[test]
    fn only_whole_words_match() {
        assert!(!declines("Pi cannot be written as a fraction."));
        assert!(!declines("Wi will not connect? Restart the router."));
    }

    proptest! {
        #[test]
        fn any_text_is_read_without_panicking(text in "\\PC{0,2000}") {
            let _ = declines(&text);
        }

        #[test]
        fn an_apology_and_refusal_in_front_of_any_answer_is_a_refusal(rest in "[a-z ]{0,200}") {
            let r = format!("I'm sorry, but I can't help with that. {rest}");
            prop_assert!(declines(&r));
        }
    }
}
