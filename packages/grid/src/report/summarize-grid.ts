import { UnlearnError } from '@unlearnjs/core';
import { REPORT_METRICS, type ResultRow, gapToRetrain } from '@unlearnjs/eval-mia';
import { scenarioLabel } from '../spec/cell-ids.js';
import { expandGrid, rowCellLabel } from '../spec/expand-grid.js';
import type { GridSpec } from '../spec/grid-spec.js';
import type { CellFailure, GridRow, RowCell } from '../types.js';
import {
  GRID_RESULTS_SCHEMA_VERSION,
  type GridResultRow,
  type GridResults,
  type GridSummaryGroup,
  gridRowProblems,
  pathText,
  rowCoordinates,
  validateGridResults,
} from './grid-results-schema.js';
import { seedStat } from './seed-stats.js';

/** Options of {@link summarizeGrid}. */
export interface SummarizeGridOptions {
  /** The time to record. @defaultValue now */
  createdAt?: Date;
}

/**
 * Summarize a grid's rows as the paper's tables do: per (model, scenario, sparsity, method
 * label), the mean ± sample standard deviation over seeds of UA, MIA-efficacy, RA, TA, RTE and
 * the average gap to retrain.
 *
 * @remarks The gap to retrain is computed **per seed**, with eval-mia's `gapToRetrain` on that
 * seed's rows of the same model, scenario and sparsity (each method against the retrain run of
 * the same trial), and only then averaged over seeds; averaging the metrics first would compare
 * means, and hide how far each trial is from its own retrain. Standard deviations are sample
 * ones (denominator n − 1); with one seed there is none. Rows of failed cells are absent: each
 * group says which seeds it has (`seeds`, `n`) and which it misses.
 * @param spec - the grid
 * @param rows - the rows that finished, one per row cell at most
 * @param failures - the cells that failed
 * @param options - the time to record
 * @returns the results (`results.json`'s content): spec, per-seed rows with their coordinates,
 *   failures, and the summary
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when a row is not of a row cell of the spec,
 *   has other coordinates or another method than its cell, a cell has two rows, or a failure
 *   names no cell of the grid
 * @example
 * ```ts
 * const results = summarizeGrid(spec, rows, failures);
 * await writeGridReport(results, 'out/grid');
 * ```
 */
export function summarizeGrid(
  spec: GridSpec,
  rows: readonly GridRow[],
  failures: readonly CellFailure[],
  options: SummarizeGridOptions = {},
): GridResults {
  const problems = gridRowProblems(spec, rows, failures);
  if (problems.length > 0) {
    const text = problems
      .slice(0, 8)
      .map((p) => `${pathText(p.path)}: ${p.message}`)
      .join('; ');
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `Cannot summarize grid "${spec.name}": ${text}${problems.length > 8 ? `; and ${problems.length - 8} more` : ''}.`,
      {
        details: { issues: problems },
      },
    );
  }

  const rowCells = expandGrid(spec).filter((c): c is RowCell => c.kind === 'row');
  const byCell = new Map(rows.map((r) => [r.cell, r]));
  // In the grid's cell order, whatever order the rows arrived in: the same grid gives the same file.
  const ordered: GridResultRow[] = rowCells.flatMap((cell) => {
    const r = byCell.get(cell.id);
    return r ? [{ cell: r.cell, model: r.model, seed: r.seed, scenario: r.scenario, ...rowCoordinates(cell), row: r.row }] : [];
  });

  // Gap per seed: one gapToRetrain call per (model, seed, scenario, sparsity), i.e. per trial.
  const gapOf = new Map<string, number>();
  const trials = new Map<string, GridResultRow[]>();
  for (const r of ordered) {
    const key = `${r.model}|${r.seed}|${scenarioLabel(r.scenario)}|${r.sparsity}`;
    trials.set(key, [...(trials.get(key) ?? []), r]);
  }
  for (const trial of trials.values()) {
    // gapToRetrain pairs rows by their own sparsity, which is the measured one (e.g.
    // 0.9500012); the trial's rows all started from one model, so pair them by the cell's.
    const pinned: ResultRow[] = trial.map((r) => ({ ...r.row, sparsity: r.sparsity === 0 ? 'dense' : r.sparsity }));
    gapToRetrain(pinned).forEach((g, i) => {
      if (g.average !== null) gapOf.set(trial[i].cell, g.average);
    });
  }

  const groups: GridSummaryGroup[] = [];
  const groupOf = new Map<string, GridSummaryGroup>();
  const rowsOf = new Map<GridSummaryGroup, GridRow[]>();
  for (const cell of rowCells) {
    const label = rowCellLabel(cell);
    const key = `${cell.model}|${scenarioLabel(cell.scenario)}|${cell.sparsity}|${label}`;
    let group = groupOf.get(key);
    if (!group) {
      group = {
        model: cell.model,
        scenario: cell.scenario,
        scenarioLabel: scenarioLabel(cell.scenario),
        sparsity: cell.sparsity,
        label,
        method: cell.method,
        lora: cell.lora === true,
        seeds: [],
        missingSeeds: [],
        metrics: {} as GridSummaryGroup['metrics'],
        gapBySeed: [],
        gap: seedStat([]),
      };
      groupOf.set(key, group);
      groups.push(group);
      rowsOf.set(group, []);
    }
    const r = byCell.get(cell.id);
    if (!r) {
      group.missingSeeds.push(cell.seed);
      continue;
    }
    group.seeds.push(cell.seed);
    rowsOf.get(group)?.push(r);
    const gap = gapOf.get(cell.id);
    if (gap !== undefined) group.gapBySeed.push({ seed: cell.seed, gap });
  }
  for (const group of groups) {
    const seedRows = rowsOf.get(group) ?? [];
    for (const m of REPORT_METRICS) group.metrics[m] = seedStat(seedRows.map((r) => r.row.metrics[m]));
    group.gap = seedStat(group.gapBySeed.map((g) => g.gap));
  }

  const results = {
    schemaVersion: GRID_RESULTS_SCHEMA_VERSION,
    createdAt: (options.createdAt ?? new Date()).toISOString(),
    spec,
    rows: ordered,
    failures: [...failures],
    summary: { std: 'sample' as const, rowCells: rowCells.length, rowsDone: ordered.length, failedCells: failures.length, groups },
  };
  // Checked here, so that what is summarized can always be written and read back.
  return validateGridResults(results, `of grid "${spec.name}"`, 'UNLEARN_INVALID_OPTIONS');
}
