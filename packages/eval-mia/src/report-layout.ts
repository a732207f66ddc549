export { escapeXml } from './report-kit.js';
import { type GapRow, gapToRetrain } from './gap-to-retrain.js';
import type { ResultRow, Results, RowSparsity } from './results-schema.js';

/** The metrics the tables and charts show, in the paper's column order. */
export const REPORT_METRICS = ['UA', 'MIA-efficacy', 'RA', 'TA', 'RTE'] as const;
/** One of {@link REPORT_METRICS}. */
export type ReportMetric = (typeof REPORT_METRICS)[number];

/** Column headings of the report metrics. @internal */
export const METRIC_TITLES: Record<string, string> = {
  UA: 'UA',
  'MIA-efficacy': 'MIA-Efficacy',
  RA: 'RA',
  TA: 'TA',
  RTE: 'RTE (min)',
};

/** Sparsities present, `dense` first then ascending. @internal */
export function sparsitiesOf(rows: readonly ResultRow[]): RowSparsity[] {
  const set = new Set<RowSparsity>(rows.map((r) => r.sparsity));
  const nums = [...set].filter((s): s is number => s !== 'dense').sort((a, b) => a - b);
  return set.has('dense') ? ['dense', ...nums] : nums;
}

/** `dense` or e.g. `95% sparse`. @internal */
export function sparsityLabel(s: RowSparsity): string {
  if (s === 'dense') return 'dense';
  return `${Number((s * 100).toFixed(1))}% sparse`;
}

/** A table row: one method (with or without LoRA) across sparsities. @internal */
export interface MethodLine {
  key: string;
  label: string;
  bySparsity: Map<RowSparsity, ResultRow>;
  gapBySparsity: Map<RowSparsity, GapRow>;
}

/** Group rows by method (+ LoRA), `retrain` first, then in order of first appearance. @internal */
export function methodLines(results: Results): MethodLine[] {
  const gaps = gapToRetrain(results.rows);
  const lines = new Map<string, MethodLine>();
  results.rows.forEach((r, i) => {
    const key = `${r.method}${r.lora ? '+lora' : ''}`;
    let line = lines.get(key);
    if (!line) {
      line = { key, label: r.lora ? `${r.method} + LoRA` : r.method, bySparsity: new Map(), gapBySparsity: new Map() };
      lines.set(key, line);
    }
    line.bySparsity.set(r.sparsity, r);
    line.gapBySparsity.set(r.sparsity, gaps[i]);
  });
  const all = [...lines.values()];
  return [...all.filter((l) => l.key === 'retrain'), ...all.filter((l) => l.key !== 'retrain')];
}

/** Whether any row has a retrain reference. @internal */
export function hasRetrain(results: Results): boolean {
  return results.rows.some((r) => r.method === 'retrain' && !r.lora);
}

/** A number with 2 decimals, or an en dash when absent. @internal */
export function fmt(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(2);
}

/**
 * The sentence the reports give about the forget set and the held-out set TA and the MIA used.
 * @param results - validated results
 * @returns e.g. " Forget set: 270 images, class 0. TA and the MIA's non-members: the test set
 *   without class 0 (900 images)." (with a leading space), or `''` when the results say nothing
 * @internal
 */
export function describeForgetSet(results: Results): string {
  const f = results.forget;
  if (!f) return '';
  const kind = f.classToForget >= 0 ? `class ${f.classToForget}` : 'random';
  return ` Forget set: ${f.size} images, ${kind}.${f.heldOut ? ` TA and the MIA's non-members: ${f.heldOut}.` : ''}`;
}
