import type { LayerSparsity, Model, SparsityReport } from '@unlearnjs/core';

/**
 * Measure the sparsity a model's masks impose: per prunable weight and over all of them.
 *
 * @param model - the model (unchanged)
 * @returns a {@link SparsityReport} with one entry per name of `model.prunable`, in that
 *   order; a weight without a mask counts as dense. Plain numbers: nothing to dispose.
 * @remarks Counts the zeros of the masks, not the zeros of the weights: a weight that is 0
 * by chance but unmasked is alive and may grow again in training.
 * @example
 * ```ts
 * const report = sparsityReport(model);
 * console.log(formatSparsity(report));
 * ```
 */
export function sparsityReport(model: Model): SparsityReport {
  const layers: LayerSparsity[] = [];
  let total = 0;
  let pruned = 0;
  for (const name of model.prunable) {
    const weight = model.params.get(name);
    if (!weight) continue;
    const mask = model.masks.get(name);
    let zeros = 0;
    if (mask) {
      const m = mask.dataSync();
      for (let i = 0; i < m.length; i++) if (m[i] === 0) zeros++;
    }
    layers.push({ name, size: weight.size, pruned: zeros, sparsity: weight.size > 0 ? zeros / weight.size : 0 });
    total += weight.size;
    pruned += zeros;
  }
  return { layers, global: total > 0 ? pruned / total : 0, total, pruned };
}

/** Options of {@link formatSparsity}. */
export interface FormatSparsityOptions {
  /** Add one line per layer after the global line. @defaultValue true */
  layers?: boolean;
  /** Digits after the decimal point of the percentages. @defaultValue 2 */
  digits?: number;
}

/**
 * Render a sparsity report for a log: a global line, then one line per layer.
 *
 * @param report - from {@link sparsityReport}
 * @param options - whether to list layers, and the precision
 * @returns text without a trailing newline, e.g.
 *   `sparsity 95.00% (10,630,963 of 11,190,490 prunable weights pruned, density 5.00%)`
 */
export function formatSparsity(report: SparsityReport, options: FormatSparsityOptions = {}): string {
  const digits = options.digits ?? 2;
  const pct = (x: number) => `${(100 * x).toFixed(digits)}%`;
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `sparsity ${pct(report.global)} (${n(report.pruned)} of ${n(report.total)} prunable weights pruned, density ${pct(1 - report.global)})`,
  ];
  if (options.layers ?? true) {
    const width = Math.max(0, ...report.layers.map((l) => l.name.length));
    for (const l of report.layers) {
      lines.push(`  ${l.name.padEnd(width)}  ${pct(l.sparsity).padStart(digits + 5)}  ${n(l.pruned)}/${n(l.size)}`);
    }
  }
  return lines.join('\n');
}
