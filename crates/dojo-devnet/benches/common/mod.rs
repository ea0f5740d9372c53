//! The epoch snapshot and CPU clock shared by the `epoch` bench and the `epoch_once` example, so
//! both measure the same input.

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

pub(crate) fn snapshot(n: u16, validators: u16, yuma3: bool) -> EpochInput {
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

/// This thread's time on a CPU so far (Linux `schedstat`), or `None` where the kernel does not
/// expose it.
pub(crate) fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
