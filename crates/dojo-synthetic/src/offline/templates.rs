//! The page templates of the offline generator.
//!
//! Each template is a small canvas program: a core (`init`, `update(dt)`, `draw()`, always present)
//! plus optional features, each tied to one requirement sentence. Placeholders look like `%name%`
//! so they cannot collide with JavaScript braces.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::task::Topic;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Subject {
    pub(crate) plural: &'static str,
    pub(crate) singular: &'static str,
    pub(crate) shape: &'static str,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Feature {
    pub(crate) key: &'static str,
    pub(crate) requirement: &'static str,
    pub(crate) js: &'static str,
}

#[derive(Debug)]
pub(crate) struct Template {
    pub(crate) key: &'static str,
    pub(crate) topic: Topic,
    pub(crate) title: &'static str,
    pub(crate) describe: &'static str,
    pub(crate) core_lines: &'static [&'static str],
    pub(crate) subjects: &'static [Subject],
    pub(crate) core_js: &'static str,
    pub(crate) features: &'static [Feature],
    pub(crate) params: fn(&mut ChaCha8Rng) -> Vec<(&'static str, String)>,
}

const fn s(plural: &'static str, singular: &'static str, shape: &'static str) -> Subject {
    Subject {
        plural,
        singular,
        shape,
    }
}

const fn f(key: &'static str, requirement: &'static str, js: &'static str) -> Feature {
    Feature {
        key,
        requirement,
        js,
    }
}

fn drift_params(rng: &mut ChaCha8Rng) -> Vec<(&'static str, String)> {
    vec![
        ("count", rng.random_range(3..12u32).mul_add_10()),
        ("burst", rng.random_range(5..16u32).to_string()),
        ("maxr", rng.random_range(4..10u32).to_string()),
    ]
}

fn orbit_params(rng: &mut ChaCha8Rng) -> Vec<(&'static str, String)> {
    vec![
        ("count", rng.random_range(3..8u32).to_string()),
        ("gravity", rng.random_range(2..9u32).mul_add_1000()),
    ]
}

fn sorter_params(rng: &mut ChaCha8Rng) -> Vec<(&'static str, String)> {
    vec![
        ("count", rng.random_range(12..40u32).to_string()),
        ("steps", rng.random_range(1..5u32).to_string()),
    ]
}

fn life_params(rng: &mut ChaCha8Rng) -> Vec<(&'static str, String)> {
    vec![
        (
            "cells",
            [20u32, 25, 30, 40, 50][rng.random_range(0..5)].to_string(),
        ),
        ("fill", rng.random_range(15..45u32).to_string()),
    ]
}

fn catcher_params(rng: &mut ChaCha8Rng) -> Vec<(&'static str, String)> {
    vec![
        ("fall", rng.random_range(2..6u32).to_string()),
        ("basket", rng.random_range(70..130u32).to_string()),
    ]
}

fn target_params(rng: &mut ChaCha8Rng) -> Vec<(&'static str, String)> {
    vec![
        ("life", rng.random_range(8..20u32).mul_add_100()),
        ("radius", rng.random_range(14..32u32).to_string()),
    ]
}

trait Scale {
    fn mul_add_10(self) -> String;
    fn mul_add_100(self) -> String;
    fn mul_add_1000(self) -> String;
}

impl Scale for u32 {
    fn mul_add_10(self) -> String {
        (self * 10).to_string()
    }
    fn mul_add_100(self) -> String {
        (self * 100).to_string()
    }
    fn mul_add_1000(self) -> String {
        (self * 1000).to_string()
    }
}

pub(crate) static TEMPLATES: &[Template] = &[
    Template {
        key: "drift",
        topic: Topic::Animation,
        title: "Drifting %Plural%",
        describe: "of %count% %plural% drifting across a 600x600 canvas",
        core_lines: &[
            "%count% %plural% (drawn as %shape%s of radius 2 to %maxr% px) drift slowly and wrap around the canvas edges.",
        ],
        subjects: &[
            s("fireflies", "firefly", "circle"),
            s("snowflakes", "snowflake", "diamond"),
            s("bubbles", "bubble", "ring"),
            s("embers", "ember", "triangle"),
            s("pollen grains", "pollen grain", "square"),
            s("lanterns", "lantern", "diamond"),
            s("jellyfish", "jellyfish", "ring"),
        ],
        core_js: r#"
function spawn(x, y) {
  return { x: x, y: y, vx: rand(-40, 40), vy: rand(-40, 40), r: rand(2, %maxr%), c: pick(PALETTE) };
}
function init() {
  S.items = [];
  for (var i = 0; i < %count%; i++) S.items.push(spawn(rand(0, W), rand(0, H)));
}
function update(dt) {
  for (var i = 0; i < S.items.length; i++) {
    var p = S.items[i];
    p.x += p.vx * dt; p.y += p.vy * dt;
    if (p.x < 0) p.x += W; if (p.x > W) p.x -= W;
    if (p.y < 0) p.y += H; if (p.y > H) p.y -= H;
  }
}
function draw() {
  if (!S.trails) ctx.clearRect(0, 0, W, H);
  else { ctx.fillStyle = 'rgba(0,0,0,0.12)'; ctx.fillRect(0, 0, W, H); }
  for (var i = 0; i < S.items.length; i++) { var p = S.items[i]; shape(p.x, p.y, p.r, p.c); }
}
"#,
        features: &[
            f(
                "burst",
                "Clicking anywhere on the canvas releases a burst of %burst% new %plural% from that point.",
                r#"hooks.click.push(function (x, y) { for (var i = 0; i < %burst%; i++) S.items.push(spawn(x, y)); if (S.items.length > 2000) S.items.splice(0, S.items.length - 2000); });"#,
            ),
            f(
                "pause",
                "Pressing the space bar pauses and resumes the motion.",
                r#"hooks.key.push(function (k) { if (k === ' ') S.paused = !S.paused; });"#,
            ),
            f(
                "speed",
                "A speed slider below the canvas scales how fast the %plural% move, from 0.2x to 3x.",
                r#"addSlider('Speed', 0.2, 3, 0.1, 1, function (v) { S.speed = v; });"#,
            ),
            f(
                "attract",
                "While the mouse moves over the canvas, nearby %plural% are gently pulled toward the pointer.",
                r#"hooks.move.push(function (x, y) { for (var i = 0; i < S.items.length; i++) { var p = S.items[i]; var dx = x - p.x, dy = y - p.y; var d = Math.sqrt(dx * dx + dy * dy) + 1; if (d < 150) { p.vx += dx / d * 6; p.vy += dy / d * 6; } } });"#,
            ),
            f(
                "counter",
                "A counter above the canvas shows how many %plural% are on screen.",
                r#"hooks.hud.push(function () { return '%Plural%: ' + S.items.length; });"#,
            ),
            f(
                "trails",
                "Pressing T toggles fading motion trails behind the %plural%.",
                r#"hooks.key.push(function (k) { if (k === 't' || k === 'T') S.trails = !S.trails; });"#,
            ),
        ],
        params: drift_params,
    },
    Template {
        key: "orbits",
        topic: Topic::Science,
        title: "%Plural% in Orbit",
        describe: "of %count% %plural% orbiting a central star under Newtonian gravity",
        core_lines: &[
            "A glowing star sits at the centre of a 600x600 canvas; %count% %plural% (drawn as %shape%s) orbit it, pulled by a gravity strength of %gravity%.",
        ],
        subjects: &[
            s("planets", "planet", "circle"),
            s("moons", "moon", "ring"),
            s("comets", "comet", "triangle"),
            s("satellites", "satellite", "square"),
            s("asteroids", "asteroid", "diamond"),
        ],
        core_js: r#"
S.g = %gravity%;
function body(x, y) {
  var dx = x - W / 2, dy = y - H / 2; var d = Math.max(30, Math.sqrt(dx * dx + dy * dy));
  var v = Math.sqrt(S.g / d);
  return { x: W / 2 + dx / Math.sqrt(dx * dx + dy * dy + 1e-9) * d, y: H / 2 + dy / Math.sqrt(dx * dx + dy * dy + 1e-9) * d, vx: -dy / d * v, vy: dx / d * v, c: pick(PALETTE), r: rand(4, 9), trail: [] };
}
function init() {
  S.t = 0; S.bodies = [];
  for (var i = 0; i < %count%; i++) { var a = rand(0, Math.PI * 2), d = 60 + i * 30; S.bodies.push(body(W / 2 + Math.cos(a) * d, H / 2 + Math.sin(a) * d)); }
}
function update(dt) {
  S.t += dt;
  for (var i = 0; i < S.bodies.length; i++) {
    var b = S.bodies[i]; var dx = W / 2 - b.x, dy = H / 2 - b.y; var d2 = Math.max(400, dx * dx + dy * dy); var d = Math.sqrt(d2);
    b.vx += S.g * dx / (d2 * d) * dt; b.vy += S.g * dy / (d2 * d) * dt;
    b.x += b.vx * dt; b.y += b.vy * dt;
    if (S.trails) { b.trail.push([b.x, b.y]); if (b.trail.length > 80) b.trail.shift(); }
  }
}
function draw() {
  ctx.clearRect(0, 0, W, H);
  shape(W / 2, H / 2, 16, ACCENT);
  for (var i = 0; i < S.bodies.length; i++) {
    var b = S.bodies[i];
    if (b.trail.length > 1) { ctx.strokeStyle = b.c; ctx.lineWidth = 1; ctx.beginPath(); ctx.moveTo(b.trail[0][0], b.trail[0][1]); for (var j = 1; j < b.trail.length; j++) ctx.lineTo(b.trail[j][0], b.trail[j][1]); ctx.stroke(); }
    shape(b.x, b.y, b.r, b.c);
  }
}
"#,
        features: &[
            f(
                "launch",
                "Clicking the canvas launches a new %singular% from the clicked point on a circular orbit.",
                r#"hooks.click.push(function (x, y) { if (S.bodies.length < 200) S.bodies.push(body(x, y)); });"#,
            ),
            f(
                "gravity",
                "A gravity slider below the canvas sets the star's gravity strength between 1000 and 10000.",
                r#"addSlider('Gravity', 1000, 10000, 100, S.g, function (v) { S.g = v; });"#,
            ),
            f(
                "pause",
                "Pressing the space bar pauses and resumes the simulation.",
                r#"hooks.key.push(function (k) { if (k === ' ') S.paused = !S.paused; });"#,
            ),
            f(
                "reset",
                "Pressing R removes all added %plural% and restores the starting system.",
                r#"hooks.key.push(function (k) { if (k === 'r' || k === 'R') init(); });"#,
            ),
            f(
                "readout",
                "A readout above the canvas shows the number of %plural% and the elapsed simulated time in seconds.",
                r#"hooks.hud.push(function () { return '%Plural%: ' + S.bodies.length + '  t = ' + S.t.toFixed(1) + ' s'; });"#,
            ),
            f(
                "trails",
                "Pressing T toggles orbit trails that show each %singular%'s recent path.",
                r#"hooks.key.push(function (k) { if (k === 't' || k === 'T') { S.trails = !S.trails; for (var i = 0; i < S.bodies.length; i++) S.bodies[i].trail = []; } });"#,
            ),
        ],
        params: orbit_params,
    },
    Template {
        key: "sorter",
        topic: Topic::Animation,
        title: "Sorting %Plural%",
        describe: "of bubble sort ordering %count% %plural% by height",
        core_lines: &[
            "%count% %plural% of random heights stand side by side on a 600x600 canvas and are sorted by bubble sort, %steps% comparison(s) per frame, each topped with a %shape%.",
        ],
        subjects: &[
            s("bars", "bar", "square"),
            s("towers", "tower", "triangle"),
            s("candles", "candle", "circle"),
            s("crystal columns", "crystal column", "diamond"),
            s("bottles", "bottle", "ring"),
        ],
        core_js: r#"
S.stepsPerFrame = %steps%; S.desc = false;
function init() {
  S.vals = []; for (var i = 0; i < %count%; i++) S.vals.push(rand(20, H - 40));
  S.i = 0; S.j = 0; S.cmp = 0; S.swaps = 0; S.done = false;
}
function sortStep() {
  var n = S.vals.length; if (S.done) return;
  var a = S.vals[S.j], b = S.vals[S.j + 1]; S.cmp++;
  if (S.desc ? a < b : a > b) { S.vals[S.j] = b; S.vals[S.j + 1] = a; S.swaps++; }
  S.j++; if (S.j >= n - 1 - S.i) { S.j = 0; S.i++; if (S.i >= n - 1) S.done = true; }
}
function update(dt) { var k = Math.max(1, Math.round(S.stepsPerFrame * S.speed)); for (var s = 0; s < k; s++) sortStep(); }
function draw() {
  ctx.clearRect(0, 0, W, H);
  var n = S.vals.length, w = W / n;
  for (var i = 0; i < n; i++) {
    var c = PALETTE[i % PALETTE.length];
    if (S.highlight && !S.done && (i === S.j || i === S.j + 1)) c = ACCENT;
    ctx.fillStyle = c; ctx.fillRect(i * w + 1, H - S.vals[i], w - 2, S.vals[i]);
    shape(i * w + w / 2, H - S.vals[i] - 6, Math.min(6, w / 3), c);
  }
}
"#,
        features: &[
            f(
                "shuffle",
                "Clicking the canvas shuffles the %plural% into a new random order and restarts the sort.",
                r#"hooks.click.push(function () { init(); });"#,
            ),
            f(
                "speed",
                "A speed slider below the canvas sets how many comparisons happen per frame, from 1x to 10x.",
                r#"addSlider('Speed', 1, 10, 1, 1, function (v) { S.speed = v; });"#,
            ),
            f(
                "pause",
                "Pressing the space bar pauses and resumes the sort.",
                r#"hooks.key.push(function (k) { if (k === ' ') S.paused = !S.paused; });"#,
            ),
            f(
                "stats",
                "A counter above the canvas shows the number of comparisons and swaps made so far.",
                r#"hooks.hud.push(function () { return 'Comparisons: ' + S.cmp + '  Swaps: ' + S.swaps + (S.done ? '  (sorted)' : ''); });"#,
            ),
            f(
                "highlight",
                "The two %plural% being compared are highlighted in the accent colour.",
                r#"S.highlight = true;"#,
            ),
            f(
                "order",
                "Pressing D switches between ascending and descending order and restarts the sort.",
                r#"hooks.key.push(function (k) { if (k === 'd' || k === 'D') { S.desc = !S.desc; S.i = 0; S.j = 0; S.done = false; } });"#,
            ),
        ],
        params: sorter_params,
    },
    Template {
        key: "life",
        topic: Topic::Science,
        title: "%Plural% Automaton",
        describe: "of %plural% growing on a %cells%x%cells% grid by Conway's Game of Life rules",
        core_lines: &[
            "A %cells%x%cells% grid fills a 600x600 canvas; about %fill% percent of cells start alive and live %plural% are drawn as %shape%s, updated ten times per second by Conway's rules.",
        ],
        subjects: &[
            s("cells", "cell", "square"),
            s("bacteria colonies", "bacteria colony", "circle"),
            s("coral polyps", "coral polyp", "diamond"),
            s("moss patches", "moss patch", "ring"),
            s("sparks", "spark", "triangle"),
        ],
        core_js: r#"
S.n = %cells%; S.acc = 0; S.rate = 10;
function init() {
  S.gen = 0; S.grid = [];
  for (var i = 0; i < S.n * S.n; i++) S.grid.push(Math.random() * 100 < %fill% ? 1 : 0);
}
function step() {
  var n = S.n, next = new Array(n * n);
  for (var y = 0; y < n; y++) for (var x = 0; x < n; x++) {
    var c = 0;
    for (var dy = -1; dy <= 1; dy++) for (var dx = -1; dx <= 1; dx++) { if (dx || dy) c += S.grid[((y + dy + n) % n) * n + ((x + dx + n) % n)]; }
    var alive = S.grid[y * n + x];
    next[y * n + x] = (alive && (c === 2 || c === 3)) || (!alive && c === 3) ? 1 : 0;
  }
  S.grid = next; S.gen++;
}
function update(dt) { S.acc += dt * S.rate; while (S.acc >= 1) { step(); S.acc -= 1; } }
function draw() {
  ctx.clearRect(0, 0, W, H);
  var n = S.n, w = W / n;
  for (var i = 0; i < n * n; i++) if (S.grid[i]) shape((i % n) * w + w / 2, Math.floor(i / n) * w + w / 2, w / 2 - 1, PALETTE[i % PALETTE.length]);
}
"#,
        features: &[
            f(
                "toggle",
                "Clicking a grid cell toggles it between alive and dead.",
                r#"hooks.click.push(function (x, y) { var w = W / S.n; var cx = Math.floor(x / w), cy = Math.floor(y / w); if (cx >= 0 && cy >= 0 && cx < S.n && cy < S.n) S.grid[cy * S.n + cx] ^= 1; });"#,
            ),
            f(
                "pause",
                "Pressing the space bar pauses and resumes the evolution.",
                r#"hooks.key.push(function (k) { if (k === ' ') S.paused = !S.paused; });"#,
            ),
            f(
                "random",
                "Pressing R fills the grid with a fresh random population.",
                r#"hooks.key.push(function (k) { if (k === 'r' || k === 'R') init(); });"#,
            ),
            f(
                "generation",
                "A counter above the canvas shows the current generation and the number of live %plural%.",
                r#"hooks.hud.push(function () { var live = 0; for (var i = 0; i < S.grid.length; i++) live += S.grid[i]; return 'Generation ' + S.gen + '  Live %plural%: ' + live; });"#,
            ),
            f(
                "rate",
                "A slider below the canvas sets the update rate between 1 and 30 generations per second.",
                r#"addSlider('Rate', 1, 30, 1, 10, function (v) { S.rate = v; });"#,
            ),
            f(
                "clear",
                "Pressing C clears the grid so the user can draw a pattern from scratch.",
                r#"hooks.key.push(function (k) { if (k === 'c' || k === 'C') { for (var i = 0; i < S.grid.length; i++) S.grid[i] = 0; S.gen = 0; } });"#,
            ),
        ],
        params: life_params,
    },
    Template {
        key: "catcher",
        topic: Topic::Games,
        title: "%Plural% Catcher",
        describe: "called %Plural% Catcher, where a basket catches falling %plural%",
        core_lines: &[
            "%Plural% (drawn as %shape%s) fall from the top of a 600x600 canvas at a base speed of %fall%; a %basket% px wide basket at the bottom is moved with the left and right arrow keys.",
            "Each caught %singular% adds one point; missed %plural% disappear at the bottom.",
        ],
        subjects: &[
            s("apples", "apple", "circle"),
            s("coins", "coin", "ring"),
            s("raindrops", "raindrop", "triangle"),
            s("stars", "star", "diamond"),
            s("gift boxes", "gift box", "square"),
        ],
        core_js: r#"
S.bw = %basket%; S.fall = %fall%; S.lives = Infinity;
function init() { S.items = []; S.score = 0; S.missed = 0; S.over = false; S.bx = W / 2; S.t = 0; S.lives = S.maxLives || Infinity; }
hooks.key.push(function (k) { if (k === 'ArrowLeft') S.bx = Math.max(S.bw / 2, S.bx - 30); if (k === 'ArrowRight') S.bx = Math.min(W - S.bw / 2, S.bx + 30); });
function update(dt) {
  if (S.over) return;
  S.t += dt;
  if (Math.random() < dt * 1.5) S.items.push({ x: rand(20, W - 20), y: -10, v: (S.fall * 40) * (S.ramp ? 1 + S.t / 30 : 1), gold: S.gold && Math.random() < 0.1 });
  for (var i = S.items.length - 1; i >= 0; i--) {
    var it = S.items[i]; it.y += it.v * dt;
    if (it.y > H - 30 && Math.abs(it.x - S.bx) < S.bw / 2) { S.score += it.gold ? 5 : 1; S.items.splice(i, 1); }
    else if (it.y > H) { S.items.splice(i, 1); S.missed++; S.lives--; if (S.lives <= 0) S.over = true; }
  }
}
function draw() {
  ctx.clearRect(0, 0, W, H);
  for (var i = 0; i < S.items.length; i++) shape(S.items[i].x, S.items[i].y, 10, S.items[i].gold ? '#ffd700' : PALETTE[i % PALETTE.length]);
  ctx.fillStyle = ACCENT; ctx.fillRect(S.bx - S.bw / 2, H - 24, S.bw, 14);
  if (S.over) { ctx.fillStyle = FG; ctx.font = '32px ' + FONT; ctx.textAlign = 'center'; ctx.fillText('Game over', W / 2, H / 2); }
}
"#,
        features: &[
            f(
                "score",
                "The score and the number of missed %plural% are shown above the canvas.",
                r#"hooks.hud.push(function () { return 'Score: ' + S.score + '  Missed: ' + S.missed; });"#,
            ),
            f(
                "lives",
                "The player has three lives; each missed %singular% costs one, and the game ends with a 'Game over' message when none are left.",
                r#"S.maxLives = 3; S.lives = 3; hooks.hud.push(function () { return 'Lives: ' + Math.max(0, S.lives); });"#,
            ),
            f(
                "restart",
                "Pressing Enter or clicking the canvas starts a new round.",
                r#"hooks.key.push(function (k) { if (k === 'Enter') init(); }); hooks.click.push(function () { init(); });"#,
            ),
            f(
                "pause",
                "Pressing the space bar pauses and resumes the game.",
                r#"hooks.key.push(function (k) { if (k === ' ') S.paused = !S.paused; });"#,
            ),
            f(
                "ramp",
                "The %plural% fall faster the longer a round lasts.",
                r#"S.ramp = true;"#,
            ),
            f(
                "gold",
                "One in ten %plural% is golden and worth five points.",
                r#"S.gold = true;"#,
            ),
        ],
        params: catcher_params,
    },
    Template {
        key: "targets",
        topic: Topic::Games,
        title: "Pop the %Plural%",
        describe: "called Pop the %Plural%, where %plural% pop up and must be clicked before they vanish",
        core_lines: &[
            "%Plural% (drawn as %shape%s of radius %radius% px) appear at random spots on a 600x600 canvas and vanish after %life% ms; clicking one pops it for a point.",
        ],
        subjects: &[
            s("balloons", "balloon", "circle"),
            s("moles", "mole", "square"),
            s("fireworks", "firework", "diamond"),
            s("soap bubbles", "soap bubble", "ring"),
            s("ghosts", "ghost", "triangle"),
        ],
        core_js: r#"
S.life = %life%; S.rad = %radius%; S.spawnRate = 1.2;
function init() { S.targets = []; S.score = 0; S.misses = 0; S.combo = 0; S.best = 0; S.time = S.roundLength || 0; S.over = false; }
function update(dt) {
  if (S.over) return;
  if (S.roundLength) { S.time -= dt; if (S.time <= 0) { S.time = 0; S.over = true; } }
  if (Math.random() < dt * S.spawnRate) S.targets.push({ x: rand(S.rad, W - S.rad), y: rand(S.rad, H - S.rad), age: 0, c: pick(PALETTE) });
  for (var i = S.targets.length - 1; i >= 0; i--) { S.targets[i].age += dt * 1000; if (S.targets[i].age > S.life) { S.targets.splice(i, 1); S.combo = 0; } }
}
hooks.click.push(function (x, y) {
  if (S.over) return;
  for (var i = S.targets.length - 1; i >= 0; i--) { var t = S.targets[i]; if ((t.x - x) * (t.x - x) + (t.y - y) * (t.y - y) <= S.rad * S.rad) { S.targets.splice(i, 1); S.combo++; S.best = Math.max(S.best, S.combo); S.score += S.comboBonus ? S.combo : 1; return; } }
  S.misses++; S.combo = 0; if (S.missPenalty) S.score = Math.max(0, S.score - 1);
});
function draw() {
  ctx.clearRect(0, 0, W, H);
  for (var i = 0; i < S.targets.length; i++) { var t = S.targets[i]; shape(t.x, t.y, S.rad * (1 - 0.3 * t.age / S.life), t.c); }
  if (S.over) { ctx.fillStyle = FG; ctx.font = '32px ' + FONT; ctx.textAlign = 'center'; ctx.fillText('Time up! Score ' + S.score, W / 2, H / 2); }
}
"#,
        features: &[
            f(
                "score",
                "The score and the number of missed clicks are shown above the canvas.",
                r#"hooks.hud.push(function () { return 'Score: ' + S.score + '  Misses: ' + S.misses; });"#,
            ),
            f(
                "timer",
                "Each round lasts 30 seconds; a countdown is shown and a final score appears when time is up.",
                r#"S.roundLength = 30; S.time = 30; hooks.hud.push(function () { return 'Time: ' + Math.ceil(S.time); });"#,
            ),
            f(
                "combo",
                "Consecutive hits build a combo: each hit scores the current combo length, and any miss resets it.",
                r#"S.comboBonus = true; hooks.hud.push(function () { return 'Combo: ' + S.combo + ' (best ' + S.best + ')'; });"#,
            ),
            f(
                "penalty",
                "Clicking empty space costs one point.",
                r#"S.missPenalty = true;"#,
            ),
            f(
                "restart",
                "Pressing R starts a new round.",
                r#"hooks.key.push(function (k) { if (k === 'r' || k === 'R') init(); });"#,
            ),
            f(
                "difficulty",
                "A difficulty slider below the canvas sets how often %plural% appear, from 0.5 to 4 per second.",
                r#"addSlider('Difficulty', 0.5, 4, 0.1, 1.2, function (v) { S.spawnRate = v; });"#,
            ),
        ],
        params: target_params,
    },
];

/// Named colour schemes the prompt asks for; a restyle picks a different one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Palette {
    pub(crate) name: &'static str,
    pub(crate) bg: &'static str,
    pub(crate) canvas: &'static str,
    pub(crate) fg: &'static str,
    pub(crate) accent: &'static str,
    pub(crate) colors: [&'static str; 4],
}

const fn p(
    name: &'static str,
    bg: &'static str,
    canvas: &'static str,
    fg: &'static str,
    accent: &'static str,
    colors: [&'static str; 4],
) -> Palette {
    Palette {
        name,
        bg,
        canvas,
        fg,
        accent,
        colors,
    }
}

pub(crate) static PALETTES: &[Palette] = &[
    p(
        "midnight",
        "#0b1026",
        "#111a3a",
        "#e8ecff",
        "#ffcc33",
        ["#7fdbff", "#39cccc", "#b10dc9", "#f012be"],
    ),
    p(
        "forest",
        "#0f2418",
        "#173322",
        "#e6f5e9",
        "#ff8c42",
        ["#8bc34a", "#4caf50", "#cddc39", "#a5d6a7"],
    ),
    p(
        "sunset",
        "#2b1020",
        "#3d1530",
        "#fff1e6",
        "#ffd166",
        ["#ef476f", "#f78c6b", "#ffd166", "#06d6a0"],
    ),
    p(
        "ocean",
        "#02182b",
        "#03253f",
        "#e0fbfc",
        "#ee6c4d",
        ["#98c1d9", "#3d5a80", "#e0fbfc", "#293241"],
    ),
    p(
        "paper",
        "#f4f1ea",
        "#ffffff",
        "#222222",
        "#d7263d",
        ["#1b998b", "#2e294e", "#f46036", "#c5d86d"],
    ),
    p(
        "neon",
        "#000000",
        "#0a0a0a",
        "#f5f5f5",
        "#39ff14",
        ["#ff073a", "#00f0ff", "#fe53bb", "#f5d300"],
    ),
    p(
        "desert",
        "#3b2f2f",
        "#4a3b35",
        "#fbeee0",
        "#e76f51",
        ["#f4a261", "#e9c46a", "#2a9d8f", "#264653"],
    ),
    p(
        "pastel",
        "#fdf6ff",
        "#ffffff",
        "#333344",
        "#7b2cbf",
        ["#ffadad", "#ffd6a5", "#caffbf", "#9bf6ff"],
    ),
];

pub(crate) static FONTS: &[&str] = &[
    "Georgia, serif",
    "Verdana, sans-serif",
    "'Courier New', monospace",
    "'Trebuchet MS', sans-serif",
    "'Palatino Linotype', serif",
    "Tahoma, sans-serif",
];
