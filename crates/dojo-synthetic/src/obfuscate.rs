//! Obfuscation (spec §5.4): fresh random completion ids, per-miner completion order, and optional
//! JS/HTML minification and body encoding that keep the page working.

use base64::Engine as _;
use dojo_types::{CompletionId, Ranking, TaskId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::seeds::shuffle;
use crate::task::{SyntheticTask, TaskError};

/// 32 lowercase hex characters (128 random bits).
pub fn random_id(rng: &mut impl Rng) -> String {
    let a: u64 = rng.random();
    let b: u64 = rng.random();
    format!("{a:016x}{b:016x}")
}

pub fn random_completion_id(rng: &mut impl Rng) -> CompletionId {
    // 32 hex characters are never empty, too long or a control character.
    CompletionId::new(random_id(rng)).expect("a 32-hex-character id is a valid completion id")
}

pub fn random_task_id(rng: &mut impl Rng) -> TaskId {
    TaskId::new(random_id(rng)).expect("a 32-hex-character id is a valid task id")
}

/// Replaces every completion id (and the matching ground-truth key) with a fresh random id, so ids
/// seen by miners say nothing about how the completion was made.
pub fn reassign_ids(task: SyntheticTask, rng: &mut impl Rng) -> Result<SyntheticTask, TaskError> {
    let (meta, mut completions, truth) = task.into_parts();
    let mut pairs = Vec::with_capacity(completions.len());
    for c in &mut completions {
        let rank = truth.rank(c.id.as_str()).unwrap_or(u32::MAX);
        c.id = random_completion_id(rng);
        pairs.push((c.id.clone(), rank));
    }
    SyntheticTask::new(meta, completions, Ranking::new(pairs)?)
}

/// The order in which `miner` sees the completions of a task: an independent permutation per miner,
/// reproducible from `salt` (keep the salt secret from miners).
pub fn miner_order(len: usize, salt: u64, miner: &str) -> Vec<usize> {
    let mut h = blake2_64(salt, miner.as_bytes());
    h ^= len as u64;
    let mut rng = ChaCha8Rng::seed_from_u64(h);
    let mut order: Vec<usize> = (0..len).collect();
    shuffle(&mut order, &mut rng);
    order
}

fn blake2_64(salt: u64, data: &[u8]) -> u64 {
    use blake2::Digest as _;
    let mut hasher = blake2::Blake2b512::new();
    hasher.update(salt.to_le_bytes());
    hasher.update(data);
    let out = hasher.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&out[..8]);
    u64::from_le_bytes(b)
}

/// Conservative JavaScript minifier: drops whole-line `//` comments, blank lines and indentation.
/// Line breaks are kept so automatic semicolon insertion behaves exactly as before, and lines inside
/// template literals are left untouched.
pub fn minify_js(js: &str) -> String {
    let mut out = String::with_capacity(js.len());
    let mut in_template = false;
    for line in js.lines() {
        let trimmed = line.trim();
        if !in_template {
            if trimmed.is_empty() || trimmed.starts_with("//") {
                continue;
            }
            out.push_str(trimmed);
        } else {
            out.push_str(line);
        }
        out.push('\n');
        if count_unescaped_backticks(line) % 2 == 1 {
            in_template = !in_template;
        }
    }
    out
}

fn count_unescaped_backticks(line: &str) -> usize {
    let mut n = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '`' if !escaped => n += 1,
            _ => escaped = false,
        }
    }
    n
}

/// Finds `<tag ...>` … `</tag>` blocks, case-insensitively, returning byte ranges of (open start,
/// content start, content end, close end).
fn find_blocks(html: &str, tag: &str) -> Vec<(usize, usize, usize, usize)> {
    let lower = html.to_ascii_lowercase();
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(rel) = lower[from..].find(&open) {
        let start = from + rel;
        let Some(gt) = lower[start..].find('>') else {
            break;
        };
        let content = start + gt + 1;
        let Some(end_rel) = lower[content..].find(&close) else {
            break;
        };
        let end = content + end_rel;
        out.push((start, content, end, end + close.len()));
        from = end + close.len();
    }
    out
}

/// Minifies every inline `<script>` of a page with [`minify_js`].
pub fn minify_scripts(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut last = 0;
    for (_, content, end, _) in find_blocks(html, "script") {
        out.push_str(&html[last..content]);
        out.push_str(&minify_js(&html[content..end]));
        last = end;
    }
    out.push_str(&html[last..]);
    out
}

fn random_name(rng: &mut impl Rng) -> String {
    (0..8)
        .map(|i| {
            let alphabet = if i == 0 { 26 } else { 36 };
            let k = rng.random_range(0..alphabet);
            if k < 26 {
                (b'a' + k as u8) as char
            } else {
                (b'0' + (k - 26) as u8) as char
            }
        })
        .collect()
}

/// Encodes the markup of `<body>` (spec §5.4): minified scripts, the rest of the body XORed with a
/// random key and base64-encoded, decoded at load by an inline script with random names; the
/// original scripts run after it, as before. Pages without a `<body>` are only minified.
pub fn obfuscate_html(html: &str, rng: &mut impl Rng) -> String {
    let html = minify_scripts(html);
    let Some(&(_, body_start, body_end, _)) = find_blocks(&html, "body").first() else {
        return html;
    };
    let body = &html[body_start..body_end];
    let scripts = find_blocks(body, "script");
    let mut markup = String::new();
    let mut script_text = String::new();
    let mut last = 0;
    for (s, _, _, e) in &scripts {
        markup.push_str(&body[last..*s]);
        script_text.push_str(&body[*s..*e]);
        script_text.push('\n');
        last = *e;
    }
    markup.push_str(&body[last..]);
    let collapsed = markup.split_whitespace().collect::<Vec<_>>().join(" ");
    let key: u8 = rng.random_range(1..=255);
    let bytes: Vec<u8> = collapsed.bytes().map(|b| b ^ key).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let (f, d, b, i) = (
        random_name(rng),
        random_name(rng),
        random_name(rng),
        random_name(rng),
    );
    let decoder = format!(
        "<script>(function {f}(){{var {d}=atob('{encoded}');var {b}=new Uint8Array({d}.length);for(var {i}=0;{i}<{d}.length;{i}++){b}[{i}]={d}.charCodeAt({i})^{key};document.body.innerHTML=new TextDecoder().decode({b});}})();</script>\n"
    );
    let mut out = String::with_capacity(html.len() + encoded.len());
    out.push_str(&html[..body_start]);
    out.push('\n');
    out.push_str(&decoder);
    out.push_str(&script_text);
    out.push_str(&html[body_end..]);
    out
}

/// Applies [`obfuscate_html`] to every HTML file of every completion; ids and ranks are unchanged.
pub fn obfuscate_pages(
    task: SyntheticTask,
    rng: &mut impl Rng,
) -> Result<SyntheticTask, TaskError> {
    let (meta, mut completions, truth) = task.into_parts();
    for c in &mut completions {
        for f in &mut c.files {
            if f.filename.ends_with(".html") {
                f.content = obfuscate_html(&f.content, rng);
            }
        }
    }
    SyntheticTask::new(meta, completions, truth)
}
