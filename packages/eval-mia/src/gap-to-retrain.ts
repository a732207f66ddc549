import type { ResultRow, RowSparsity } from './results-schema.js';

/** The metrics a gap to retrain is measured on, in the paper's column order. */
export const GAP_METRICS = ['UA', 'MIA-efficacy', 'RA', 'TA'] as const;
/** One of {@link GAP_METRICS}. */
export type GapMetric = (typeof GAP_METRICS)[number];

/** How far one row is from the `retrain` row of the same sparsity. */
export interface GapRow {
  method: string;
  sparsity: RowSparsity;
  lora: boolean;
  /** |metric − retrain's metric| per metric, or `null` when there is no retrain row of that sparsity. */
  gaps: Record<GapMetric, number> | null;
  /** Mean of the four gaps, or `null` without a retrain row. */
  average: number | null;
}

/**
 * Gap to retrain of each row: the absolute difference to the `retrain` row of the same sparsity
 * on UA, MIA-efficacy, RA and TA, and their average.
 *
 * @param rows - result rows (a `retrain` row with `lora` unset or false is the reference)
 * @returns one entry per row, in the same order (the retrain rows get gaps of 0)
 * @remarks A good unlearner is close to retrain on every metric rather than maximal on one, so
 * the average gap ranks methods (lower is better).
 */
export function gapToRetrain(rows: readonly ResultRow[]): GapRow[] {
  const reference = new Map<RowSparsity, ResultRow>();
  for (const r of rows) if (r.method === 'retrain' && !r.lora && !reference.has(r.sparsity)) reference.set(r.sparsity, r);
  return rows.map((r) => {
    const ref = reference.get(r.sparsity);
    if (!ref) return { method: r.method, sparsity: r.sparsity, lora: r.lora === true, gaps: null, average: null };
    const gaps = Object.fromEntries(GAP_METRICS.map((m) => [m, Math.abs(r.metrics[m] - ref.metrics[m])])) as Record<GapMetric, number>;
    const average = GAP_METRICS.reduce((s, m) => s + gaps[m], 0) / GAP_METRICS.length;
    return { method: r.method, sparsity: r.sparsity, lora: r.lora === true, gaps, average };
  });
}
