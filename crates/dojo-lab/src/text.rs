//! Text features the seeds computed (lengths, word counts, word lengths) and a hashed
//! bag-of-words embedding that needs no model.

/// Words: maximal runs of alphanumeric characters (apostrophes kept inside words).
pub fn words(s: &str) -> Vec<&str> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\''))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Tokens: words plus each punctuation mark, a tokenizer-free stand-in for model token counts.
pub fn token_count(s: &str) -> usize {
    words(s).len()
        + s.chars()
            .filter(|c| c.is_ascii_punctuation() && *c != '\'')
            .count()
}

/// Length in characters.
pub fn char_len(s: &str) -> f64 {
    s.chars().count() as f64
}

/// Mean word length in characters (0 for no words), as the seeds' `length / num_words` but
/// without counting spaces.
pub fn avg_word_length(s: &str) -> f64 {
    let w = words(s);
    if w.is_empty() {
        return 0.0;
    }
    w.iter().map(|w| w.chars().count() as f64).sum::<f64>() / w.len() as f64
}

/// Median word length (0 for no words).
pub fn median_word_length(s: &str) -> f64 {
    let mut l: Vec<f64> = words(s).iter().map(|w| w.chars().count() as f64).collect();
    crate::stats::median(&mut l).unwrap_or(0.0)
}

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Signed feature hashing of lowercase unigrams and bigrams, L2-normalised.
///
/// Deterministic across platforms and runs, so cached embeddings stay valid.
pub fn hashed_embedding(s: &str, dim: usize) -> Vec<f32> {
    let mut v = vec![0f32; dim.max(1)];
    let lower: Vec<String> = words(s).iter().map(|w| w.to_lowercase()).collect();
    let mut add = |key: &str| {
        let h = fnv1a(key.as_bytes(), 0x5eed);
        let i = (h % v.len() as u64) as usize;
        let sign = if (h >> 63) == 1 { -1.0 } else { 1.0 };
        v[i] += sign;
    };
    for w in &lower {
        add(w);
    }
    for pair in lower.windows(2) {
        add(&format!("{} {}", pair[0], pair[1]));
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// Content words of a prompt (lowercase, at least 4 letters, without common function words).
pub fn content_words(s: &str) -> Vec<String> {
    const STOP: &[&str] = &[
        "what", "which", "when", "where", "with", "that", "this", "there", "their", "from", "have",
        "does", "into", "about", "would", "could", "should", "your", "they", "them", "than",
        "then", "some", "many", "much", "more", "most", "were", "been", "being", "will", "explain",
        "describe", "give",
    ];
    let mut out: Vec<String> = Vec::new();
    for w in words(s) {
        let l = w.to_lowercase();
        if l.chars().count() >= 4 && !STOP.contains(&l.as_str()) && !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

/// Cuts `s` to at most `max` characters.
pub fn truncate_chars(s: &str, max: Option<usize>) -> &str {
    match max {
        Some(m) => match s.char_indices().nth(m) {
            Some((i, _)) => &s[..i],
            None => s,
        },
        None => s,
    }
}
