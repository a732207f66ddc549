import { readFile } from 'node:fs/promises';
import { UnlearnError } from '@unlearnjs/core';
import { REPORT_METRICS, resultRowSchema } from '@unlearnjs/eval-mia';
import { z } from 'zod';
import { scenarioLabel } from '../spec/cell-ids.js';
import { expandGrid, rowCellLabel } from '../spec/expand-grid.js';
import { type GridSpec, gridSpecSchema } from '../spec/grid-spec.js';
import type { CellFailure, GridRow, RowCell } from '../types.js';

/** The version of the grid results file format (`results.json`) this package writes and reads. */
export const GRID_RESULTS_SCHEMA_VERSION = 1;

const count = z.int().min(0);
const scenarioSchema = z.union([
  z.strictObject({ class: count, count: z.int().min(1).optional() }),
  z.strictObject({ random: z.int().min(1) }),
]);

/** Schema of a {@link SeedStat}. */
export const seedStatSchema = z.strictObject({ n: count, mean: z.number().nullable(), std: z.number().min(0).nullable() });

/** Schema of a failed cell ({@link CellFailure}). */
export const cellFailureSchema = z.strictObject({
  id: z.string().min(1),
  code: z.string().startsWith('UNLEARN_'),
  message: z.string(),
  attempts: count,
});

/** Schema of a per-seed row of `results.json`: a {@link GridRow} plus its sparsity and method label. */
export const gridResultRowSchema = z.strictObject({
  /** The row cell's id. */
  cell: z.string().min(1),
  model: z.string().min(1),
  seed: count,
  scenario: scenarioSchema,
  /** 0 (dense) or the target sparsity of the cell (the row's own `sparsity` is what was measured). */
  sparsity: z.number().min(0).lt(1),
  /** The method's label in the spec (`original`, `ft`, `ft+lora`, ...). */
  label: z.string().min(1),
  row: resultRowSchema,
});

/** Schema of one table line of the summary: one (model, scenario, sparsity, method label) over seeds. */
export const gridSummaryGroupSchema = z.strictObject({
  model: z.string().min(1),
  scenario: scenarioSchema,
  /** `class0`, `class0-n100`, `random450`. */
  scenarioLabel: z.string().min(1),
  sparsity: z.number().min(0).lt(1),
  /** The method's label (`original` for the model before unlearning). */
  label: z.string().min(1),
  method: z.string().min(1),
  lora: z.boolean(),
  /** Seeds whose row is in the results. */
  seeds: z.array(count),
  /** Seeds of the spec whose row is not (its cell, or one it needs, failed or never ran). */
  missingSeeds: z.array(count),
  /** Mean ± sample std over `seeds` of UA, MIA-efficacy, RA, TA (percent) and RTE (minutes). */
  metrics: z.strictObject(
    Object.fromEntries(REPORT_METRICS.map((m) => [m, seedStatSchema])) as Record<(typeof REPORT_METRICS)[number], typeof seedStatSchema>,
  ),
  /** Each seed's average gap to retrain (only seeds with a retrain row of the same model, scenario and sparsity). */
  gapBySeed: z.array(z.strictObject({ seed: count, gap: z.number().min(0) })),
  /** Mean ± sample std over seeds of `gapBySeed`. */
  gap: seedStatSchema,
});

/** Schema of a grid's summary. */
export const gridSummarySchema = z.strictObject({
  /** How the ± is computed: the sample standard deviation (denominator n − 1). */
  std: z.literal('sample'),
  /** Row cells of the grid. */
  rowCells: count,
  /** Row cells with a row. */
  rowsDone: count,
  /** Cells that failed (of any kind). */
  failedCells: count,
  groups: z.array(gridSummaryGroupSchema),
});

/** Schema of a grid results file (`results.json`). */
export const gridResultsSchema = z
  .strictObject({
    schemaVersion: z.literal(GRID_RESULTS_SCHEMA_VERSION),
    /** ISO 8601 time the results were summarized. */
    createdAt: z.iso.datetime({ offset: true }),
    spec: gridSpecSchema,
    /** Per-seed rows, in the grid's cell order. */
    rows: z.array(gridResultRowSchema),
    failures: z.array(cellFailureSchema),
    summary: gridSummarySchema,
  })
  .superRefine((r, ctx) => {
    for (const p of gridRowProblems(r.spec, r.rows, r.failures)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
  });

/** A per-seed row of a grid's results. */
export type GridResultRow = z.output<typeof gridResultRowSchema>;
/** One line of a grid summary: a (model, scenario, sparsity, method label) over seeds. */
export type GridSummaryGroup = z.output<typeof gridSummaryGroupSchema>;
/** A grid's summary: mean ± std per group, and how many cells finished. */
export type GridSummary = z.output<typeof gridSummarySchema>;
/** A grid's results, as `results.json` holds them. */
export type GridResults = z.output<typeof gridResultsSchema>;

/**
 * What is wrong with a grid's rows and failures against its spec: a row of a cell the grid
 * does not have, at other coordinates or of another method than its cell, a cell with two rows,
 * a failure of an unknown cell, or a cell both failed and done. One owner for the rules that
 * {@link summarizeGrid} and {@link readGridResults} both apply.
 * @internal
 */
export function gridRowProblems(
  spec: GridSpec,
  rows: readonly (GridRow & { sparsity?: number; label?: string })[],
  failures: readonly CellFailure[],
): { path: (string | number)[]; message: string }[] {
  const cells = new Map(expandGrid(spec).map((c) => [c.id, c]));
  const problems: { path: (string | number)[]; message: string }[] = [];
  const failed = new Map<string, number>();
  failures.forEach((f, i) => {
    if (!cells.has(f.id)) problems.push({ path: ['failures', i, 'id'], message: `"${f.id}" is not a cell of grid "${spec.name}"` });
    const j = failed.get(f.id);
    if (j !== undefined) problems.push({ path: ['failures', i, 'id'], message: `duplicates failures[${j}] ("${f.id}")` });
    else failed.set(f.id, i);
  });
  const seen = new Map<string, number>();
  rows.forEach((r, i) => {
    const cell = cells.get(r.cell);
    const at = (key: string, message: string): void => {
      problems.push({ path: ['rows', i, key], message });
    };
    if (cell?.kind !== 'row') {
      at('cell', `"${r.cell}" is not a row cell of grid "${spec.name}"`);
      return;
    }
    const j = seen.get(r.cell);
    if (j !== undefined) at('cell', `duplicates rows[${j}] (cell "${r.cell}"): a cell gives one row`);
    else seen.set(r.cell, i);
    if (failed.has(r.cell)) at('cell', `cell "${r.cell}" is listed as failed (failures[${failed.get(r.cell)}]) and has a row`);
    const expected = rowCoordinates(cell);
    if (r.model !== cell.model) at('model', `is "${r.model}", cell "${r.cell}" is of model "${cell.model}"`);
    if (r.seed !== cell.seed) at('seed', `is ${r.seed}, cell "${r.cell}" is of seed ${cell.seed}`);
    if (scenarioLabel(r.scenario) !== scenarioLabel(cell.scenario))
      at('scenario', `is ${scenarioLabel(r.scenario)}, cell "${r.cell}" is ${scenarioLabel(cell.scenario)}`);
    if (r.sparsity !== undefined && r.sparsity !== cell.sparsity)
      at('sparsity', `is ${r.sparsity}, cell "${r.cell}" is of sparsity ${cell.sparsity}`);
    if (r.label !== undefined && r.label !== expected.label)
      at('label', `is "${r.label}", cell "${r.cell}" is labelled "${expected.label}"`);
    if (r.row.method !== cell.method || (r.row.lora === true) !== (cell.lora === true)) {
      problems.push({
        path: ['rows', i, 'row', 'method'],
        message: `is "${r.row.method}"${r.row.lora ? ' with LoRA' : ''}, cell "${r.cell}" runs "${cell.method}"${cell.lora ? ' with LoRA' : ''}`,
      });
    }
  });
  return problems;
}

/** The coordinates a row cell adds to its row in `results.json`. @internal */
export function rowCoordinates(cell: RowCell): { sparsity: number; label: string } {
  return { sparsity: cell.sparsity, label: rowCellLabel(cell) };
}

/**
 * Check parsed grid results and return them typed.
 *
 * @param json - the parsed `results.json`
 * @param where - what the results are, for the message (a file name)
 * @param code - the error code to throw
 * @returns the results
 * @internal
 */
export function validateGridResults(json: unknown, where: string, code: 'UNLEARN_INVALID_OPTIONS' | 'UNLEARN_DATA_CORRUPT'): GridResults {
  const parsed = gridResultsSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: pathText(i.path), message: i.message }));
  const version = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
  const hint =
    version !== undefined && version !== GRID_RESULTS_SCHEMA_VERSION
      ? ` This package reads schemaVersion ${GRID_RESULTS_SCHEMA_VERSION}; the file has ${JSON.stringify(version)}: use the matching @unlearnjs/grid version.`
      : '';
  throw new UnlearnError(
    code,
    `Invalid grid results ${where}: ${issues
      .slice(0, 8)
      .map((i) => `${i.path}: ${i.message}`)
      .join('; ')}${issues.length > 8 ? `; and ${issues.length - 8} more` : ''}.${hint}`,
    { details: { issues } },
  );
}

/** `['rows', 0, 'row', 'UA']` → `rows[0].row.UA`. @internal */
export function pathText(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

/**
 * Read and validate a grid results file.
 *
 * @param file - path of a grid's `results.json`
 * @returns the validated results
 * @throws UnlearnError `UNLEARN_DATA_MISSING` when the file cannot be read;
 *   `UNLEARN_DATA_CORRUPT` naming the file and the wrong fields (in `details.issues`) when it
 *   is not JSON, not a grid results file, or its rows do not match its spec
 * @example
 * ```ts
 * const results = await readGridResults('out/grid/results.json');
 * for (const g of results.summary.groups) console.log(g.label, g.metrics.UA.mean);
 * ```
 */
export async function readGridResults(file: string): Promise<GridResults> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new UnlearnError('UNLEARN_DATA_MISSING', `Cannot read grid results file ${file}; check the path.`, { cause, details: { file } });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new UnlearnError('UNLEARN_DATA_CORRUPT', `Grid results file ${file} is not valid JSON; run the grid's report again.`, {
      cause,
      details: { file },
    });
  }
  try {
    return validateGridResults(json, `file ${file}`, 'UNLEARN_DATA_CORRUPT');
  } catch (err) {
    const e = err as UnlearnError;
    throw new UnlearnError('UNLEARN_DATA_CORRUPT', `${e.message} Run the grid's report again.`, { details: { ...e.details, file } });
  }
}
