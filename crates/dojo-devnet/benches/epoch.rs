//! Yuma epoch cost at subnet sizes that matter: n=256 with 64 validators and n=4096 with 128, every
//! validator weighting every UID (dense rows), bonds already populated by a previous epoch.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group};
use dojo_devnet::{EpochInput, EpochNeuron, run_epoch};

/// Deterministic xorshift so the inputs are identical on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn snapshot(n: u16, validators: u16, yuma3: bool) -> EpochInput {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(n));
    let neurons = (0..n)
        .map(|i| {
            let is_val = i < validators;
            EpochNeuron {
                stake: if is_val {
                    1_000_000_000 + rng.next() % 100_000_000_000
                } else {
                    rng.next() % 1_000_000
                },
                last_update: 900,
                block_at_registration: 1,
                validator_permit: is_val,
                weights: if is_val {
                    (0..n).map(|j| (j, (rng.next() % 65_536) as u16)).collect()
                } else {
                    vec![]
                },
                bonds: vec![],
                commit_block: None,
            }
        })
        .collect();
    let mut input = EpochInput {
        block: 1000,
        tempo: 360,
        activity_cutoff: 5000,
        kappa: 32_767,
        bonds_penalty: 65_535,
        bonds_moving_average: 900_000,
        yuma3,
        liquid_alpha: yuma3,
        alpha_low: 45_875,
        alpha_high: 58_982,
        alpha_sigmoid_steepness: 1000,
        max_allowed_validators: validators,
        stake_threshold: 0,
        owner_uid: None,
        rao_emission: 360_000_000_000,
        last_tempo: 640,
        commit_reveal: false,
        neurons,
    };
    // One epoch first so the timed one reads a full bond matrix, as on a live subnet.
    let out = run_epoch(&input).expect("valid snapshot");
    for (neuron, bonds) in input.neurons.iter_mut().zip(out.bonds) {
        neuron.bonds = bonds;
    }
    input
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("yuma_epoch");
    g.sample_size(20);
    for (n, v) in [(256u16, 64u16), (4096, 128)] {
        for yuma3 in [false, true] {
            let input = snapshot(n, v, yuma3);
            let name = format!("{}/n{n}_v{v}", if yuma3 { "yuma3_liquid" } else { "yuma" });
            g.bench_function(name, |b| b.iter(|| run_epoch(black_box(&input))));
        }
    }
    g.finish();
}

criterion_group!(benches, bench);

/// This thread's time on a CPU so far (Linux `schedstat`), or `None` where the kernel does not
/// expose it.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The speed targets of the n=4096 epochs (issue 15), checked on the best of a few runs after
/// criterion's report so the verdict sits next to its figure.
///
/// The verdict is on the epoch's time on a CPU, not on wall time: on a shared machine wall time
/// mostly measures the other processes (a best-of-10 under load average 12 was several times the
/// CPU time), while on an idle machine the two agree. Both are printed, with the load average.
fn targets() {
    #![allow(clippy::print_stdout)]
    for (yuma3, target_ms) in [(false, 50.0), (true, 120.0)] {
        let input = snapshot(4096, 128, yuma3);
        let (mut best_wall, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..10 {
            let cpu0 = thread_cpu_ns();
            let t = Instant::now();
            black_box(run_epoch(black_box(&input)).expect("valid snapshot"));
            best_wall = best_wall.min(t.elapsed().as_secs_f64() * 1e3);
            if let (Some(a), Some(b)) = (cpu0, thread_cpu_ns()) {
                best_cpu = best_cpu.min(b.saturating_sub(a) as f64 / 1e6);
            }
        }
        let judged = if best_cpu.is_finite() {
            best_cpu
        } else {
            best_wall
        };
        let name = if yuma3 { "yuma3_liquid" } else { "yuma" };
        let verdict = if judged < target_ms { "met" } else { "NOT met" };
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load = load
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        println!(
            "target {name}/n4096_v128: best of 10 on CPU {best_cpu:.1} ms (wall {best_wall:.1} ms), \
             target < {target_ms} ms: {verdict} (load average {load})"
        );
    }
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    targets();
}
