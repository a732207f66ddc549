import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isUnlearnError } from '@unlearnjs/core';
import type { ResultRow } from '@unlearnjs/eval-mia';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGridResults } from '../src/report/grid-results-schema.js';
import { seedStat } from '../src/report/seed-stats.js';
import { summarizeGrid } from '../src/report/summarize-grid.js';
import { writeGridReport } from '../src/report/write-grid-report.js';
import { expandGrid } from '../src/spec/expand-grid.js';
import { type GridSpec, parseGridSpec } from '../src/spec/grid-spec.js';
import type { CellFailure, GridRow, RowCell } from '../src/types.js';

type Metrics = { UA: number; 'MIA-efficacy': number; RA: number; TA: number; RTE: number };
const BASE_METRICS: Metrics = { UA: 10, 'MIA-efficacy': 20, RA: 90, TA: 85, RTE: 0.5 };

/** The row a runner would give `cell`, with the metrics `metricsOf` chooses for it. */
function rowOf(cell: RowCell, metrics: Partial<Metrics> = {}, measuredSparsity?: number): GridRow {
  const m = { ...BASE_METRICS, ...metrics };
  const row: ResultRow = {
    method: cell.method,
    sparsity: cell.sparsity === 0 ? 'dense' : (measuredSparsity ?? cell.sparsity),
    ...(cell.lora ? { lora: true } : {}),
    metrics: m,
    seconds: m.RTE * 60,
  };
  return { cell: cell.id, model: cell.model, seed: cell.seed, scenario: cell.scenario, row };
}

function rowCells(spec: GridSpec): RowCell[] {
  return expandGrid(spec).filter((c): c is RowCell => c.kind === 'row');
}

async function errorOf(fn: () => unknown): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  try {
    await fn();
  } catch (err) {
    if (!isUnlearnError(err)) throw err;
    return err as unknown as { code: string; message: string; details: Record<string, unknown> };
  }
  throw new Error('expected an UnlearnError, none was thrown');
}

describe('seedStat', () => {
  it('gives the mean and the sample std (n − 1)', () => {
    const s = seedStat([1, 2, 3, 4]);
    expect(s.n).toBe(4);
    expect(s.mean).toBe(2.5);
    // Σ(x − 2.5)² = 5, over n − 1 = 3.
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(s.std).toBeCloseTo(1.2909944487358056, 12);
  });

  it('gives no std for one value and no mean for none', () => {
    expect(seedStat([94.21])).toEqual({ n: 1, mean: 94.21, std: null });
    expect(seedStat([])).toEqual({ n: 0, mean: null, std: null });
  });

  it('keeps the digits of values that differ only in their decimals', () => {
    const s = seedStat([99.9999991, 99.9999992, 99.9999993]);
    expect(s.std).toBeCloseTo(1e-7, 12);
  });
});

describe('summarizeGrid', () => {
  const spec = parseGridSpec({ seeds: [1, 2, 3, 4], scenarios: ['class:0'], sparsities: [0, 0.95], methods: ['retrain', 'ft', 'ft+lora'] });

  it('gives mean ± sample std over seeds per (model, scenario, sparsity, method)', () => {
    const ua: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4 };
    const rows = rowCells(spec).map((c) =>
      rowOf(c, c.method === 'ft' && !c.lora && c.sparsity === 0 ? { UA: ua[c.seed], RTE: ua[c.seed] / 10 } : {}),
    );
    const results = summarizeGrid(spec, rows, []);
    const ft = results.summary.groups.find((g) => g.label === 'ft' && g.sparsity === 0);
    expect(ft).toMatchObject({
      model: 'resnet18',
      scenarioLabel: 'class0',
      method: 'ft',
      lora: false,
      seeds: [1, 2, 3, 4],
      missingSeeds: [],
    });
    expect(ft?.metrics.UA.mean).toBe(2.5);
    expect(ft?.metrics.UA.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(ft?.metrics.RTE.mean).toBeCloseTo(0.25, 12);
    expect(ft?.metrics.RA).toEqual({ n: 4, mean: 90, std: 0 });
    // One group per (sparsity, label), original included.
    expect(results.summary.groups.map((g) => `${g.sparsity}/${g.label}`)).toEqual([
      '0/original',
      '0/retrain',
      '0/ft',
      '0/ft+lora',
      '0.95/original',
      '0.95/retrain',
      '0.95/ft',
      '0.95/ft+lora',
    ]);
    expect(results.summary).toMatchObject({ std: 'sample', rowCells: 32, rowsDone: 32, failedCells: 0 });
  });

  it('computes the gap to retrain per seed, then averages it', () => {
    // Seed 1: retrain UA 0, ft UA 10; seed 2: retrain UA 10, ft UA 0. Per seed the UA gap is
    // 10 both times (average gap 10 / 4 = 2.5); averaging the metrics first would give 0.
    const two = parseGridSpec({ seeds: [1, 2], scenarios: ['class:0'], sparsities: [0], methods: ['retrain', 'ft'] });
    const uaOf = (c: RowCell) => (c.method === 'retrain' ? (c.seed === 1 ? 0 : 10) : c.method === 'ft' ? (c.seed === 1 ? 10 : 0) : 50);
    const results = summarizeGrid(
      two,
      rowCells(two).map((c) => rowOf(c, { UA: uaOf(c) })),
      [],
    );
    const ft = results.summary.groups.find((g) => g.label === 'ft');
    expect(ft?.metrics.UA.mean).toBe(5);
    expect(results.summary.groups.find((g) => g.label === 'retrain')?.metrics.UA.mean).toBe(5);
    expect(ft?.gapBySeed).toEqual([
      { seed: 1, gap: 2.5 },
      { seed: 2, gap: 2.5 },
    ]);
    expect(ft?.gap).toEqual({ n: 2, mean: 2.5, std: 0 });
    // retrain is its own reference.
    expect(results.summary.groups.find((g) => g.label === 'retrain')?.gap).toEqual({ n: 2, mean: 0, std: 0 });
  });

  it('pairs sparse rows with their retrain by the cell, whatever sparsity each row measured', () => {
    const one = parseGridSpec({ seeds: [1], scenarios: ['random:10'], sparsities: [0.95], methods: ['retrain', 'ga'] });
    const rows = rowCells(one).map((c) => rowOf(c, { TA: c.method === 'ga' ? 81 : 85 }, c.method === 'retrain' ? 0.9500012 : 0.9500031));
    const ga = summarizeGrid(one, rows, []).summary.groups.find((g) => g.label === 'ga');
    expect(ga?.gap).toEqual({ n: 1, mean: 1, std: null });
  });

  it('leaves out failed cells, counts the seeds each group has, and lists the failures', () => {
    const cells = rowCells(spec);
    const failedRow = cells.find((c) => c.seed === 2 && c.method === 'ft' && !c.lora && c.sparsity === 0) as RowCell;
    // Seed 3's pruned model failed, so none of its sparse rows ran.
    const failures: CellFailure[] = [
      { id: failedRow.id, code: 'UNLEARN_NON_FINITE_LOSS', message: 'loss became NaN | at step 3', attempts: 3 },
      { id: 'prune/resnet18/s3/p0.95', code: 'UNLEARN_WORKER_CRASHED', message: 'worker died', attempts: 2 },
    ];
    const rows = cells.filter((c) => c !== failedRow && !(c.seed === 3 && c.sparsity !== 0)).map((c) => rowOf(c));
    const results = summarizeGrid(spec, rows, failures);
    const ft = results.summary.groups.find((g) => g.label === 'ft' && g.sparsity === 0);
    expect(ft).toMatchObject({ seeds: [1, 3, 4], missingSeeds: [2] });
    expect(ft?.metrics.UA.n).toBe(3);
    const sparseFt = results.summary.groups.find((g) => g.label === 'ft' && g.sparsity === 0.95);
    expect(sparseFt).toMatchObject({ seeds: [1, 2, 4], missingSeeds: [3] });
    expect(results.failures).toEqual(failures);
    expect(results.summary).toMatchObject({ rowCells: 32, rowsDone: 32 - 1 - 4, failedCells: 2 });
    expect(results.rows.some((r) => r.cell === failedRow.id)).toBe(false);
  });

  it('gives no std with one seed', () => {
    const one = parseGridSpec({ seeds: [7], scenarios: ['class:0'], sparsities: [0], methods: ['retrain'] });
    const results = summarizeGrid(
      one,
      rowCells(one).map((c) => rowOf(c)),
      [],
    );
    for (const g of results.summary.groups) {
      expect(g.metrics.UA).toEqual({ n: 1, mean: 10, std: null });
      expect(g.gap.std).toBeNull();
    }
  });

  it('orders rows by cell whatever order they arrive in, and keeps their coordinates', () => {
    const rows = rowCells(spec).map((c) => rowOf(c));
    const a = summarizeGrid(spec, rows, [], { createdAt: new Date(0) });
    const b = summarizeGrid(spec, [...rows].reverse(), [], { createdAt: new Date(0) });
    expect(b).toEqual(a);
    expect(a.rows[0]).toMatchObject({ cell: 'row/resnet18/s1/class0/dense/original', sparsity: 0, label: 'original', seed: 1 });
    expect(a.rows.find((r) => r.cell.endsWith('/p0.95/ft+lora'))).toMatchObject({ sparsity: 0.95, label: 'ft+lora' });
  });

  it.each([
    [
      'a row of no cell of the grid',
      (rows: GridRow[]) => [...rows, { ...rows[0], cell: 'row/resnet18/s9/class0/dense/ft' }],
      'rows[32].cell',
    ],
    ['two rows of one cell', (rows: GridRow[]) => [...rows, rows[1]], 'duplicates rows[1]'],
    ['a row at other coordinates', (rows: GridRow[]) => [{ ...rows[0], seed: 2 }, ...rows.slice(1)], 'rows[0].seed'],
    [
      'a row of another method',
      (rows: GridRow[]) => [{ ...rows[1], row: { ...rows[1].row, method: 'ga' } }, rows[0], ...rows.slice(2)],
      'rows[0].row.method',
    ],
  ])('refuses %s', async (_what, change, text) => {
    const rows = change(rowCells(spec).map((c) => rowOf(c)));
    const err = await errorOf(() => summarizeGrid(spec, rows, []));
    expect(err.code).toBe('UNLEARN_INVALID_OPTIONS');
    expect(err.message).toContain(text);
  });

  it('refuses a failure of no cell of the grid, and a cell both failed and done', async () => {
    const rows = rowCells(spec).map((c) => rowOf(c));
    const unknown = await errorOf(() =>
      summarizeGrid(spec, rows, [{ id: 'dense/vit/s1', code: 'UNLEARN_ABORTED', message: '', attempts: 1 }]),
    );
    expect(unknown.message).toContain('dense/vit/s1');
    const both = await errorOf(() => summarizeGrid(spec, rows, [{ id: rows[0].cell, code: 'UNLEARN_ABORTED', message: '', attempts: 1 }]));
    expect(both.message).toContain('listed as failed');
  });
});

describe('writeGridReport and readGridResults', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'unlearnjs-grid-report-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const spec = parseGridSpec({
    name: 'tiny',
    models: ['resnet18'],
    seeds: [1, 2, 3],
    scenarios: ['class:0', 'random:450'],
    sparsities: [0, 0.95],
    methods: ['retrain', 'ft', 'ft+lora'],
  });
  const cells = rowCells(spec);
  const failedRow = cells.find((c) => c.seed === 3 && c.id.endsWith('/random450/p0.95/ft')) as RowCell;
  // Distinct values per seed, so that means and stds are not all zero.
  const rows = cells
    .filter((c) => c !== failedRow)
    .map((c) => rowOf(c, { UA: 90 + c.seed * 0.37 + (c.lora ? 1 : 0), TA: 80 + c.seed / 3 }));
  const failures: CellFailure[] = [{ id: failedRow.id, code: 'UNLEARN_NON_FINITE_LOSS', message: 'loss became NaN', attempts: 3 }];
  const results = summarizeGrid(spec, rows, failures);

  it('writes results.json, results.md and report.html, and reads results.json back', async () => {
    const out = path.join(dir, 'ok');
    const files = await writeGridReport(results, out);
    expect(files).toEqual({
      json: path.join(out, 'results.json'),
      markdown: path.join(out, 'results.md'),
      html: path.join(out, 'report.html'),
    });
    expect(await readGridResults(files.json)).toEqual(results);

    // Numbers exactly as computed in the JSON.
    const json = JSON.parse(await readFile(files.json, 'utf8'));
    const ft = results.summary.groups.find((g) => g.scenarioLabel === 'class0' && g.sparsity === 0 && g.label === 'ft');
    const ua = [1, 2, 3].map((s) => 90 + s * 0.37);
    expect(ft?.metrics.UA.mean).toBe(seedStat(ua).mean);
    expect(
      json.summary.groups.find(
        (g: { label: string; sparsity: number; scenarioLabel: string }) =>
          g.label === 'ft' && g.sparsity === 0 && g.scenarioLabel === 'class0',
      ).metrics.UA.std,
    ).toBe(seedStat(ua).std);
  });

  it('renders one Markdown table per model × scenario with mean ± std, n and the failures', async () => {
    const out = path.join(dir, 'md');
    const md = await readFile((await writeGridReport(results, out)).markdown, 'utf8');
    expect(md.match(/^\| Sparsity \| Method \| n \| UA \| MIA-efficacy \| RA \| TA \| RTE \(min\) \| Avg\. Gap \|$/gm)).toHaveLength(2);
    expect(md).toContain('## resnet18, class 0 (whole class)');
    expect(md).toContain('## resnet18, 450 random images');
    const ua = seedStat([1, 2, 3].map((s) => 90 + s * 0.37));
    const line = md.split('\n').find((l) => l.startsWith('| dense | ft | 3 |'));
    expect(line).toContain(`${ua.mean?.toFixed(2)} ± ${ua.std?.toFixed(2)}`);
    // The failed seed: n = 2 of 3.
    expect(md).toMatch(/^\| 95% sparse \| ft \| 2 of 3 \|/m);
    expect(md).toContain('sample standard deviation (denominator n − 1)');
    expect(md).toContain('## Failures');
    expect(md).toContain(failedRow.id);
    expect(md).toContain('UNLEARN_NON_FINITE_LOSS');
  });

  it('renders n = 1 without ±', async () => {
    const one = parseGridSpec({ seeds: [1], scenarios: ['class:0'], sparsities: [0], methods: ['retrain'] });
    const r = summarizeGrid(
      one,
      rowCells(one).map((c) => rowOf(c)),
      [],
    );
    const files = await writeGridReport(r, path.join(dir, 'one'));
    const md = await readFile(files.markdown, 'utf8');
    expect(md).toContain('| dense | retrain | 1 | 10.00 | 20.00 | 90.00 | 85.00 | 0.50 | 0.00 |');
    expect(md).not.toContain('## Failures');
    expect(await readFile(files.html, 'utf8')).not.toMatch(/<td class="num">[^<]*±/);
  });

  it('renders a self-contained HTML page with a spread chart per metric', async () => {
    const html = await readFile((await writeGridReport(results, path.join(dir, 'html'))).html, 'utf8');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toContain('<script');
    // 2 tables × 6 columns (UA, MIA-efficacy, RA, TA, RTE, Avg. Gap).
    expect(html.match(/<svg /g)).toHaveLength(12);
    // One dot per seed's value: UA dots = rows; gap dots = rows with a retrain row of the same seed.
    const charts = html.split('<svg ').slice(1);
    expect(charts[0].match(/<circle /g)).toHaveLength(rows.filter((r) => 'class' in r.scenario).length);
    expect(html).toContain('Failures');
    expect(html).toContain('± ');
  });

  it('refuses a corrupted results.json with UNLEARN_DATA_CORRUPT naming the file', async () => {
    const files = await writeGridReport(results, path.join(dir, 'corrupt'));
    const text = await readFile(files.json, 'utf8');

    await writeFile(files.json, text.slice(0, text.length / 2));
    const truncated = await errorOf(() => readGridResults(files.json));
    expect(truncated.code).toBe('UNLEARN_DATA_CORRUPT');
    expect(truncated.message).toContain(files.json);

    const json = JSON.parse(text);
    json.rows[0].row.metrics.UA = 'high';
    await writeFile(files.json, JSON.stringify(json));
    const wrongType = await errorOf(() => readGridResults(files.json));
    expect(wrongType.code).toBe('UNLEARN_DATA_CORRUPT');
    expect(wrongType.message).toContain(files.json);
    expect(wrongType.message).toContain('rows[0].row.metrics.UA');
    expect(wrongType.details.file).toBe(files.json);

    const stray = JSON.parse(text);
    stray.rows[1].cell = 'row/resnet18/s1/class0/dense/ga';
    await writeFile(files.json, JSON.stringify(stray));
    const strayErr = await errorOf(() => readGridResults(files.json));
    expect(strayErr.code).toBe('UNLEARN_DATA_CORRUPT');
    expect(strayErr.message).toContain('rows[1].cell');

    const newer = JSON.parse(text);
    newer.schemaVersion = 2;
    await writeFile(files.json, JSON.stringify(newer));
    expect((await errorOf(() => readGridResults(files.json))).message).toContain('schemaVersion 1');
  });

  it('names a missing results file', async () => {
    const err = await errorOf(() => readGridResults(path.join(dir, 'none', 'results.json')));
    expect(err.code).toBe('UNLEARN_DATA_MISSING');
    expect(err.message).toContain('none');
  });

  it('writes nothing for invalid results', async () => {
    const out = path.join(dir, 'invalid');
    const err = await errorOf(() => writeGridReport({ ...results, schemaVersion: 9 } as never, out));
    expect(err.code).toBe('UNLEARN_INVALID_OPTIONS');
    await expect(readFile(path.join(out, 'results.json'))).rejects.toThrow();
  });
});
