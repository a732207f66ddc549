export { escapeXml } from '@unlearnjs/eval-mia';
import { REPORT_METRICS } from '@unlearnjs/eval-mia';
import type { Scenario } from '../types.js';
import type { GridResults, GridSummaryGroup } from './grid-results-schema.js';
import type { SeedStat } from './seed-stats.js';

/** The table columns: eval-mia's report metrics, then the average gap to retrain. @internal */
export const GRID_COLUMNS = [...REPORT_METRICS, 'gap'] as const;
/** One of {@link GRID_COLUMNS}. @internal */
export type GridColumn = (typeof GRID_COLUMNS)[number];

/** Column headings, as the paper's tables name them. @internal */
export const COLUMN_TITLES: Record<GridColumn, string> = {
  UA: 'UA',
  'MIA-efficacy': 'MIA-efficacy',
  RA: 'RA',
  TA: 'TA',
  RTE: 'RTE (min)',
  gap: 'Avg. Gap',
};

/** A group's statistic for a column. @internal */
export function statOf(group: GridSummaryGroup, column: GridColumn): SeedStat {
  return column === 'gap' ? group.gap : group.metrics[column];
}

/** Each seed's value of a column in a group (for the charts' dots). @internal */
export function seedValues(results: GridResults, group: GridSummaryGroup, column: GridColumn): { seed: number; value: number }[] {
  if (column === 'gap') return group.gapBySeed.map((g) => ({ seed: g.seed, value: g.gap }));
  return results.rows
    .filter(
      (r) =>
        r.model === group.model && r.sparsity === group.sparsity && r.label === group.label && sameScenario(r.scenario, group.scenario),
    )
    .map((r) => ({ seed: r.seed, value: r.row.metrics[column] }));
}

function sameScenario(a: Scenario, b: Scenario): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * `94.21 ± 0.83`; `94.21` when there is no std (one seed); `—` when there is no value. Two
 * decimals for people: the JSON keeps every digit. @internal
 */
export function formatStat(stat: SeedStat): string {
  if (stat.mean === null) return '—';
  return stat.std === null ? stat.mean.toFixed(2) : `${stat.mean.toFixed(2)} ± ${stat.std.toFixed(2)}`;
}

/** `dense` or `95% sparse`. @internal */
export function sparsityTitle(sparsity: number): string {
  return sparsity === 0 ? 'dense' : `${Number((sparsity * 100).toPrecision(6))}% sparse`;
}

/** `class 0 (whole class)`, `100 images of class 0`, `450 random images`. @internal */
export function scenarioTitle(s: Scenario): string {
  if ('random' in s) return `${s.random} random images`;
  return s.count === undefined ? `class ${s.class} (whole class)` : `${s.count} images of class ${s.class}`;
}

/** `n` of a group: `3`, or `2 of 3` when seeds are missing. @internal */
export function seedCount(group: GridSummaryGroup): string {
  const total = group.seeds.length + group.missingSeeds.length;
  return group.missingSeeds.length === 0 ? String(total) : `${group.seeds.length} of ${total}`;
}

/** The groups of one table (model × scenario), in the spec's order. @internal */
export function tables(results: GridResults): { model: string; scenario: Scenario; scenarioLabel: string; groups: GridSummaryGroup[] }[] {
  const out = new Map<string, { model: string; scenario: Scenario; scenarioLabel: string; groups: GridSummaryGroup[] }>();
  for (const g of results.summary.groups) {
    const key = `${g.model}|${g.scenarioLabel}`;
    let t = out.get(key);
    if (!t) out.set(key, (t = { model: g.model, scenario: g.scenario, scenarioLabel: g.scenarioLabel, groups: [] }));
    t.groups.push(g);
  }
  return [...out.values()];
}

/** The sentence both reports give on what the numbers are. @internal */
export const STATS_NOTE =
  'Each cell is the mean ± sample standard deviation (denominator n − 1) over the n seeds whose cell finished; with n = 1 there is no ±. ' +
  'Metrics in percent, RTE in minutes. Avg. Gap: the mean of |method − retrain| over UA, MIA-efficacy, RA and TA, computed per seed against ' +
  "that seed's retrain row (same model, scenario and sparsity), then averaged over seeds (lower is better).";
