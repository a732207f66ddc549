/** Mean and spread of one quantity over a grid's seeds. */
export interface SeedStat {
  /** How many seeds gave a value (failed cells give none). */
  n: number;
  /** Arithmetic mean, or `null` when n = 0. */
  mean: number | null;
  /**
   * Sample standard deviation (denominator n − 1, as the paper's ± over repeated trials), or
   * `null` when n < 2: one trial says nothing about the spread.
   */
  std: number | null;
}

/**
 * Mean and sample standard deviation of values over seeds.
 *
 * @remarks Two passes (mean first, then the squared deviations from it) rather than the
 * one-pass sum of squares, which loses every digit when values such as accuracies near 100
 * differ only in their decimals.
 * @param values - one value per seed, finite
 * @returns `n`, the mean (`null` for no value) and the sample std with denominator n − 1
 *   (`null` for fewer than 2 values); e.g. 1, 2, 3, 4 → mean 2.5, std √(5/3) ≈ 1.29099
 */
export function seedStat(values: readonly number[]): SeedStat {
  const n = values.length;
  if (n === 0) return { n, mean: null, std: null };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n === 1) return { n, mean, std: null };
  const ss = values.reduce((s, v) => s + (v - mean) ** 2, 0);
  return { n, mean, std: Math.sqrt(ss / (n - 1)) };
}
