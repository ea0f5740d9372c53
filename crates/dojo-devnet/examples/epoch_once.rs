//! One Yuma epoch at a chosen size, for instruction-level profiling (`valgrind --tool=callgrind`).
//! `cargo run --release -p dojo-devnet --example epoch_once -- [n] [validators] [yuma3]`

#[path = "../benches/common/mod.rs"]
mod common;

use common::{snapshot, thread_cpu_ns};
use dojo_devnet::run_epoch;

#[allow(clippy::print_stdout)]
fn main() {
    let mut args = std::env::args().skip(1);
    let n: u16 = args.next().map_or(4096, |a| a.parse().expect("n"));
    let v: u16 = args.next().map_or(128, |a| a.parse().expect("validators"));
    let yuma3 = args.next().is_some_and(|a| a == "yuma3");
    let runs: usize = args.next().map_or(1, |a| a.parse().expect("runs"));
    let input = snapshot(n, v, yuma3);
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t = thread_cpu_ns().unwrap_or(0);
        std::hint::black_box(run_epoch(std::hint::black_box(&input)).expect("valid snapshot"));
        best = best.min((thread_cpu_ns().unwrap_or(0) - t) as f64 / 1e6);
    }
    println!("best of {runs} on CPU: {best:.1} ms");
}
