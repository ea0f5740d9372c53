//! Program-applied augmentations of any HTML page (the answer and performance families of §5.3).
//!
//! The offline generator builds its degraded pages from the template itself; this module degrades
//! pages it did not write (LLM answers) by injecting CSS or a script that runs before the page's own
//! handlers. The question family needs a new answer to a changed question, so it lives in the
//! generators.

use rand::Rng;

use crate::task::{Augmentation, Family};

const FONTS: &[&str] = &[
    "'Comic Sans MS', cursive",
    "'Courier New', monospace",
    "Impact, sans-serif",
    "Georgia, serif",
];

/// Inserts `snippet` right before `</head>`, or at the start of the document.
pub fn insert_head(html: &str, snippet: &str) -> String {
    match html.to_ascii_lowercase().find("</head>") {
        Some(i) => format!("{}{}\n{}", &html[..i], snippet, &html[i..]),
        None => format!("{snippet}\n{html}"),
    }
}

/// Inserts `snippet` right after the `<body …>` tag, so it runs before the page's own body scripts.
pub fn insert_body_start(html: &str, snippet: &str) -> String {
    let lower = html.to_ascii_lowercase();
    if let Some(b) = lower.find("<body")
        && let Some(gt) = lower[b..].find('>')
    {
        let at = b + gt + 1;
        return format!("{}\n{}\n{}", &html[..at], snippet, &html[at..]);
    }
    insert_head(html, snippet)
}

fn restyle(html: &str, rng: &mut impl Rng) -> String {
    let hue = rng.random_range(90..270);
    let font = FONTS[rng.random_range(0..FONTS.len())];
    insert_head(
        html,
        &format!(
            "<style>html {{ filter: hue-rotate({hue}deg) saturate(1.6); }} body, body * {{ font-family: {font} !important; }}</style>"
        ),
    )
}

const REMAP_JS: &str = r#"<script>(function () {
  var mine = new WeakSet();
  var map = { ' ': 'Enter', 'Enter': ' ', 'ArrowLeft': 'ArrowRight', 'ArrowRight': 'ArrowLeft', 'ArrowUp': 'ArrowDown', 'ArrowDown': 'ArrowUp' };
  function mapped(k) { if (map[k]) return map[k]; if (k.length === 1 && /[a-y]/i.test(k)) return String.fromCharCode(k.charCodeAt(0) + 1); return k; }
  ['keydown', 'keyup'].forEach(function (type) {
    window.addEventListener(type, function (e) {
      if (mine.has(e)) return;
      e.stopImmediatePropagation(); e.preventDefault();
      var ev = new KeyboardEvent(type, { key: mapped(e.key), bubbles: true, cancelable: true });
      mine.add(ev); (e.target || document).dispatchEvent(ev);
    }, true);
  });
  window.addEventListener('click', function (e) { if (!mine.has(e)) { e.stopImmediatePropagation(); } }, true);
  window.addEventListener('dblclick', function (e) {
    var ev = new MouseEvent('click', { clientX: e.clientX, clientY: e.clientY, bubbles: true, cancelable: true });
    mine.add(ev); (e.target || document).dispatchEvent(ev);
  }, true);
})();</script>"#;

const ERROR_JS: &str = r#"<script>(function () {
  var session;
  function handle(e) { e.stopImmediatePropagation(); session.events.push(e.type); }
  ['click', 'keydown', 'mousedown', 'input', 'change'].forEach(function (t) { window.addEventListener(t, handle, true); });
  setTimeout(function () { session.start = Date.now(); }, 300);
})();</script>"#;

const DELAY_JS: &str = r#"<script>(function () {
  var mine = new WeakSet();
  ['click', 'mousedown', 'mouseup', 'keydown', 'keyup', 'input', 'change'].forEach(function (t) {
    window.addEventListener(t, function (e) {
      if (mine.has(e)) return;
      e.stopImmediatePropagation();
      var target = e.target || document;
      var init = { bubbles: true, cancelable: true, clientX: e.clientX, clientY: e.clientY, key: e.key, code: e.code, button: e.button };
      setTimeout(function () {
        var ev = (e instanceof KeyboardEvent) ? new KeyboardEvent(t, init) : (e instanceof MouseEvent) ? new MouseEvent(t, init) : new Event(t, init);
        mine.add(ev); target.dispatchEvent(ev);
      }, 1000);
    }, true);
  });
})();</script>"#;

const JANK_JS: &str = r#"<script>(function () {
  var raf = window.requestAnimationFrame.bind(window), n = 0;
  function stall() { var t0 = performance.now(); for (var i = 0, x = 0; i < 3e8; i++) { x += i; if ((i & 65535) === 0 && performance.now() - t0 >= 120) break; } }
  window.requestAnimationFrame = function (cb) { return raf(function (t) { if (++n % 7 === 0) stall(); cb(t); }); };
  setInterval(stall, 7 * 16);
})();</script>"#;

const GLITCH_JS: &str = r#"<script>(function () {
  var bar = document.createElement('div');
  bar.style.cssText = 'position:fixed;left:0;width:100%;pointer-events:none;z-index:2147483647;mix-blend-mode:difference;';
  setInterval(function () {
    if (!document.body) return;
    if (!bar.parentNode) document.body.appendChild(bar);
    var on = Math.random() < 0.3;
    bar.style.display = on ? 'block' : 'none';
    bar.style.top = Math.floor(Math.random() * 100) + 'vh';
    bar.style.height = (2 + Math.random() * 30) + 'px';
    bar.style.background = ['#f0f', '#0ff', '#ff0', '#fff'][Math.floor(Math.random() * 4)];
    document.body.style.transform = on ? 'translate(' + (Math.random() * 12 - 6) + 'px,' + (Math.random() * 6 - 3) + 'px)' : '';
  }, 120);
})();</script>"#;

/// Applies an answer- or performance-family augmentation to `html`. Question-family members and
/// `Original` return `None`: they need a new answer, not an edit.
pub fn apply(html: &str, aug: Augmentation, rng: &mut impl Rng) -> Option<String> {
    let out = match aug {
        Augmentation::Restyle => restyle(html, rng),
        Augmentation::ChangeInteraction => {
            let h = insert_body_start(html, REMAP_JS);
            if rng.random_bool(0.5) {
                restyle(&h, rng)
            } else {
                h
            }
        }
        Augmentation::InjectError => {
            let h = insert_body_start(html, ERROR_JS);
            if rng.random_range(0..3) == 0 {
                restyle(&h, rng)
            } else {
                h
            }
        }
        Augmentation::Delay => insert_body_start(html, DELAY_JS),
        Augmentation::Jank => insert_body_start(html, JANK_JS),
        Augmentation::Glitch => insert_body_start(html, GLITCH_JS),
        Augmentation::Original
        | Augmentation::RemoveRequirement
        | Augmentation::ChangeRequirement
        | Augmentation::ChangeSubject => return None,
    };
    Some(out)
}

/// Whether the augmentation is applied by program to an existing answer.
pub fn is_programmatic(aug: Augmentation) -> bool {
    matches!(aug.family(), Some(Family::Answer | Family::Performance))
}
