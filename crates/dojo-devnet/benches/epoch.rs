//! Yuma epoch cost at subnet sizes that matter: n=256 with 64 validators and n=4096 with 128, every
//! validator weighting every UID (dense rows), bonds already populated by a previous epoch.

use std::hint::black_box;
use std::time::Instant;

use common::{snapshot, thread_cpu_ns};
use criterion::{Criterion, criterion_group};
use dojo_devnet::run_epoch;

mod common;

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
