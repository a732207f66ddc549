/**
 * Serialisable state of an {@link Rng}: four 32-bit words.
 */
export type RngState = readonly [number, number, number, number];

/** SplitMix32-style hash used to expand seeds and labels into generator state. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * Seeded pseudo-random generator (xoshiro128**), the only source of randomness in unlearnjs.
 *
 * @remarks
 * Every random choice (data order, augmentation, initialisation, forget-set choice, noise)
 * draws from an `Rng` forked from the run's seed, so the same seed gives the same result on
 * every backend. `fork(label)` derives an independent stream without advancing this one, so
 * adding a new consumer does not shift the others. `state()`/`fromState()` let checkpoints
 * resume the exact stream.
 *
 * @example
 * ```ts
 * const rng = new Rng(42);
 * const order = rng.permutation(10);
 * const init = rng.fork('init').normalArray(100, 0, 0.1);
 * ```
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;

  /**
   * @param seed - any 32-bit integer (other numbers are hashed)
   */
  constructor(seed: number) {
    const base = Number.isInteger(seed) ? seed >>> 0 : hashString(String(seed));
    this.s0 = mix32(base);
    this.s1 = mix32(this.s0 ^ 0x1234567);
    this.s2 = mix32(this.s1 ^ 0x89abcdef);
    this.s3 = mix32(this.s2 ^ 0x5bd1e995);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Restore a generator from {@link Rng.state}. */
  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    [r.s0, r.s1, r.s2, r.s3] = state.map((v) => v >>> 0) as unknown as [number, number, number, number];
    return r;
  }

  /** The current state, to store in a checkpoint. */
  state(): RngState {
    return [this.s0, this.s1, this.s2, this.s3];
  }

  /** Next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /**
   * Uniform integer in [0, n).
   * @param n - exclusive upper bound, a positive integer
   */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal sample (Box–Muller, caching the second value). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /**
   * Fill a new Float32Array with N(mean, std²) samples.
   * @param n - length
   * @param mean - mean
   * @param std - standard deviation
   */
  normalArray(n: number, mean = 0, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = mean + std * this.normal();
    return out;
  }

  /**
   * Fill a new Float32Array with U(lo, hi) samples.
   */
  uniformArray(n: number, lo: number, hi: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * this.next();
    return out;
  }

  /** In-place Fisher–Yates shuffle; returns the same array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i];
      arr[i] = arr[j];
      arr[j] = tmp;
    }
    return arr;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /**
   * An independent generator derived from this one's *current* state and a label, without
   * advancing this one.
   * @param label - names the consumer, e.g. `'init'`, `'data-order'`
   */
  fork(label: string): Rng {
    const h = hashString(label);
    const r = new Rng(0);
    r.s0 = mix32(this.s0 ^ h);
    r.s1 = mix32(this.s1 ^ r.s0);
    r.s2 = mix32(this.s2 ^ r.s1);
    r.s3 = mix32(this.s3 ^ r.s2);
    if ((r.s0 | r.s1 | r.s2 | r.s3) === 0) r.s0 = 1;
    return r;
  }

  /** A 31-bit integer seed, for APIs (like tfjs dropout) that take a number. */
  seed(): number {
    return this.nextUint32() >>> 1;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
