//! numpy's legacy `RandomState` stream (MT19937 + the polar Gaussian), reproduced so that the HFL
//! jitter `np.random.seed(42); np.random.normal(0, 1e-6, size)` is bit-identical.

#[derive(Debug, Clone)]
pub(crate) struct LegacyRandomState {
    mt: [u32; 624],
    index: usize,
    cached_gauss: Option<f64>,
}

impl LegacyRandomState {
    /// `np.random.seed(seed)` for an integer seed (`init_genrand`).
    pub(crate) fn new(seed: u32) -> Self {
        let mut mt = [0u32; 624];
        mt[0] = seed;
        for i in 1..624 {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        Self {
            mt,
            index: 624,
            cached_gauss: None,
        }
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for i in 0..624 {
                let y = (self.mt[i] & 0x8000_0000) | (self.mt[(i + 1) % 624] & 0x7fff_ffff);
                let mut v = self.mt[(i + 397) % 624] ^ (y >> 1);
                if y & 1 != 0 {
                    v ^= 0x9908_b0df;
                }
                self.mt[i] = v;
            }
            self.index = 0;
        }
        let mut y = self.mt[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    fn next_f64(&mut self) -> f64 {
        let a = f64::from(self.next_u32() >> 5);
        let b = f64::from(self.next_u32() >> 6);
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// `legacy_gauss`: Marsaglia's polar method, returning the cached second value on alternate calls.
    fn gauss(&mut self) -> f64 {
        if let Some(g) = self.cached_gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.next_f64() - 1.0;
            let x2 = 2.0 * self.next_f64() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.cached_gauss = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// `np.random.normal(loc, scale)`.
    pub(crate) fn normal(&mut self, loc: f64, scale: f64) -> f64 {
        loc + scale * self.gauss()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_seed_42() {
        // np.random.seed(42); np.random.normal(0, 1, 3)
        let mut r = LegacyRandomState::new(42);
        let want = [0.4967141530112327, -0.13826430117118466, 0.6476885381006925];
        for w in want {
            let got = r.normal(0.0, 1.0);
            assert!((got - w).abs() < 1e-15, "{got} vs {w}");
        }
    }
}
