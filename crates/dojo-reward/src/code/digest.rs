//! The page digest: what a reward model should see of a single-file HTML/JS answer.
//!
//! A page is mostly markup and boilerplate; its quality shows in a few places: the visible text,
//! the colours and fonts it uses, and the script's structure (which events it listens to, its
//! timers, its drawing calls, state it reads but never sets, loops that stall). [`digest`] scans
//! the page once, without executing or fully parsing anything, and returns that summary as a short
//! text ([`PageDigest::text`], at most [`DIGEST_MAX_CHARS`] characters) plus the counts behind it.
//! [`structural_features`] turns a digest and its prompt into a small vector; some entries compare
//! the page with what the prompt asks for (its colours, font, keys, requirements).
//!
//! Every scan is linear in the page and bounded: pages longer than [`MAX_PAGE_BYTES`] are cut, and
//! at most [`MAX_TOKENS`] script tokens are read. Malformed markup (unclosed tags, comments,
//! strings) never fails; it only gives a poorer digest.

use std::collections::{BTreeMap, BTreeSet};

use dojo_types::task::CodeFile;

/// Longest page read, in bytes; the rest is ignored.
pub const MAX_PAGE_BYTES: usize = 512 * 1024;
/// Most script tokens analysed per page.
pub const MAX_TOKENS: usize = 200_000;
/// Longest digest text, in characters: about 300 WordPiece tokens of this mix of words, names and
/// numbers, so with a prompt it fills but does not flood a 256-token pair budget.
pub const DIGEST_MAX_CHARS: usize = 1024;
/// Format tag of the digest (text and features); a head is trained for one.
pub const DIGEST_FORMAT: &str = "dojo-page-digest/1";

/// What [`digest`] found in a page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageDigest {
    /// The summary the encoder reads, most telling lines first.
    pub text: String,
    /// `<title>` and `<h1>`..`<h3>` text.
    pub title: String,
    /// Text a visitor would read: text nodes outside scripts and styles, and prose-like string
    /// literals of the script (labels, HUD text, messages).
    pub visible: Vec<String>,
    /// Colours (`#rgb`, `#rrggbb`, lowercase) in styles and scripts.
    pub colors: BTreeSet<String>,
    /// Font-family values (lowercase, quotes removed).
    pub fonts: BTreeSet<String>,
    /// Script bytes analysed.
    pub script_bytes: usize,
    /// Function definitions (`function` keywords and arrows).
    pub functions: usize,
    /// Named functions, in order of appearance (first 24).
    pub function_names: Vec<String>,
    /// Event listeners by event name (literal or resolved through a string constant).
    pub listeners: BTreeMap<String, usize>,
    /// `setTimeout` calls.
    pub timeouts: usize,
    /// Largest `setTimeout` delay that resolves to a number, in ms.
    pub max_timeout_ms: f64,
    /// `setInterval` and `requestAnimationFrame` calls.
    pub intervals: usize,
    /// Canvas 2D calls by method name.
    pub canvas_calls: BTreeMap<String, usize>,
    /// Assignments to `globalAlpha`.
    pub alpha_writes: usize,
    /// `Math.random` uses.
    pub randoms: usize,
    /// `performance.now` / `Date.now` uses.
    pub clock_reads: usize,
    /// Comparisons against numbers of a million or more (loop bounds that stall a frame).
    pub huge_bounds: usize,
    /// `throw` statements and `console.error` calls.
    pub throws: usize,
    /// `OBJ.prop` dereferenced (`.x`, `[i]`, a call) where `prop` is never assigned or declared
    /// anywhere and `OBJ` is an object literal of the script: reads of state that does not exist.
    pub undefined_reads: Vec<String>,
    /// `'a': 'b'` entries of object literals (key and input remapping tables).
    pub string_maps: usize,
    /// String literals compared with `===`/`==`/`case` that look like keys (one character or a
    /// key name), lowercase.
    pub keys: BTreeSet<String>,
    /// Constants `var NAME = literal` (strings, numbers, booleans), first 16 upper-case ones.
    pub constants: Vec<(String, String)>,
    /// Words of comments, identifiers, string literals and visible text (lowercase).
    pub vocabulary: BTreeSet<String>,
    /// Comment words, in order (first 24 distinct).
    pub comment_words: Vec<String>,
}

/// Merges a code answer's files into one page: HTML files in order, then `.js` files as
/// `<script>` and `.css` files as `<style>` blocks, other files as text.
pub fn assemble(files: &[CodeFile]) -> String {
    let mut html = String::new();
    let mut tail = String::new();
    for f in files {
        let name = f.filename.to_ascii_lowercase();
        let lang = f.language.to_ascii_lowercase();
        if name.ends_with(".js") || name.ends_with(".mjs") || lang == "javascript" || lang == "js" {
            tail.push_str("<script>\n");
            tail.push_str(&f.content);
            tail.push_str("\n</script>\n");
        } else if name.ends_with(".css") || lang == "css" {
            tail.push_str("<style>\n");
            tail.push_str(&f.content);
            tail.push_str("\n</style>\n");
        } else {
            html.push_str(&f.content);
            html.push('\n');
        }
    }
    html.push_str(&tail);
    html
}

/// The digest of one page.
pub fn digest(page: &str) -> PageDigest {
    let page = floor_str(page, MAX_PAGE_BYTES);
    let parts = split_html(page);
    let mut d = PageDigest::default();
    let mut scripts = String::new();
    for s in &parts.scripts {
        if scripts.len() + s.len() > MAX_PAGE_BYTES {
            break;
        }
        scripts.push_str(s);
        scripts.push_str(";\n");
    }
    d.script_bytes = scripts.len();
    d.title = collapse(&parts.title.join(" "), 120);
    for s in &parts.styles {
        css(s, &mut d);
    }
    let toks = lex(&scripts);
    script(&toks, &mut d);
    for t in &parts.text {
        let t = collapse(t, 200);
        if !t.is_empty() && d.visible.len() < 64 {
            d.visible.push(t);
        }
    }
    for ev in &parts.inline_handlers {
        *d.listeners.entry(ev.clone()).or_default() += 1;
    }
    for w in words(&d.title).chain(d.visible.iter().flat_map(|v| words(v))) {
        d.vocabulary.insert(w);
    }
    d.text = render(&d);
    d
}

/// Names of [`structural_features`], in order.
pub const FEATURE_NAMES: [&str; 31] = [
    "script_kib_log",
    "functions_log",
    "listeners_log",
    "listeners_dblclick",
    "listeners_keyboard",
    "listeners_pointer",
    "listeners_input",
    "timeouts_log",
    "max_timeout_s",
    "intervals",
    "canvas_calls_log",
    "draw_image",
    "alpha_writes",
    "randoms_log",
    "clock_reads",
    "huge_bounds",
    "throws",
    "undefined_reads",
    "string_maps_log",
    "keys_log",
    "prompt_colors_used",
    "unrequested_colors",
    "font_in_prompt",
    "title_in_prompt",
    "visible_in_prompt",
    "requirement_coverage_mean",
    "requirement_coverage_min",
    "prompt_keys_handled",
    "unrequested_keys",
    "comment_words_log",
    "visible_log",
];

/// The structural feature vector of `d` answering `prompt` (see [`FEATURE_NAMES`]).
pub fn structural_features(prompt: &str, d: &PageDigest) -> Vec<f32> {
    let ln = |n: usize| (n as f64).ln_1p();
    let ev = |names: &[&str]| -> usize {
        d.listeners
            .iter()
            .filter(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| *v)
            .sum()
    };
    let prompt_words: BTreeSet<String> = words(prompt).collect();
    let prompt_lower = prompt.to_lowercase();
    let prompt_colors = colors_in(&prompt_lower);
    let used = prompt_colors.intersection(&d.colors).count();
    let prompt_colors_used = if prompt_colors.is_empty() {
        1.0
    } else {
        used as f64 / prompt_colors.len() as f64
    };
    let unrequested_colors = if d.colors.is_empty() {
        0.0
    } else {
        d.colors.difference(&prompt_colors).count() as f64 / d.colors.len() as f64
    };
    let squashed_prompt = squash(&prompt_lower);
    let font_in_prompt = if d.fonts.is_empty() {
        0.5
    } else if d.fonts.iter().any(|f| squashed_prompt.contains(&squash(f))) {
        1.0
    } else {
        0.0
    };
    let in_prompt = |ws: &mut dyn Iterator<Item = String>| -> f64 {
        let ws: BTreeSet<String> = ws.filter(|w| w.len() >= 3).collect();
        if ws.is_empty() {
            return 0.5;
        }
        ws.iter().filter(|w| stem_in(w, &prompt_words)).count() as f64 / ws.len() as f64
    };
    let title_in_prompt = in_prompt(&mut words(&d.title));
    let visible_in_prompt = in_prompt(&mut d.visible.iter().flat_map(|v| words(v)));
    let reqs = requirements(prompt);
    let coverage: Vec<f64> = reqs
        .iter()
        .map(|r| {
            let ws: BTreeSet<String> = words(r)
                .filter(|w| w.len() >= 4 && !STOP.contains(&w.as_str()))
                .collect();
            if ws.is_empty() {
                1.0
            } else {
                ws.iter().filter(|w| stem_in(w, &d.vocabulary)).count() as f64 / ws.len() as f64
            }
        })
        .collect();
    let (cov_mean, cov_min) = if coverage.is_empty() {
        (1.0, 1.0)
    } else {
        (
            coverage.iter().sum::<f64>() / coverage.len() as f64,
            coverage.iter().copied().fold(f64::INFINITY, f64::min),
        )
    };
    let pkeys = prompt_keys(prompt);
    let handled = if pkeys.is_empty() {
        1.0
    } else {
        pkeys.iter().filter(|k| d.keys.contains(*k)).count() as f64 / pkeys.len() as f64
    };
    let unrequested_keys = d
        .keys
        .iter()
        .filter(|k| k.as_str() != " " && !pkeys.contains(*k))
        .count();
    let v = [
        ((d.script_bytes as f64) / 1024.0).ln_1p(),
        ln(d.functions),
        ln(d.listeners.values().sum()),
        ev(&["dblclick"]) as f64,
        ev(&["keydown", "keyup", "keypress"]) as f64,
        ev(&[
            "click",
            "mousedown",
            "mouseup",
            "mousemove",
            "pointerdown",
            "pointermove",
            "pointerup",
            "touchstart",
            "touchmove",
            "touchend",
            "wheel",
        ]) as f64,
        ev(&["input", "change"]) as f64,
        ln(d.timeouts),
        (d.max_timeout_ms / 1000.0).min(10.0),
        (d.intervals as f64).min(10.0),
        ln(d.canvas_calls.values().sum()),
        d.canvas_calls
            .get("drawImage")
            .copied()
            .unwrap_or(0)
            .min(10) as f64,
        d.alpha_writes.min(10) as f64,
        ln(d.randoms),
        d.clock_reads.min(10) as f64,
        d.huge_bounds.min(10) as f64,
        d.throws.min(10) as f64,
        d.undefined_reads.len().min(10) as f64,
        ln(d.string_maps),
        ln(d.keys.len()),
        prompt_colors_used,
        unrequested_colors,
        font_in_prompt,
        title_in_prompt,
        visible_in_prompt,
        cov_mean,
        cov_min,
        handled,
        unrequested_keys.min(30) as f64,
        ln(d.comment_words.len()),
        ln(d.visible.len()),
    ];
    v.iter().map(|x| *x as f32).collect()
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn floor_str(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

/// Whitespace collapsed, cut to `max` characters.
fn collapse(s: &str, max: usize) -> String {
    let mut out = String::new();
    for w in s.split_whitespace() {
        if out.chars().count() + w.chars().count() + 1 > max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

#[derive(Default)]
struct HtmlParts<'a> {
    scripts: Vec<&'a str>,
    styles: Vec<&'a str>,
    text: Vec<String>,
    title: Vec<String>,
    inline_handlers: Vec<String>,
}

/// Case-insensitive search for an ASCII needle in `hay` from `from`.
fn find_ci(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p + from)
}

fn split_html(page: &str) -> HtmlParts<'_> {
    let b = page.as_bytes();
    let mut out = HtmlParts::default();
    let mut i = 0;
    let mut text_start = 0;
    let mut heading = false;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        let comment = b[i..].starts_with(b"<!--");
        let after = i + 1 + usize::from(b.get(i + 1) == Some(&b'/'));
        if !comment && !b.get(after).is_some_and(u8::is_ascii_alphabetic) {
            // A lone `<` is text.
            i += 1;
            continue;
        }
        let text = decode_entities(&page[text_start..i]);
        if !text.trim().is_empty() {
            if heading && out.title.len() < 8 && !out.title.contains(&text) {
                out.title.push(text.clone());
            }
            out.text.push(text);
        }
        if comment {
            i = find_ci(b, i + 4, b"-->").map_or(b.len(), |e| e + 3);
            text_start = i;
            continue;
        }
        // Tag name.
        let mut j = i + 1;
        let closing = b.get(j) == Some(&b'/');
        if closing {
            j += 1;
        }
        let name_start = j;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-') {
            j += 1;
        }
        let name = page[name_start..j].to_ascii_lowercase();
        let (tag_end, attrs_end) = tag_end(b, j);
        if !closing {
            attributes(&page[j..attrs_end], &mut out);
        }
        i = tag_end;
        text_start = i;
        match (closing, name.as_str()) {
            (false, "script" | "style" | "title" | "textarea") => {
                let close = format!("</{name}");
                let end = find_ci(b, i, close.as_bytes()).unwrap_or(b.len());
                let body = &page[i..end];
                match name.as_str() {
                    "script" => out.scripts.push(body),
                    "style" => out.styles.push(body),
                    _ => {
                        let t = decode_entities(body);
                        if name == "title" {
                            out.title.push(t);
                        } else {
                            out.text.push(t);
                        }
                    }
                }
                i = find_ci(b, end, b">").map_or(b.len(), |e| e + 1);
                text_start = i;
            }
            (c, "h1" | "h2" | "h3") => heading = !c,
            _ => {}
        }
    }
    let rest = decode_entities(&page[text_start.min(b.len())..]);
    if !rest.trim().is_empty() {
        out.text.push(rest);
    }
    out
}

/// For the tag whose name ends at `j`: the index just past its `>` and the end of its attributes
/// (both the end of the page when it is never closed), skipping quoted values.
fn tag_end(b: &[u8], mut j: usize) -> (usize, usize) {
    let mut quote = None;
    while j < b.len() {
        match (quote, b[j]) {
            (None, b'"' | b'\'') => quote = Some(b[j]),
            (Some(q), c) if c == q => quote = None,
            (None, b'>') => return (j + 1, j),
            _ => {}
        }
        j += 1;
    }
    (b.len(), b.len())
}

/// Inline `on*` handlers (as listeners and script) and `style` attributes.
fn attributes<'a>(attrs: &'a str, out: &mut HtmlParts<'a>) {
    let b = attrs.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let s = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
            i += 1;
        }
        let name = attrs[s..i].to_ascii_lowercase();
        if b.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        let (vs, ve) = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => {
                let e = b[i + 1..]
                    .iter()
                    .position(|c| *c == q)
                    .map_or(b.len(), |p| p + i + 1);
                (i + 1, e)
            }
            _ => {
                let e = b[i..]
                    .iter()
                    .position(|c| c.is_ascii_whitespace())
                    .map_or(b.len(), |p| p + i);
                (i, e)
            }
        };
        let value = &attrs[vs..ve];
        if let Some(ev) = name.strip_prefix("on").filter(|e| !e.is_empty()) {
            out.inline_handlers.push(ev.to_owned());
            out.scripts.push(value);
        } else if name == "style" {
            out.styles.push(value);
        }
        i = ve + 1;
    }
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Colours and font families of a style sheet (or style attribute).
fn css(s: &str, d: &mut PageDigest) {
    let lower = s.to_lowercase();
    d.colors.extend(colors_in(&lower));
    let mut from = 0;
    while let Some(p) = lower[from..].find("font-family") {
        let start = from + p + "font-family".len();
        let rest = &lower[start..];
        let rest = rest.trim_start().strip_prefix(':').unwrap_or(rest);
        let end = rest.find([';', '}', '\n']).unwrap_or(rest.len());
        let v = rest[..end].replace(['"', '\''], "");
        let v = v.trim();
        if !v.is_empty() && d.fonts.len() < 8 {
            d.fonts.insert(collapse(v, 80));
        }
        from = start;
    }
}

/// `#rgb` and `#rrggbb` colours in lowercase text.
fn colors_in(lower: &str) -> BTreeSet<String> {
    let b = lower.as_bytes();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'#' {
            let n = b[i + 1..]
                .iter()
                .take(9)
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            if (n == 3 || n == 6) && out.len() < 64 {
                out.insert(lower[i..i + 1 + n].to_owned());
            }
            i += 1 + n;
        } else {
            i += 1;
        }
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Tok<'a> {
    Ident(&'a str),
    Str(&'a str),
    Num(f64),
    Punct(&'a str),
    Comment(&'a str),
}

const PUNCT3: [&str; 6] = ["===", "!==", "**=", "<<=", ">>=", "..."];
const PUNCT2: [&str; 19] = [
    "=>", "==", "!=", "<=", ">=", "&&", "||", "++", "--", "+=", "-=", "*=", "/=", "%=", "^=", "|=",
    "&=", "??", "?.",
];

/// Tokens of a script, comments included, at most [`MAX_TOKENS`].
fn lex(src: &str) -> Vec<Tok<'_>> {
    let b = src.as_bytes();
    let mut out: Vec<Tok<'_>> = Vec::new();
    let mut i = 0;
    let mut last_sig: Option<Tok<'_>> = None;
    while i < b.len() && out.len() < MAX_TOKENS {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        let tok = if c == b'/' && b.get(i + 1) == Some(&b'/') {
            let e = b[i..]
                .iter()
                .position(|x| *x == b'\n')
                .map_or(b.len(), |p| p + i);
            i = e;
            Tok::Comment(&src[start + 2..e])
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let e = find_ci(b, i + 2, b"*/").unwrap_or(b.len());
            i = (e + 2).min(b.len());
            Tok::Comment(&src[start + 2..e])
        } else if c == b'"' || c == b'\'' || c == b'`' {
            let mut j = i + 1;
            while j < b.len() && b[j] != c {
                if b[j] == b'\\' {
                    j += 1;
                }
                // Ordinary strings end at a line break even when unterminated.
                if c != b'`' && b.get(j) == Some(&b'\n') {
                    break;
                }
                j += 1;
            }
            let e = j.min(b.len());
            i = (e + 1).min(b.len());
            Tok::Str(&src[start + 1..e])
        } else if c == b'/' && regex_allowed(last_sig) {
            // A regular expression literal: skip to its closing slash on the same line.
            let mut j = i + 1;
            let mut class = false;
            while j < b.len() && b[j] != b'\n' {
                match b[j] {
                    b'\\' => j += 1,
                    b'[' => class = true,
                    b']' => class = false,
                    b'/' if !class => break,
                    _ => {}
                }
                j += 1;
            }
            i = (j + 1).min(b.len());
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            Tok::Str("")
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let mut j = i;
            while j < b.len()
                && (b[j].is_ascii_alphanumeric()
                    || b[j] == b'.'
                    || b[j] == b'_'
                    || ((b[j] == b'+' || b[j] == b'-') && matches!(b[j - 1], b'e' | b'E')))
            {
                j += 1;
            }
            i = j;
            let text: String = src[start..j].chars().filter(|c| *c != '_').collect();
            Tok::Num(text.parse::<f64>().unwrap_or(0.0))
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80 {
            let mut j = i;
            while j < b.len()
                && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'$' || b[j] >= 0x80)
            {
                j += 1;
            }
            i = j;
            Tok::Ident(&src[start..j])
        } else {
            let rest = &src[i..];
            let len = PUNCT3
                .iter()
                .find(|p| rest.starts_with(**p))
                .map(|p| p.len())
                .or_else(|| {
                    PUNCT2
                        .iter()
                        .find(|p| rest.starts_with(**p))
                        .map(|p| p.len())
                })
                .unwrap_or(1);
            i += len;
            Tok::Punct(&src[start..start + len])
        };
        if !matches!(tok, Tok::Comment(_)) {
            last_sig = Some(tok);
        }
        out.push(tok);
    }
    out
}

fn regex_allowed(prev: Option<Tok<'_>>) -> bool {
    match prev {
        None => true,
        Some(Tok::Punct(p)) => !matches!(p, ")" | "]" | "}" | "++" | "--"),
        Some(Tok::Ident(w)) => matches!(
            w,
            "return"
                | "typeof"
                | "case"
                | "do"
                | "else"
                | "in"
                | "of"
                | "new"
                | "delete"
                | "void"
                | "throw"
                | "yield"
                | "await"
        ),
        _ => false,
    }
}

const CANVAS_CALLS: [&str; 24] = [
    "fillRect",
    "strokeRect",
    "clearRect",
    "arc",
    "arcTo",
    "ellipse",
    "rect",
    "drawImage",
    "fillText",
    "strokeText",
    "beginPath",
    "closePath",
    "moveTo",
    "lineTo",
    "bezierCurveTo",
    "quadraticCurveTo",
    "fill",
    "stroke",
    "putImageData",
    "getImageData",
    "createLinearGradient",
    "createRadialGradient",
    "translate",
    "rotate",
];

const ASSIGN: [&str; 12] = [
    "=", "+=", "-=", "*=", "/=", "%=", "^=", "|=", "&=", "++", "--", "**=",
];

fn script(all: &[Tok<'_>], d: &mut PageDigest) {
    let mut comment_seen = BTreeSet::new();
    for t in all {
        if let Tok::Comment(c) = t {
            for w in words(c) {
                if d.comment_words.len() < 24 && comment_seen.insert(w.clone()) {
                    d.comment_words.push(w.clone());
                }
                if d.vocabulary.len() < 4096 {
                    d.vocabulary.insert(w);
                }
            }
        }
    }
    let t: Vec<Tok<'_>> = all
        .iter()
        .copied()
        .filter(|t| !matches!(t, Tok::Comment(_)))
        .collect();
    let at = |i: usize| t.get(i).copied();
    let is = |i: usize, p: &str| matches!(at(i), Some(Tok::Punct(q)) if q == p);
    let ident = |i: usize, w: &str| matches!(at(i), Some(Tok::Ident(q)) if q == w);

    // Constants first, so listener and timer arguments can be resolved through them.
    let mut consts: BTreeMap<&str, Tok<'_>> = BTreeMap::new();
    let mut objects: BTreeSet<&str> = BTreeSet::new();
    let mut defined: BTreeSet<&str> = BTreeSet::new();
    for i in 0..t.len() {
        if let (Some(Tok::Ident("var" | "let" | "const")), Some(Tok::Ident(name))) =
            (at(i), at(i + 1))
        {
            defined.insert(name);
            if is(i + 2, "=") {
                match (at(i + 3), at(i + 4)) {
                    (Some(Tok::Punct("{")), _) => {
                        objects.insert(name);
                    }
                    (Some(v @ (Tok::Str(_) | Tok::Num(_))), Some(Tok::Punct(";" | ",")) | None)
                    | (
                        Some(v @ Tok::Ident("true" | "false")),
                        Some(Tok::Punct(";" | ",")) | None,
                    ) => {
                        consts.entry(name).or_insert(v);
                    }
                    _ => {}
                }
            }
        }
        match at(i) {
            Some(Tok::Punct(".")) => {
                if let Some(Tok::Ident(p)) = at(i + 1)
                    && matches!(at(i + 2), Some(Tok::Punct(a)) if ASSIGN.contains(&a))
                {
                    defined.insert(p);
                }
            }
            Some(Tok::Ident(k) | Tok::Str(k))
                if is(i + 1, ":") && (is(i.wrapping_sub(1), "{") || is(i.wrapping_sub(1), ",")) =>
            {
                defined.insert(k);
            }
            Some(Tok::Ident("function")) => {
                // Parameters are names too.
                let mut j = i + 1;
                while j < t.len() && j < i + 40 && !is(j, ")") {
                    if let Some(Tok::Ident(p)) = at(j) {
                        defined.insert(p);
                    }
                    j += 1;
                }
            }
            _ => {}
        }
    }
    let resolve = |tok: Option<Tok<'_>>| -> Option<String> {
        match tok {
            Some(Tok::Str(s)) => Some(s.to_owned()),
            Some(Tok::Ident(n)) => match consts.get(n) {
                Some(Tok::Str(s)) => Some((*s).to_owned()),
                _ => None,
            },
            _ => None,
        }
    };
    let number = |tok: Option<Tok<'_>>| -> Option<f64> {
        match tok {
            Some(Tok::Num(n)) => Some(n),
            Some(Tok::Ident(n)) => match consts.get(n) {
                Some(Tok::Num(v)) => Some(*v),
                _ => None,
            },
            _ => None,
        }
    };
    for (name, v) in &consts {
        if d.constants.len() < 16
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
        {
            let shown = match v {
                Tok::Str(s) => collapse(s, 40),
                Tok::Num(n) => fmt_num(*n),
                Tok::Ident(b) => (*b).to_owned(),
                _ => String::new(),
            };
            d.constants.push(((*name).to_owned(), shown));
        }
    }

    let mut undefined = BTreeSet::new();
    for i in 0..t.len() {
        match at(i) {
            Some(Tok::Ident(w)) => {
                if d.vocabulary.len() < 4096 {
                    for part in split_ident(w) {
                        d.vocabulary.insert(part);
                    }
                }
                match w {
                    "function" => {
                        d.functions += 1;
                        if let Some(Tok::Ident(n)) = at(i + 1)
                            && d.function_names.len() < 24
                        {
                            d.function_names.push(n.to_owned());
                        }
                    }
                    "throw" => d.throws += 1,
                    "setTimeout" | "setInterval" | "requestAnimationFrame" if is(i + 1, "(") => {
                        if w == "setTimeout" {
                            d.timeouts += 1;
                            if let Some(ms) = last_argument(&t, i + 1, &number) {
                                d.max_timeout_ms = d.max_timeout_ms.max(ms);
                            }
                        } else {
                            d.intervals += 1;
                        }
                    }
                    "Math" if is(i + 1, ".") && ident(i + 2, "random") => d.randoms += 1,
                    "performance" | "Date" if is(i + 1, ".") && ident(i + 2, "now") => {
                        d.clock_reads += 1;
                    }
                    "console" if is(i + 1, ".") && ident(i + 2, "error") => d.throws += 1,
                    "case" => {
                        if let Some(Tok::Str(s)) = at(i + 1) {
                            key_literal(s, d);
                        }
                    }
                    _ => {}
                }
                if objects.contains(w)
                    && is(i + 1, ".")
                    && let Some(Tok::Ident(p)) = at(i + 2)
                    && (is(i + 3, ".") || is(i + 3, "[") || is(i + 3, "("))
                    && !defined.contains(p)
                    && undefined.len() < 16
                {
                    undefined.insert(format!("{w}.{p}"));
                }
            }
            Some(Tok::Punct("=>")) => d.functions += 1,
            Some(Tok::Punct(".")) => match at(i + 1) {
                Some(Tok::Ident("addEventListener")) if is(i + 2, "(") => {
                    let ev = resolve(at(i + 3)).unwrap_or_else(|| "?".to_owned());
                    *d.listeners
                        .entry(collapse(&ev.to_lowercase(), 24))
                        .or_default() += 1;
                }
                Some(Tok::Ident(p))
                    if p.len() > 2
                        && p.starts_with("on")
                        && p[2..].bytes().all(|c| c.is_ascii_lowercase())
                        && is(i + 2, "=") =>
                {
                    *d.listeners.entry(p[2..].to_owned()).or_default() += 1;
                }
                Some(Tok::Ident(p)) if is(i + 2, "(") && CANVAS_CALLS.contains(&p) => {
                    *d.canvas_calls.entry(p.to_owned()).or_default() += 1;
                }
                Some(Tok::Ident("globalAlpha")) if is(i + 2, "=") => d.alpha_writes += 1,
                _ => {}
            },
            Some(Tok::Punct("<" | "<=" | ">" | ">="))
                if matches!(at(i + 1), Some(Tok::Num(n)) if n >= 1e6)
                    || matches!(at(i.wrapping_sub(1)), Some(Tok::Num(n)) if n >= 1e6) =>
            {
                d.huge_bounds += 1;
            }
            Some(Tok::Punct("===" | "==" | "!==" | "!=")) => {
                for j in [i.wrapping_sub(1), i + 1] {
                    if let Some(Tok::Str(s)) = at(j) {
                        key_literal(s, d);
                    }
                }
            }
            Some(Tok::Str(s)) => {
                if is(i + 1, ":")
                    && matches!(at(i + 2), Some(Tok::Str(_)))
                    && (is(i.wrapping_sub(1), "{") || is(i.wrapping_sub(1), ","))
                {
                    d.string_maps += 1;
                }
                d.colors.extend(colors_in(&s.to_lowercase()));
                if s.contains(' ') && s.chars().any(char::is_alphabetic) && s.len() < 200 {
                    if s.to_lowercase().contains("serif") || s.to_lowercase().contains("monospace")
                    {
                        if d.fonts.len() < 8 {
                            d.fonts
                                .insert(collapse(&s.to_lowercase().replace(['"', '\''], ""), 80));
                        }
                    } else if d.visible.len() < 64 && prose(s) {
                        d.visible.push(collapse(s, 120));
                    }
                } else if prose(s) && d.visible.len() < 64 && s.len() >= 3 {
                    d.visible.push(collapse(s, 120));
                }
                if d.vocabulary.len() < 4096 {
                    d.vocabulary.extend(words(s));
                }
            }
            _ => {}
        }
    }
    d.undefined_reads = undefined.into_iter().collect();
}

/// Whether a string literal reads like text for people (a label, a message) rather than code.
fn prose(s: &str) -> bool {
    let letters = s.chars().filter(|c| c.is_alphabetic()).count();
    let first_upper = s
        .trim_start()
        .chars()
        .next()
        .is_some_and(char::is_uppercase);
    letters >= 3
        && letters * 2 >= s.chars().count()
        && (first_upper || s.contains(": "))
        && !s.contains(['#', '(', '{', '<', '='])
}

fn key_literal(s: &str, d: &mut PageDigest) {
    let lower = s.to_lowercase();
    let named = matches!(
        lower.as_str(),
        "enter"
            | "escape"
            | "tab"
            | "backspace"
            | "arrowleft"
            | "arrowright"
            | "arrowup"
            | "arrowdown"
    );
    if (s.chars().count() == 1 || named) && d.keys.len() < 64 {
        d.keys.insert(lower);
    }
}

/// The number the last top-level argument of the call whose `(` is at `open` resolves to:
/// a number, a numeric constant, or `a / b` and `a * b` of those.
fn last_argument(
    t: &[Tok<'_>],
    open: usize,
    number: &dyn Fn(Option<Tok<'_>>) -> Option<f64>,
) -> Option<f64> {
    let mut depth = 0usize;
    let mut last_comma = None;
    let mut close = None;
    for (j, tok) in t.iter().enumerate().skip(open).take(4096) {
        match tok {
            Tok::Punct("(" | "[" | "{") => depth += 1,
            Tok::Punct(")" | "]" | "}") => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    close = Some(j);
                    break;
                }
            }
            Tok::Punct(",") if depth == 1 => last_comma = Some(j),
            _ => {}
        }
    }
    let arg = &t[last_comma? + 1..close?];
    match arg {
        [a] => number(Some(*a)),
        [a, Tok::Punct(op @ ("/" | "*")), b] => {
            let (x, y) = (number(Some(*a))?, number(Some(*b))?);
            if *op == "/" {
                (y != 0.0).then(|| x / y)
            } else {
                Some(x * y)
            }
        }
        _ => None,
    }
}

fn fmt_num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n:.3}")
    }
}

/// Lowercase alphabetic words of `s` (ASCII letters only, at most 32 characters each).
fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty() && w.len() <= 32)
        .map(str::to_ascii_lowercase)
}

/// The lowercase parts of an identifier: `addSlider` → `add`, `slider`; `DELAY_MS` → `delay`, `ms`.
fn split_ident(w: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in w.chars() {
        if !c.is_ascii_alphabetic() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out.retain(|p| p.len() <= 32);
    out
}

/// Whether a word of `w`'s stem is in `set`: equal, or sharing a prefix of at least five letters
/// (`pauses`, `paused`, `pause`).
fn stem_in(w: &str, set: &BTreeSet<String>) -> bool {
    if set.contains(w) {
        return true;
    }
    if w.len() < 5 {
        return false;
    }
    let p = &w[..5];
    set.range(p.to_owned()..)
        .take_while(|s| s.starts_with(p))
        .next()
        .is_some()
}

/// Lowercase letters and digits only: font names compare without quotes, commas or spaces.
fn squash(s: &str) -> String {
    s.chars().filter(char::is_ascii_alphanumeric).collect()
}

const STOP: [&str; 24] = [
    "with", "that", "from", "each", "when", "while", "pressing", "press", "shows", "show", "above",
    "below", "canvas", "into", "them", "they", "their", "this", "then", "between", "clicking",
    "anywhere", "times", "every",
];

/// Numbered lines of a prompt (`1. ...`, `2) ...`): its requirements.
fn requirements(prompt: &str) -> Vec<&str> {
    prompt
        .lines()
        .map(str::trim_start)
        .filter_map(|l| {
            let digits = l.bytes().take_while(u8::is_ascii_digit).count();
            let rest = &l[digits..];
            (digits > 0 && digits < 3 && (rest.starts_with(". ") || rest.starts_with(") ")))
                .then(|| &rest[2..])
        })
        .take(32)
        .collect()
}

/// Keys a prompt asks the page to respond to: `Pressing T`, `press Enter`, `the space bar`, arrow keys.
fn prompt_keys(prompt: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let ws: Vec<&str> = prompt
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | ';' | '(' | ')' | '"'))
        .filter(|w| !w.is_empty())
        .take(4096)
        .collect();
    for (i, w) in ws.iter().enumerate() {
        let lw = w.to_lowercase();
        if matches!(
            lw.as_str(),
            "press" | "pressing" | "presses" | "hit" | "tap" | "tapping"
        ) {
            for next in ws.iter().skip(i + 1).take(3) {
                let n = next.trim_matches('\'').to_lowercase();
                if n == "the" || n == "a" {
                    continue;
                }
                if n.chars().count() == 1 {
                    out.insert(n);
                } else if n == "enter" || n == "return" {
                    out.insert("enter".to_owned());
                } else if n == "escape" || n == "esc" {
                    out.insert("escape".to_owned());
                }
                break;
            }
        }
        if lw == "space"
            && ws
                .get(i + 1)
                .is_some_and(|n| n.to_lowercase().starts_with("bar"))
        {
            out.insert(" ".to_owned());
        }
        if lw.starts_with("arrow") {
            for k in ["arrowleft", "arrowright", "arrowup", "arrowdown"] {
                out.insert(k.to_owned());
            }
        }
    }
    out
}

/// The digest text: one line per aspect, most telling first, cut to [`DIGEST_MAX_CHARS`].
fn render(d: &PageDigest) -> String {
    let mut lines: Vec<String> = Vec::new();
    if !d.title.is_empty() {
        lines.push(format!("title: {}", d.title));
    }
    let mut issues = Vec::new();
    if !d.undefined_reads.is_empty() {
        issues.push(format!("reads unset {}", d.undefined_reads.join(" ")));
    }
    if d.huge_bounds > 0 {
        issues.push(format!("{} loop bound over a million", d.huge_bounds));
    }
    if d.throws > 0 {
        issues.push(format!("{} throw", d.throws));
    }
    if d.max_timeout_ms >= 100.0 {
        issues.push(format!("input delayed {} ms", fmt_num(d.max_timeout_ms)));
    }
    if d.canvas_calls.contains_key("drawImage") || d.alpha_writes > 0 {
        issues.push("copies or overlays the canvas".to_owned());
    }
    if d.string_maps >= 8 {
        issues.push(format!("remaps {} keys", d.string_maps));
    }
    if !issues.is_empty() {
        lines.push(format!("issues: {}", issues.join("; ")));
    }
    if !d.listeners.is_empty() {
        lines.push(format!("listens: {}", counts(&d.listeners)));
    }
    if !d.keys.is_empty() {
        let ks: Vec<String> = d
            .keys
            .iter()
            .map(|k| {
                if k == " " {
                    "space".to_owned()
                } else {
                    k.clone()
                }
            })
            .collect();
        lines.push(format!("keys: {}", ks.join(" ")));
    }
    if !d.visible.is_empty() {
        lines.push(format!("text: {}", d.visible.join(" | ")));
    }
    if !d.colors.is_empty() || !d.fonts.is_empty() {
        let cs: Vec<&str> = d.colors.iter().map(String::as_str).collect();
        let fs: Vec<&str> = d.fonts.iter().map(String::as_str).collect();
        lines.push(format!("style: {} fonts {}", cs.join(" "), fs.join(" / ")));
    }
    if !d.comment_words.is_empty() {
        lines.push(format!("comments: {}", d.comment_words.join(" ")));
    }
    lines.push(format!(
        "script: {} bytes, {} functions, {} timeouts, {} intervals, {} random",
        d.script_bytes, d.functions, d.timeouts, d.intervals, d.randoms
    ));
    if !d.canvas_calls.is_empty() {
        lines.push(format!("draws: {}", counts(&d.canvas_calls)));
    }
    if !d.constants.is_empty() {
        let cs: Vec<String> = d
            .constants
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        lines.push(format!("constants: {}", cs.join(" ")));
    }
    if !d.function_names.is_empty() {
        lines.push(format!("functions: {}", d.function_names.join(" ")));
    }
    let mut out = String::new();
    for l in lines {
        let room = DIGEST_MAX_CHARS.saturating_sub(out.chars().count());
        if room <= 1 {
            break;
        }
        let l: String = l.chars().take(room - 1).collect();
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn counts(m: &BTreeMap<String, usize>) -> String {
    m.iter()
        .map(|(k, v)| {
            if *v == 1 {
                k.clone()
            } else {
                format!("{k} x{v}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const PAGE: &str = r#"<!DOCTYPE html><html><head><title>Drifting Fireflies</title>
<style>body { background: #0b1026; font-family: Georgia, serif; }</style></head>
<body><h1>Drifting Fireflies</h1><p>Hello &amp; welcome</p><canvas id="stage"></canvas>
<button onclick="go()">Go</button>
<script>
var DELAY_MS = 1000; var EV = 'dblclick';
var S = { paused: false, items: [] };
// burst of fireflies
function later(f) { setTimeout(f, DELAY_MS); }
canvas.addEventListener(EV, function (e) { S.items.push(1); });
document.addEventListener('keydown', function (e) { if (e.key === 't') S.trails = !S.trails; });
hooks.update.push(function () { S.total = S.stats.count + 1; for (var i = 0; i < 3e8; i++) {} });
ctx.drawImage(canvas, 0, 0); ctx.globalAlpha = 0.5; ctx.fillRect(0, 0, 1, 1);
var label = 'Fireflies: ';
setInterval(frame, 1000 / 60);
</script></body></html>"#;

    #[test]
    fn finds_the_structure_of_a_page() {
        let d = digest(PAGE);
        assert_eq!(d.title, "Drifting Fireflies");
        assert!(
            d.visible.iter().any(|v| v == "Hello & welcome"),
            "{:?}",
            d.visible
        );
        assert!(
            d.visible.iter().any(|v| v == "Fireflies:"),
            "{:?}",
            d.visible
        );
        assert_eq!(d.listeners.get("dblclick"), Some(&1));
        assert_eq!(d.listeners.get("keydown"), Some(&1));
        assert_eq!(d.listeners.get("click"), Some(&1), "the inline onclick");
        assert_eq!((d.timeouts, d.max_timeout_ms, d.intervals), (1, 1000.0, 1));
        assert_eq!(d.canvas_calls.get("drawImage"), Some(&1));
        assert_eq!(d.alpha_writes, 1);
        assert_eq!(d.huge_bounds, 1);
        assert_eq!(d.undefined_reads, vec!["S.stats".to_owned()]);
        assert!(d.keys.contains("t"));
        assert!(d.colors.contains("#0b1026"));
        assert!(d.fonts.contains("georgia, serif"), "{:?}", d.fonts);
        assert!(d.comment_words.contains(&"burst".to_owned()));
        assert!(
            d.text.starts_with("title: Drifting Fireflies"),
            "{}",
            d.text
        );
        assert!(d.text.contains("reads unset S.stats"), "{}", d.text);
    }

    #[test]
    fn features_compare_the_page_with_its_prompt() {
        let d = digest(PAGE);
        let asked = "Fireflies drift.\nUse colours #0b1026 and the font Georgia, serif.\n1. Pressing T toggles trails.\n2. Clicking releases a burst of fireflies.";
        let other = "Snowflakes fall.\nUse colours #ffffff and the font Verdana, sans-serif.\n1. Pressing Q quits.";
        let f = structural_features(asked, &d);
        let g = structural_features(other, &d);
        assert_eq!(f.len(), FEATURE_NAMES.len());
        let idx = |n: &str| FEATURE_NAMES.iter().position(|x| *x == n).unwrap();
        assert_eq!(f[idx("prompt_colors_used")], 1.0);
        assert_eq!(g[idx("prompt_colors_used")], 0.0);
        assert_eq!(f[idx("font_in_prompt")], 1.0);
        assert_eq!(g[idx("font_in_prompt")], 0.0);
        assert_eq!(f[idx("prompt_keys_handled")], 1.0);
        assert_eq!(g[idx("prompt_keys_handled")], 0.0);
        assert!(f[idx("title_in_prompt")] > g[idx("title_in_prompt")]);
        assert!(f[idx("requirement_coverage_min")] > 0.0);
    }

    #[test]
    fn files_are_assembled_into_one_page() {
        let files = [
            CodeFile {
                filename: "index.html".into(),
                content: "<p>Hi</p>".into(),
                language: "html".into(),
            },
            CodeFile {
                filename: "app.js".into(),
                content: "window.addEventListener('resize', f);".into(),
                language: String::new(),
            },
        ];
        let d = digest(&assemble(&files));
        assert_eq!(d.listeners.get("resize"), Some(&1));
        assert_eq!(d.visible, vec!["Hi".to_owned()]);
    }

    #[test]
    fn malformed_markup_is_survived() {
        for page in [
            "<script>var s = 'unterminated",
            "<<<>>><!-- never closed",
            "<style>font-family",
            "</script><script",
            "<a href='x>y",
            "/* open comment <script>/regex[/ var x = `tpl",
            "<script>a = b / c / d; x = /re/g; if (s === 'é') {}</script>",
        ] {
            let d = digest(page);
            assert!(d.text.chars().count() <= DIGEST_MAX_CHARS);
        }
    }

    #[test]
    fn a_huge_page_gives_a_bounded_digest() {
        let mut page = String::from("<title>Big</title><script>");
        for i in 0..20_000 {
            page.push_str(&format!(
                "el{i}.addEventListener('ev{i}', f); var s{i} = 'Label number {i}: '; // note{i}\n"
            ));
        }
        page.push_str("</script>");
        let d = digest(&page);
        assert!(
            d.text.chars().count() <= DIGEST_MAX_CHARS,
            "{}",
            d.text.len()
        );
        assert!(d.visible.len() <= 64 && d.comment_words.len() <= 24);
        assert!(d.vocabulary.len() <= 4096 + 64);
        assert!(d.script_bytes <= MAX_PAGE_BYTES);
        // Many headings, tags and colours: each is bounded too (and none is rescanned per item).
        let page = "<h1>t</h1><b style='color:#abc'>x</b>".repeat(20_000);
        let d = digest(&page);
        assert_eq!(d.title, "t");
        assert!(d.text.chars().count() <= DIGEST_MAX_CHARS);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any input: no panic, a bounded digest, finite features.
        #[test]
        fn never_panics_and_stays_bounded(
            page in "(\\PC|<script>|</script>|<style>|<!--|-->|'|\"|`|/|\\*|#[0-9a-f]{3}|addEventListener\\(|setTimeout\\(|===|\\{|\\}|\\n){0,200}",
            prompt in "\\PC{0,200}",
        ) {
            let d = digest(&page);
            prop_assert!(d.text.chars().count() <= DIGEST_MAX_CHARS);
            prop_assert!(d.visible.len() <= 64);
            let f = structural_features(&prompt, &d);
            prop_assert_eq!(f.len(), FEATURE_NAMES.len());
            prop_assert!(f.iter().all(|x| x.is_finite()));
        }

        /// The same page always gives the same digest.
        #[test]
        fn is_deterministic(page in "\\PC{0,400}") {
            prop_assert_eq!(digest(&page), digest(&page));
        }
    }
}
