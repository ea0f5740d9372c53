//! The offline generator: real single-file HTML/JS tasks from parameterised templates.
//!
//! A task is a function of its seed: the same seed gives the same question, pages and ground truth.
//! Every augmentation is applied by program when the page is assembled (a feature left out, another
//! feature swapped in, a different subject, a different palette, remapped inputs, an injected
//! runtime error, an input delay, a stalling loop, drawn glitches), so its rank is exact.

mod templates;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::obfuscate::{random_completion_id, random_task_id};
use crate::seeds::{Seeds, shuffle};
use crate::task::{
    Augmentation, CodeFile, Completion, Family, SyntheticTask, TaskError, TaskMeta, Topic,
};
use templates::{FONTS, Feature, PALETTES, Palette, Subject, TEMPLATES, Template};

/// How a page deviates from the question it answers.
#[derive(Clone, Debug, Default)]
struct Deviation {
    drop: Vec<usize>,
    extra: Option<usize>,
    subject: Option<usize>,
    palette: Option<usize>,
    font: Option<usize>,
    remap_inputs: bool,
    error: bool,
    delay_ms: u32,
    jank: bool,
    glitch: bool,
}

/// Everything the question fixes.
#[derive(Clone, Debug)]
struct Plan {
    template: usize,
    subject: usize,
    palette: usize,
    font: usize,
    features: Vec<usize>,
    params: Vec<(&'static str, String)>,
    persona: String,
    topic: Topic,
}

/// The embedded offline generator.
#[derive(Clone, Debug)]
pub struct OfflineGenerator {
    seeds: Seeds,
}

impl Default for OfflineGenerator {
    fn default() -> Self {
        Self::new(Seeds::embedded())
    }
}

impl OfflineGenerator {
    pub fn new(seeds: Seeds) -> Self {
        Self { seeds }
    }

    pub fn seeds(&self) -> &Seeds {
        &self.seeds
    }

    /// Number of page templates (for reports).
    pub fn template_count() -> usize {
        TEMPLATES.len()
    }

    /// The task for `seed`: an original answer (rank 0) and one augmented answer for each rank 1..=3,
    /// each drawn from a uniformly chosen family (§5.3 "UNIFIED").
    pub fn task(&self, seed: u64) -> Result<SyntheticTask, TaskError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let plan = self.plan(&mut rng);
        let mut completions = Vec::with_capacity(4);
        completions.push(self.completion(
            &plan,
            &Deviation::default(),
            Augmentation::Original,
            &mut rng,
        ));
        for rank in 1..=3u32 {
            let family = Family::ALL[rng.random_range(0..Family::ALL.len())];
            let aug = family.member(rank).unwrap_or(Augmentation::Original);
            let dev = deviation(&plan, aug, &mut rng);
            completions.push(self.completion(&plan, &dev, aug, &mut rng));
        }
        shuffle(&mut completions, &mut rng);
        let t = &TEMPLATES[plan.template];
        let meta = TaskMeta {
            id: random_task_id(&mut rng),
            prompt: question(&plan),
            topic: plan.topic,
            persona: plan.persona.clone(),
            requirements: plan
                .features
                .iter()
                .map(|i| fill(t.features[*i].requirement, &vars(&plan, None)))
                .collect(),
            generator: format!("offline/{}", t.key),
            seed: Some(seed),
        };
        SyntheticTask::from_completions(meta, completions)
    }

    fn plan(&self, rng: &mut ChaCha8Rng) -> Plan {
        let seed = self.seeds.sample(rng);
        let candidates: Vec<usize> = (0..TEMPLATES.len())
            .filter(|i| TEMPLATES[*i].topic == seed.topic)
            .collect();
        let template = if candidates.is_empty() {
            rng.random_range(0..TEMPLATES.len())
        } else {
            candidates[rng.random_range(0..candidates.len())]
        };
        let t = &TEMPLATES[template];
        let mut all: Vec<usize> = (0..t.features.len()).collect();
        shuffle(&mut all, rng);
        // Leave at least two features unused so a requirement can be swapped for an unrequested one.
        let n = seed
            .requirements
            .clamp(1, t.features.len().saturating_sub(2).max(1));
        let mut features: Vec<usize> = all.into_iter().take(n).collect();
        features.sort_unstable();
        Plan {
            template,
            subject: rng.random_range(0..t.subjects.len()),
            palette: rng.random_range(0..PALETTES.len()),
            font: rng.random_range(0..FONTS.len()),
            features,
            params: (t.params)(rng),
            persona: seed.persona,
            topic: t.topic,
        }
    }

    fn completion(
        &self,
        plan: &Plan,
        dev: &Deviation,
        aug: Augmentation,
        rng: &mut ChaCha8Rng,
    ) -> Completion {
        let html = page(plan, dev, rng);
        let t = &TEMPLATES[plan.template];
        Completion {
            id: random_completion_id(rng),
            model: format!("offline/{}", t.key),
            files: vec![CodeFile::html(html)],
            augmentation: aug,
            augmented_prompt: None,
        }
    }
}

fn deviation(plan: &Plan, aug: Augmentation, rng: &mut ChaCha8Rng) -> Deviation {
    let t = &TEMPLATES[plan.template];
    let mut d = Deviation::default();
    let other = |n: usize, cur: usize, rng: &mut ChaCha8Rng| {
        (cur + rng.random_range(1..n.max(2))) % n.max(1)
    };
    match aug {
        Augmentation::Original => {}
        Augmentation::RemoveRequirement => d
            .drop
            .push(plan.features[rng.random_range(0..plan.features.len())]),
        Augmentation::ChangeRequirement => {
            d.drop
                .push(plan.features[rng.random_range(0..plan.features.len())]);
            let unused: Vec<usize> = (0..t.features.len())
                .filter(|i| !plan.features.contains(i))
                .collect();
            d.extra = unused
                .get(rng.random_range(0..unused.len().max(1)))
                .copied();
        }
        Augmentation::ChangeSubject => d.subject = Some(other(t.subjects.len(), plan.subject, rng)),
        Augmentation::Restyle => {
            d.palette = Some(other(PALETTES.len(), plan.palette, rng));
            d.font = Some(other(FONTS.len(), plan.font, rng));
        }
        Augmentation::ChangeInteraction => {
            d.remap_inputs = true;
            if rng.random_bool(0.5) {
                d.palette = Some(other(PALETTES.len(), plan.palette, rng));
            }
        }
        Augmentation::InjectError => {
            d.error = true;
            // Spec §5.3: the error is alone two times in three, otherwise with a restyle.
            if rng.random_range(0..3) == 0 {
                d.palette = Some(other(PALETTES.len(), plan.palette, rng));
            }
        }
        Augmentation::Delay => d.delay_ms = 1000,
        Augmentation::Jank => d.jank = true,
        Augmentation::Glitch => d.glitch = true,
    }
    d
}

fn vars(plan: &Plan, subject: Option<usize>) -> Vec<(&'static str, String)> {
    let t = &TEMPLATES[plan.template];
    let sub: &Subject = &t.subjects[subject.unwrap_or(plan.subject)];
    let mut v = plan.params.clone();
    v.push(("plural", sub.plural.to_owned()));
    v.push(("Plural", capitalise(sub.plural)));
    v.push(("singular", sub.singular.to_owned()));
    v.push(("shape", sub.shape.to_owned()));
    v
}

fn capitalise(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Replaces `%key%` placeholders.
pub(crate) fn fill(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = template.to_owned();
    for (k, v) in vars {
        out = out.replace(&format!("%{k}%"), v);
    }
    out
}

fn question(plan: &Plan) -> String {
    let t: &Template = &TEMPLATES[plan.template];
    let v = vars(plan, None);
    let pal: &Palette = &PALETTES[plan.palette];
    let mut q = format!(
        "Create a {} {} using HTML, CSS and JavaScript in a single self-contained index.html file. \
         It is for {}.\n\nFeatures:\n",
        plan.topic.kind_phrase(),
        fill(t.describe, &v),
        plan.persona
    );
    for line in t.core_lines {
        q.push_str("- ");
        q.push_str(&fill(line, &v));
        q.push('\n');
    }
    q.push_str(&format!(
        "- Use the \"{}\" colour scheme: page background {}, canvas {}, text {}, accent {}, and {} for the {}; all text uses the font {}.\n",
        pal.name,
        pal.bg,
        pal.canvas,
        pal.fg,
        pal.accent,
        pal.colors.join(", "),
        v.iter().find(|(k, _)| *k == "plural").map(|(_, s)| s.as_str()).unwrap_or("items"),
        FONTS[plan.font]
    ));
    q.push_str("\nRequirements:\n");
    for (i, fi) in plan.features.iter().enumerate() {
        q.push_str(&format!(
            "{}. {}\n",
            i + 1,
            fill(t.features[*fi].requirement, &v)
        ));
    }
    q.push_str(
        "\nThe page must run in a sandboxed iframe in a desktop browser: no external files, network requests, \
         storage, camera or microphone, and no alert dialogs.",
    );
    q
}

const RUNTIME_HEAD: &str = r#"(function () {
'use strict';
var canvas = document.getElementById('stage');
var ctx = canvas.getContext('2d');
var W = canvas.width, H = canvas.height;
var hud = document.getElementById('hud');
var controls = document.getElementById('controls');
var hooks = { update: [], draw: [], click: [], key: [], move: [], hud: [] };
var S = { paused: false, speed: 1, frame: 0, trails: false };
function rand(a, b) { return a + Math.random() * (b - a); }
function pick(a) { return a[Math.floor(Math.random() * a.length)]; }
function shape(x, y, r, color) {
  r = Math.max(0.5, r);
  ctx.fillStyle = color; ctx.strokeStyle = color; ctx.beginPath();
  if (SHAPE === 'square') ctx.rect(x - r, y - r, 2 * r, 2 * r);
  else if (SHAPE === 'triangle') { ctx.moveTo(x, y - r); ctx.lineTo(x + r, y + r); ctx.lineTo(x - r, y + r); ctx.closePath(); }
  else if (SHAPE === 'diamond') { ctx.moveTo(x, y - r); ctx.lineTo(x + r, y); ctx.lineTo(x, y + r); ctx.lineTo(x - r, y); ctx.closePath(); }
  else if (SHAPE === 'ring') { ctx.lineWidth = Math.max(1, r / 3); ctx.arc(x, y, r, 0, Math.PI * 2); ctx.stroke(); return; }
  else ctx.arc(x, y, r, 0, Math.PI * 2);
  ctx.fill();
}
function addSlider(label, min, max, step, value, onInput) {
  var wrap = document.createElement('label');
  wrap.textContent = label + ' ';
  var input = document.createElement('input');
  input.type = 'range'; input.min = min; input.max = max; input.step = step; input.value = value;
  input.addEventListener('input', function () { var v = parseFloat(input.value); later(function () { onInput(INVERT_SLIDERS ? min + max - v : v); }); });
  wrap.appendChild(input);
  controls.appendChild(wrap);
  return input;
}
function later(f) { if (DELAY_MS > 0) setTimeout(f, DELAY_MS); else f(); }
function dispatch(list, args) { for (var i = 0; i < list.length; i++) list[i].apply(null, args); }
"#;

const RUNTIME_TAIL: &str = r#"
function point(e) { var r = canvas.getBoundingClientRect(); return [(e.clientX - r.left) * W / (r.width || W), (e.clientY - r.top) * H / (r.height || H)]; }
canvas.addEventListener(CLICK_EVENT, function (e) { var p = point(e); later(function () { dispatch(hooks.click, p); }); });
canvas.addEventListener('mousemove', function (e) { var p = point(e); later(function () { dispatch(hooks.move, p); }); });
document.addEventListener('keydown', function (e) {
  var k = KEYMAP[e.key] || e.key;
  if (e.key === ' ' || e.key.indexOf('Arrow') === 0) e.preventDefault();
  later(function () { dispatch(hooks.key, [k]); });
});
function frame() {
  S.frame++;
  var dt = S.speed / 60;
  if (!S.paused) { update(dt); dispatch(hooks.update, [dt]); }
  draw();
  dispatch(hooks.draw, []);
  hud.textContent = hooks.hud.map(function (h) { return h(); }).join('   ');
}
init();
setInterval(frame, 1000 / 60);
})();
"#;

// The iteration cap only ends a stall where time does not pass (virtual time); in real time the
// 120 ms bound ends it. A cap of 1e8 ended it before 100 ms on an idle CPU.
const JANK_JS: &str = r#"hooks.update.push(function () { if (S.frame % 7 === 0) { var t0 = performance.now(); for (var i = 0, x = 0; i < 3e8; i++) { x += i; if ((i & 65535) === 0 && performance.now() - t0 >= 120) break; } } });"#;

const GLITCH_JS: &str = r#"hooks.draw.push(function () {
  if (Math.random() < 0.2) {
    var y = rand(0, H - 40), h = rand(4, 40);
    ctx.drawImage(canvas, 0, y, W, h, rand(-40, 40), y, W, h);
    ctx.globalAlpha = 0.6; ctx.fillStyle = pick(PALETTE); ctx.fillRect(rand(0, W), rand(0, H), rand(20, 160), rand(2, 12)); ctx.globalAlpha = 1;
  }
});"#;

/// Runtime errors that read like ordinary bugs: a settings object that was never created.
const ERROR_JS: &[&str] = &[
    r#"hooks.update.push(function () { if (S.frame > 20) S.total = S.stats.count + 1; });
hooks.click.unshift(function () { S.selection.active = true; });
hooks.key.unshift(function (k) { S.bindings[k].fire(); });"#,
    r#"hooks.update.push(function () { if (S.frame > 20) S.limit = S.config.maxItems * 2; });
hooks.click.unshift(function (x, y) { S.cursor.moveTo(x, y); });
hooks.key.unshift(function (k) { S.keyState[k].down = true; });"#,
    r#"hooks.update.push(function () { if (S.frame > 20) S.energy = S.physics.energy.total; });
hooks.click.unshift(function () { S.history.push(S.lastEvent.time); });
hooks.key.unshift(function () { S.lastEvent.key.record(); });"#,
];

fn page(plan: &Plan, dev: &Deviation, rng: &mut ChaCha8Rng) -> String {
    let t = &TEMPLATES[plan.template];
    let v = vars(plan, dev.subject);
    let pal = &PALETTES[dev.palette.unwrap_or(plan.palette)];
    let font = FONTS[dev.font.unwrap_or(plan.font)];
    let sub = &t.subjects[dev.subject.unwrap_or(plan.subject)];
    let mut features: Vec<&Feature> = plan
        .features
        .iter()
        .filter(|i| !dev.drop.contains(i))
        .map(|i| &t.features[*i])
        .collect();
    if let Some(e) = dev.extra {
        features.push(&t.features[e]);
    }
    let title = fill(t.title, &v);
    let keymap = if dev.remap_inputs {
        // Letters shift by one, space and Enter swap, arrows reverse: every binding still exists but
        // answers to the wrong key.
        let mut m: Vec<String> = ('a'..='z')
            .map(|c| {
                let n = if c == 'z' { 'a' } else { (c as u8 + 1) as char };
                format!(
                    "'{c}': '{n}', '{}': '{}'",
                    c.to_ascii_uppercase(),
                    n.to_ascii_uppercase()
                )
            })
            .collect();
        m.push("' ': 'Enter', 'Enter': ' '".to_owned());
        m.push("'ArrowLeft': 'ArrowRight', 'ArrowRight': 'ArrowLeft', 'ArrowUp': 'ArrowDown', 'ArrowDown': 'ArrowUp'".to_owned());
        format!("{{ {} }}", m.join(", "))
    } else {
        "{}".to_owned()
    };
    let mut js = String::with_capacity(8192);
    js.push_str(&format!(
        "var PALETTE = [{}];\nvar ACCENT = '{}';\nvar FG = '{}';\nvar FONT = \"{}\";\nvar SHAPE = '{}';\nvar DELAY_MS = {};\nvar CLICK_EVENT = '{}';\nvar INVERT_SLIDERS = {};\nvar KEYMAP = {};\n",
        pal.colors.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", "),
        pal.accent,
        pal.fg,
        font,
        sub.shape,
        dev.delay_ms,
        if dev.remap_inputs { "dblclick" } else { "click" },
        dev.remap_inputs,
        keymap,
    ));
    js.push_str(RUNTIME_HEAD);
    js.push_str(&fill(t.core_js, &v));
    for f in &features {
        js.push_str("// ");
        js.push_str(f.key);
        js.push('\n');
        js.push_str(&fill(f.js, &v));
        js.push('\n');
    }
    if dev.jank {
        js.push_str(JANK_JS);
        js.push('\n');
    }
    if dev.glitch {
        js.push_str(GLITCH_JS);
        js.push('\n');
    }
    if dev.error {
        js.push_str(ERROR_JS[rng.random_range(0..ERROR_JS.len())]);
        js.push('\n');
    }
    js.push_str(RUNTIME_TAIL);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n<style>\nbody {{ margin: 0; padding: 12px; background: {bg}; color: {fg}; font-family: {font}; display: flex; flex-direction: column; align-items: center; }}\nh1 {{ font-size: 20px; margin: 4px 0; }}\n#hud {{ min-height: 20px; margin: 6px; font-size: 14px; }}\ncanvas {{ background: {canvas}; border: 2px solid {accent}; max-width: 96vmin; max-height: 96vmin; }}\n#controls {{ margin: 8px; display: flex; gap: 16px; }}\ninput[type=range] {{ accent-color: {accent}; }}\n</style>\n</head>\n<body>\n<h1>{title}</h1>\n<div id=\"hud\"></div>\n<canvas id=\"stage\" width=\"600\" height=\"600\"></canvas>\n<div id=\"controls\"></div>\n<script>\n{js}</script>\n</body>\n</html>\n",
        bg = pal.bg,
        fg = pal.fg,
        canvas = pal.canvas,
        accent = pal.accent,
    )
}
