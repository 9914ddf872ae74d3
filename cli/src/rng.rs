//! A small, fast, seeded random number generator (PCG-XSH-RR 64/32 pair, seeded by
//! SplitMix64). Hand-written so that the stream never changes under a dependency
//! upgrade: the same seed gives the same simulation forever.

/// SplitMix64: a good 64-bit mixer, used to derive seeds.
pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// PCG64 (a 128-bit LCG with an XSL-RR output), deterministic for a given seed.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u128,
}

const MUL: u128 = 0x2360_ED05_1FC6_5DA4_4385_DF64_9FCC_F645;
const INC: u128 = 0x5851_F42D_4C95_7F2D_1405_7B7E_F767_814F;

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        let hi = splitmix64(seed);
        let lo = splitmix64(hi ^ seed);
        let mut r = Rng {
            state: ((hi as u128) << 64) | lo as u128,
        };
        r.next_u64();
        r
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_mul(MUL).wrapping_add(INC);
        let s = self.state;
        let rot = (s >> 122) as u32;
        let x = ((s >> 64) as u64) ^ (s as u64);
        x.rotate_right(rot)
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Exponentially distributed with mean `mean`: a 1024-entry table of `-ln(1 - u)`
    /// with linear interpolation (exact in the last 1/1024 of the tail).
    #[inline]
    pub fn exponential(&mut self, mean: f64) -> f64 {
        let u = self.uniform();
        let x = u * EXP_TABLE_N as f64;
        let i = x as usize;
        let v = if i < EXP_TABLE_N - 1 {
            let t = exp_table();
            let f = x - i as f64;
            t[i] + (t[i + 1] - t[i]) * f
        } else {
            -(1.0 - u).ln()
        };
        v * mean
    }
}

const EXP_TABLE_N: usize = 1024;

fn exp_table() -> &'static [f64; EXP_TABLE_N] {
    static TABLE: std::sync::OnceLock<[f64; EXP_TABLE_N]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0.0; EXP_TABLE_N];
        for (i, v) in t.iter_mut().enumerate() {
            *v = -(1.0 - i as f64 / EXP_TABLE_N as f64).ln();
        }
        t
    })
}

/// The standard normal quantile of `p` in (0, 1) (P. J. Acklam's algorithm).
#[allow(clippy::excessive_precision)]
pub fn inverse_normal_cdf(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383577518672690e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    const LOW: f64 = 0.02425;
    if p < LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        -inverse_normal_cdf(1.0 - p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Rng::new(1).next_u64(), Rng::new(2).next_u64());
    }

    #[test]
    fn inverse_normal_and_exponential_have_the_right_moments() {
        let mut r = Rng::new(5);
        let n = 200_000;
        let z: Vec<f64> = (0..n)
            .map(|_| inverse_normal_cdf(r.uniform().max(1e-17)))
            .collect();
        let mean = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "{mean} {var}"
        );
        let e = (0..n).map(|_| r.exponential(2.0)).sum::<f64>() / n as f64;
        assert!((e - 2.0).abs() < 0.03, "{e}");
        assert!((inverse_normal_cdf(0.99) - 2.326_347_874).abs() < 1e-6);
    }

    #[test]
    fn uniform_mean_is_about_half() {
        let mut r = Rng::new(3);
        let n = 100_000;
        let mean: f64 = (0..n).map(|_| r.uniform()).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }
}
