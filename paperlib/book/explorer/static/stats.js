// Welch's t-test in the browser, as paperlib.measures.stats.welch_test (scipy
// ttest_ind(x, y, equal_var=False, alternative="less")): the one-sided p is the
// Student t CDF at t, through the regularised incomplete beta function
//   P(T <= t) = 1/2 I_{df/(df+t^2)}(df/2, 1/2) for t < 0, 1 - that for t > 0.

// log Gamma(x), x > 0: Lanczos approximation (g = 7, 9 terms), ~1e-15 relative.
const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028,
                 771.32342877765313, -176.61502916214059, 12.507343278686905,
                 -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];

export function logGamma(x) {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0];
  for (let i = 1; i < 9; i++) sum += LANCZOS[i] / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

// Continued fraction of I_x(a, b) (modified Lentz), y = 1 - x.
function betaFraction(a, b, x) {
  const tiny = 1e-300, eps = 4e-16;
  let c = 1, d = 1 - (a + b) * x / (a + 1);
  d = Math.abs(d) < tiny ? tiny : d;
  d = 1 / d;
  let result = d;
  for (let m = 1; m <= 100000; m++) {
    const m2 = 2 * m;
    let aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d; d = Math.abs(d) < tiny ? tiny : d; d = 1 / d;
    c = 1 + aa / c; c = Math.abs(c) < tiny ? tiny : c;
    result *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d; d = Math.abs(d) < tiny ? tiny : d; d = 1 / d;
    c = 1 + aa / c; c = Math.abs(c) < tiny ? tiny : c;
    const delta = d * c;
    result *= delta;
    if (Math.abs(delta - 1) < eps) return result;
  }
  throw new Error("incomplete beta: no convergence");
}

// Regularised incomplete beta I_x(a, b); y = 1 - x is passed separately so that
// a small 1 - x keeps its precision.
export function betaInc(a, b, x, y = 1 - x) {
  if (!(x >= 0 && y >= 0)) return NaN;
  if (x === 0) return 0;
  if (y === 0) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(y));
  if (x < (a + 1) / (a + b + 2)) return front * betaFraction(a, b, x) / a;
  return 1 - front * betaFraction(b, a, y) / b;
}

// P(T <= t) for Student's t with df degrees of freedom (df > 0, not necessarily whole).
export function studentCdf(t, df) {
  if (Number.isNaN(t) || !(df > 0)) return NaN;
  if (t === Infinity) return 1;
  if (t === -Infinity) return 0;
  const t2 = t * t;
  const tail = 0.5 * betaInc(df / 2, 0.5, df / (df + t2), t2 / (df + t2));
  return t < 0 ? tail : 1 - tail;
}

export function meanStd(values) {
  // mean and population std (ddof = 0), as paperlib.measures.stats.mean_std
  const n = values.length;
  if (n === 0) return {n, mean: NaN, std: NaN, variance1: NaN};
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / n;
  let ss = 0;
  for (const v of values) ss += (v - mean) * (v - mean);
  return {n, mean, std: Math.sqrt(ss / n), variance1: n > 1 ? ss / (n - 1) : NaN};
}

// Welch one-sided test, H0 mean(x) >= mean(y) against H1 mean(x) < mean(y).
export function welchLess(x, y) {
  const a = meanStd(x), b = meanStd(y);
  if (a.n < 2 || b.n < 2) return {t: NaN, df: NaN, p: NaN};
  const vx = a.variance1 / a.n, vy = b.variance1 / b.n;
  const se2 = vx + vy;
  const t = (a.mean - b.mean) / Math.sqrt(se2);
  const df = se2 * se2 / (vx * vx / (a.n - 1) + vy * vy / (b.n - 1));
  return {t, df, p: studentCdf(t, df)};
}
