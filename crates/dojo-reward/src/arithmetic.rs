//! A rule-based checker of the arithmetic a response states explicitly.
//!
//! A frozen sentence encoder sees `15% of 80 is 12` and `15% of 80 is 15` as nearly the same text:
//! nothing in a mean-pooled embedding computes a product. Reward pipelines that must not reward
//! wrong sums verify them instead, so the shipped model gets two side features from here: how many
//! checkable claims in the response are wrong and how many are right.
//!
//! A claim is one of
//! * `expression = number` or `expression ≈ number` (`×`, `x`, `*`, `÷`, `/`, `+`, `-`, `−`, `^`,
//!   brackets, `%` on an operand),
//! * `P% of N is R`,
//! * `R unit (expression)`, a result followed by its working in brackets,
//! * the first number of the response, when the prompt asks for one simple computation
//!   (`What is 7 times 8?`, `What's 15% of 80?`, `the square root of 144`).
//!
//! Anything else (units, chains of reasoning in words) is not checked: the checker only ever
//! counts what it can evaluate. Work is linear in the text, which is capped at [`MAX_CHARS`].

/// Longest text examined; the rest is ignored.
pub const MAX_CHARS: usize = 8192;

/// What the checker found in one response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Claims {
    /// Checkable claims that hold.
    pub right: u32,
    /// Checkable claims that do not.
    pub wrong: u32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tok {
    /// Value and the number of decimals written.
    Num(f64, u32),
    Op(char),
    Open,
    Close,
    /// `true` for approximate (`≈`, `~`).
    Eq(bool),
    Percent,
    Word,
    /// `of`, `is`, `equals`, `about`.
    Of,
    Is,
}

fn tokenize(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().take(MAX_CHARS).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let mut s = String::new();
            let mut decimals = 0u32;
            let mut seen_dot = false;
            while i < chars.len() {
                let d = chars[i];
                if d.is_ascii_digit() {
                    s.push(d);
                    if seen_dot {
                        decimals += 1;
                    }
                } else if d == '.'
                    && !seen_dot
                    && chars.get(i + 1).is_some_and(char::is_ascii_digit)
                {
                    s.push('.');
                    seen_dot = true;
                } else if d == ','
                    && !seen_dot
                    && chars.get(i + 1..i + 4).is_some_and(|g| {
                        g.iter().all(char::is_ascii_digit)
                            && !chars.get(i + 4).is_some_and(char::is_ascii_digit)
                    })
                {
                    // A thousands separator: exactly three digits follow.
                } else {
                    break;
                }
                i += 1;
            }
            if let Ok(v) = s.parse::<f64>() {
                out.push(Tok::Num(v, decimals));
            }
            continue;
        }
        if c.is_alphabetic() {
            let start = i;
            while i < chars.len() && (chars[i].is_alphabetic() || chars[i] == '\'') {
                i += 1;
            }
            let w: String = chars[start..i].iter().collect::<String>().to_lowercase();
            out.push(match w.as_str() {
                // `12 x 7` is a product; a lone `x` elsewhere is just a word, and `Op` next to
                // words never forms an expression.
                "x" => Tok::Op('*'),
                "of" => Tok::Of,
                "is" | "equals" | "makes" | "gives" => Tok::Is,
                _ => Tok::Word,
            });
            continue;
        }
        i += 1;
        match c {
            '+' => out.push(Tok::Op('+')),
            '-' | '−' | '–' => out.push(Tok::Op('-')),
            '*' | '×' | '·' | '⋅' => out.push(Tok::Op('*')),
            '/' | '÷' => out.push(Tok::Op('/')),
            '^' => out.push(Tok::Op('^')),
            '(' => out.push(Tok::Open),
            ')' => out.push(Tok::Close),
            '=' => out.push(Tok::Eq(false)),
            '≈' | '~' => out.push(Tok::Eq(true)),
            '%' => out.push(Tok::Percent),
            // Currency signs and spacing are transparent; other punctuation ends an expression.
            '$' | '£' | '€' | '¥' | ' ' | '\u{a0}' | '\u{202f}' => {}
            _ => out.push(Tok::Word),
        }
    }
    out
}

/// Evaluates `toks` as one arithmetic expression (precedence, brackets, unary minus, `%` suffix);
/// `None` unless all of it parses and it contains at least one binary operator.
fn eval_expr(toks: &[Tok]) -> Option<f64> {
    struct P<'a> {
        t: &'a [Tok],
        i: usize,
        ops: u32,
    }
    impl P<'_> {
        fn expr(&mut self, depth: u32) -> Option<f64> {
            if depth > 32 {
                return None;
            }
            let mut v = self.term(depth)?;
            while let Some(Tok::Op(o @ ('+' | '-'))) = self.t.get(self.i).copied() {
                self.i += 1;
                self.ops += 1;
                let r = self.term(depth)?;
                v = if o == '+' { v + r } else { v - r };
            }
            Some(v)
        }
        fn term(&mut self, depth: u32) -> Option<f64> {
            let mut v = self.power(depth)?;
            while let Some(Tok::Op(o @ ('*' | '/'))) = self.t.get(self.i).copied() {
                self.i += 1;
                self.ops += 1;
                let r = self.power(depth)?;
                v = if o == '*' { v * r } else { v / r };
            }
            Some(v)
        }
        fn power(&mut self, depth: u32) -> Option<f64> {
            let b = self.atom(depth)?;
            if let Some(Tok::Op('^')) = self.t.get(self.i) {
                self.i += 1;
                self.ops += 1;
                let e = self.power(depth + 1)?;
                return Some(b.powf(e));
            }
            Some(b)
        }
        fn atom(&mut self, depth: u32) -> Option<f64> {
            let v = match *self.t.get(self.i)? {
                Tok::Num(v, _) => {
                    self.i += 1;
                    v
                }
                Tok::Op('-') => {
                    self.i += 1;
                    -self.atom(depth + 1)?
                }
                Tok::Open => {
                    self.i += 1;
                    let v = self.expr(depth + 1)?;
                    if self.t.get(self.i) != Some(&Tok::Close) {
                        return None;
                    }
                    self.i += 1;
                    v
                }
                _ => return None,
            };
            if self.t.get(self.i) == Some(&Tok::Percent) {
                self.i += 1;
                return Some(v / 100.0);
            }
            Some(v)
        }
    }
    let mut p = P {
        t: toks,
        i: 0,
        ops: 0,
    };
    let v = p.expr(0)?;
    (p.i == toks.len() && p.ops > 0 && v.is_finite()).then_some(v)
}

/// Whether `value` is what `claimed` (written with `decimals` decimals) says, exactly up to the
/// rounding its notation implies, or within 2 % when the claim is approximate.
fn agrees(value: f64, claimed: f64, decimals: u32, approx: bool) -> bool {
    let scale = claimed.abs().max(1e-12);
    if approx {
        return (value - claimed).abs() <= 0.02 * scale + 0.5 * 10f64.powi(-(decimals as i32));
    }
    // A whole number stands for a rounded result only when rounding loses little: `333` for
    // 1000/3, never `1` for 7/12.
    if decimals == 0 && value.abs() < 10.0 && (value - value.round()).abs() > 1e-9 {
        return false;
    }
    (value - claimed).abs() <= 0.5 * 10f64.powi(-(decimals as i32)) + 1e-9 * scale
}

/// The value written at `i`: a number or a fraction `a/b`, with its decimals and whether a `%`
/// follows.
fn value_at(t: &[Tok], i: usize) -> Option<(f64, u32, bool)> {
    let Tok::Num(a, d) = *t.get(i)? else {
        return None;
    };
    if let (Some(Tok::Op('/')), Some(Tok::Num(b, _))) = (t.get(i + 1), t.get(i + 2))
        && *b != 0.0
        && !matches!(t.get(i + 3), Some(Tok::Op(_) | Tok::Num(..)))
    {
        // A fraction is exact: compare to many decimals.
        return Some((a / b, 9, false));
    }
    Some((a, d, t.get(i + 1) == Some(&Tok::Percent)))
}

/// The start of the longest expression that ends just before `end` (exclusive).
fn expr_start(toks: &[Tok], end: usize) -> usize {
    let mut s = end;
    while s > 0
        && matches!(
            toks[s - 1],
            Tok::Num(..) | Tok::Op(_) | Tok::Open | Tok::Close | Tok::Percent
        )
    {
        s -= 1;
    }
    // Drop unmatched opening brackets and leading binary operators, keeping a balanced tail.
    loop {
        let mut depth = 0i32;
        let mut balanced_from = None;
        for (k, t) in toks[s..end].iter().enumerate().rev() {
            match t {
                Tok::Close => depth += 1,
                Tok::Open => depth -= 1,
                _ => {}
            }
            if depth < 0 {
                balanced_from = Some(s + k + 1);
                break;
            }
        }
        match balanced_from {
            Some(b) => s = b,
            None => break,
        }
    }
    while s < end && matches!(toks[s], Tok::Op('+' | '*' | '/' | '^') | Tok::Close) {
        s += 1;
    }
    s
}

/// Checks every claim in `response`; `prompt` supplies the expected result of a simple question.
pub fn check(prompt: &str, response: &str) -> Claims {
    let t = tokenize(&word_operators(response));
    let mut c = Claims::default();
    let mut tally = |ok: bool| {
        if ok {
            c.right += 1;
        } else {
            c.wrong += 1;
        }
    };
    for i in 0..t.len() {
        match t[i] {
            // `expression = R`.
            // `7 times 8 is 56` reads as an equation once the operator words are symbols.
            Tok::Is if i > 0 && matches!(t[i - 1], Tok::Num(..) | Tok::Close) => {
                let s = expr_start(&t, i);
                if let (Some(v), Some((r, d, _))) = (eval_expr(&t[s..i]), value_at(&t, i + 1)) {
                    tally(agrees(v, r, d, false));
                }
            }
            Tok::Eq(approx) => {
                let s = expr_start(&t, i);
                if let (Some(v), Some((r, d, percent))) = (eval_expr(&t[s..i]), value_at(&t, i + 1))
                {
                    // `= 10%` may mean 0.1 or, after `× 100`, 10.
                    tally(
                        agrees(v, r, d, approx) || percent && agrees(v, r / 100.0, d + 2, approx),
                    );
                }
            }
            // `P% of N is R`.
            Tok::Percent => {
                if let (Some(Tok::Num(p, _)), Some(Tok::Of), Some(Tok::Num(n, _))) =
                    (i.checked_sub(1).map(|k| t[k]), t.get(i + 1), t.get(i + 2))
                {
                    let mut k = i + 3;
                    let approx = matches!(t.get(k), Some(Tok::Is))
                        && matches!(t.get(k + 1), Some(Tok::Word));
                    while matches!(t.get(k), Some(Tok::Is | Tok::Word)) && k < i + 6 {
                        k += 1;
                    }
                    if k > i + 3
                        && let Some(Tok::Num(r, d)) = t.get(k)
                    {
                        tally(agrees(p / 100.0 * n, *r, *d, approx));
                    }
                }
            }
            // `R unit (expression)`.
            Tok::Num(r, d) => {
                let mut k = i + 1;
                while matches!(t.get(k), Some(Tok::Word)) && k <= i + 4 {
                    k += 1;
                }
                if k > i + 1 && t.get(k) == Some(&Tok::Open) {
                    let mut depth = 0i32;
                    let mut close = None;
                    for (j, x) in t.iter().enumerate().skip(k) {
                        match x {
                            Tok::Open => depth += 1,
                            Tok::Close => {
                                depth -= 1;
                                if depth == 0 {
                                    close = Some(j);
                                    break;
                                }
                            }
                            _ => {}
                        }
                    }
                    if let Some(j) = close
                        && let Some(v) = eval_expr(&t[k + 1..j])
                    {
                        tally(agrees(v, r, d, false));
                    }
                }
            }
            _ => {}
        }
    }
    // A simple question's answer must appear somewhere in the response (working may come first).
    if let Some(expected) = asked_value(prompt) {
        let mut values = (0..t.len()).filter_map(|k| value_at(&t, k)).peekable();
        if values.peek().is_some() {
            tally(values.any(|(r, d, _)| {
                agrees(expected, r, d, false) || agrees(expected, r, d, true) && d > 0
            }));
        }
    }
    c
}

/// Arithmetic written in words, as symbols (`times` → `*`).
fn word_operators(text: &str) -> String {
    let mut s = String::with_capacity(text.len().min(MAX_CHARS * 4));
    for (i, w) in text.split(' ').enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(match w {
            "times" => "*",
            "plus" => "+",
            "minus" => "-",
            _ => w,
        });
    }
    s.replace("multiplied by", "*").replace("divided by", "/")
}

/// The value a prompt asks for when it is one simple computation, written in words or symbols.
pub fn asked_value(prompt: &str) -> Option<f64> {
    let lower = prompt.to_lowercase();
    let words = word_operators(&lower).replace("to the power of", "^");
    let sqrt = words.contains("square root of");
    let t = tokenize(&words);
    // The computation must be the prompt's only numbers, so word problems are not guessed at.
    let first = t.iter().position(|x| matches!(x, Tok::Num(..)))?;
    let last = t
        .iter()
        .rposition(|x| matches!(x, Tok::Num(..) | Tok::Percent))?;
    let span = &t[first..=last];
    if sqrt {
        return match span {
            [Tok::Num(n, _)] if *n >= 0.0 => Some(n.sqrt()),
            _ => None,
        };
    }
    if let [Tok::Num(p, _), Tok::Percent, Tok::Of, Tok::Num(n, _)] = span {
        return Some(p / 100.0 * n);
    }
    eval_expr(span)
}

/// The side features the shipped head reads: `(wrong, right)`, each capped at 3.
pub fn features(prompt: &str, response: &str) -> [f32; 2] {
    let c = check(prompt, response);
    [c.wrong.min(3) as f32, c.right.min(3) as f32]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn claims(p: &str, r: &str) -> (u32, u32) {
        let c = check(p, r);
        (c.right, c.wrong)
    }

    #[test]
    fn explicit_equations() {
        assert_eq!(claims("", "So 12 × 7 = 84 in total."), (1, 0));
        assert_eq!(claims("", "So 12 × 7 = 74 in total."), (0, 1));
        assert_eq!(
            claims("", "0.15 × 96 = $14.40, then $110.40 ÷ 4 = $27.60"),
            (2, 0)
        );
        assert_eq!(claims("", "(4 + 8 + 15 + 23) / 4 = 12.5"), (1, 0));
        assert_eq!(claims("", "5 × 1.609 ≈ 8.05 km"), (1, 0));
        assert_eq!(claims("", "5 × 1.609 ≈ 3.1 km"), (0, 1));
        assert_eq!(claims("", "1,000 × 0.05 × 3 = 150"), (1, 0));
        assert_eq!(claims("", "2^10 = 1,024"), (1, 0));
        assert_eq!(claims("", "1000 / 3 = 333.33"), (1, 0));
        assert_eq!(claims("", "1000 / 3 = 333.4"), (0, 1));
        assert_eq!(claims("", "1/3 + 1/4 = 7/12"), (1, 0));
        assert_eq!(claims("", "1/3 + 1/4 = 2/7"), (0, 1));
        assert_eq!(claims("", "(55,000 - 50,000) / 50,000 × 100 = 10%"), (1, 0));
        assert_eq!(claims("", "5,000 ÷ 50,000 = 10%"), (1, 0));
    }

    #[test]
    fn percent_and_bracketed_working() {
        assert_eq!(claims("", "15% of 80 is 12."), (1, 0));
        assert_eq!(claims("", "15% of 80 is 15."), (0, 1));
        assert_eq!(claims("", "It is 84 square metres (12 × 7)."), (1, 0));
        assert_eq!(claims("", "It is 38 square metres (12 × 7)."), (0, 1));
    }

    #[test]
    fn simple_questions_check_the_first_number() {
        assert_eq!(asked_value("What is 7 times 8?"), Some(56.0));
        assert_eq!(asked_value("What's 15% of 80?"), Some(12.0));
        assert_eq!(asked_value("What is the square root of 144?"), Some(12.0));
        assert_eq!(asked_value("What is 125 divided by 5?"), Some(25.0));
        assert_eq!(asked_value("What is 2 to the power of 10?"), Some(1024.0));
        assert_eq!(asked_value("Name 3 birds."), None);
        assert_eq!(asked_value("I drive 240 km at 60 km/h; how long?"), None);
        assert_eq!(claims("What is 7 times 8?", "56."), (1, 0));
        assert_eq!(claims("What is 7 times 8?", "54."), (0, 1));
        assert_eq!(claims("What is 7 times 8?", "7 times 8 is 56."), (2, 0));
        assert_eq!(
            claims("What's 1/3 plus 1/4?", "4/12 + 3/12 = 7/12."),
            (2, 0)
        );
        assert_eq!(claims("What's 1/3 plus 1/4?", "1/3 + 1/4 = 2/7."), (0, 2));
    }

    #[test]
    fn prose_has_no_claims() {
        assert_eq!(claims("", "Water boils at 100 °C at sea level."), (0, 0));
        assert_eq!(claims("", "Call me on 555-1234 (after 6)."), (0, 0));
        assert_eq!(claims("", "x = y + 3, where y is 2"), (0, 0));
        assert_eq!(claims("", "= 5"), (0, 0));
    }

    proptest! {
        #[test]
        fn never_panics_and_counts_are_bounded(p in "\\PC{0,80}", r in "[0-9 x×=≈+()%./a-z-]{0,200}") {
            let c = check(&p, &r);
            prop_assert!(c.right + c.wrong <= r.chars().count() as u32 + 1);
        }

        #[test]
        fn products_written_correctly_check_out(a in 1u32..10_000, b in 1u32..1000) {
            let text = format!("{a} × {b} = {}", u64::from(a) * u64::from(b));
            prop_assert_eq!(claims("", &text), (1, 0));
            let off = format!("{a} × {b} = {}", u64::from(a) * u64::from(b) + 1);
            prop_assert_eq!(claims("", &off), (0, 1));
        }
    }
}
