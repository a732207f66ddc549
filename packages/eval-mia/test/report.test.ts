import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type ResultRow,
  type Results,
  gapToRetrain,
  readResults,
  renderHtmlReport,
  renderMarkdownReport,
  renderMarkdownTable,
  renderSvgChart,
  resultRow,
  validateResults,
  writeReport,
} from '@unlearnjs/eval-mia';
import { isWellFormedXml } from './helpers.js';

function row(
  method: string,
  sparsity: ResultRow['sparsity'],
  m: [number, number, number, number],
  seconds: number,
  lora?: boolean,
): ResultRow {
  const [UA, mia, RA, TA] = m;
  return { method, sparsity, ...(lora ? { lora } : {}), metrics: { UA, 'MIA-efficacy': mia, RA, TA, RTE: seconds / 60 }, seconds };
}

const WEIRD = `x<&"y'>`;
const results: Results = {
  schemaVersion: 1,
  createdAt: '2024-05-01T12:00:00.000Z',
  model: { arch: 'resnet18', config: { width: 16 }, sparsity: 0.95 },
  forget: { classToForget: -1, size: 4500, seed: 1 },
  retain: { size: 40500, evaluated: 40500 },
  rows: [
    row('ft', 'dense', [1, 3, 99.5, 93], 120),
    row('retrain', 'dense', [5, 12, 100, 94], 3000),
    row('retrain', 0.95, [6, 14, 99, 91], 2900),
    row('ft', 0.95, [4, 10, 98, 90], 110),
    row('ft', 'dense', [2, 5, 97, 92], 60, true),
    row('ga', 0.5, [0.5, 1.5, 99.1, 93.3], 30),
    row(WEIRD, 'dense', [10, 20, 90, 80], 6),
  ],
};

describe('gapToRetrain', () => {
  it('is the absolute difference to the retrain row of the same sparsity, and its mean', () => {
    const g = gapToRetrain(results.rows);
    expect(g).toHaveLength(results.rows.length);
    expect(g[0].gaps).toEqual({ UA: 4, 'MIA-efficacy': 9, RA: 0.5, TA: 1 });
    expect(g[0].average).toBeCloseTo((4 + 9 + 0.5 + 1) / 4, 12);
    expect(g[1].gaps).toEqual({ UA: 0, 'MIA-efficacy': 0, RA: 0, TA: 0 });
    expect(g[3].gaps).toEqual({ UA: 2, 'MIA-efficacy': 4, RA: 1, TA: 1 });
    expect(g[3].average).toBe(2);
    expect(g[4]).toMatchObject({ lora: true, gaps: { UA: 3, 'MIA-efficacy': 7, RA: 3, TA: 2 }, average: 3.75 });
    // No retrain row at 50% sparsity.
    expect(g[5]).toMatchObject({ sparsity: 0.5, gaps: null, average: null });
  });
});

describe('validateResults', () => {
  it('accepts a good file and returns it', () => {
    expect(validateResults(results)).toEqual(results);
    expect(validateResults(JSON.stringify(results))).toEqual(results);
  });

  const bad: [string, (r: Record<string, unknown> & Results) => unknown, RegExp][] = [
    [
      'a missing metric',
      (r) => ({ ...r, rows: [{ ...r.rows[0], metrics: { ...r.rows[0].metrics, UA: undefined } }] }),
      /rows\.0\.metrics\.UA/,
    ],
    ['another schema version', (r) => ({ ...r, schemaVersion: 2 }), /schemaVersion 1/],
    ['a sparsity above 1', (r) => ({ ...r, rows: [{ ...r.rows[0], sparsity: 95 }] }), /rows\.0\.sparsity/],
    ['RTE in seconds', (r) => ({ ...r, rows: [{ ...r.rows[0], metrics: { ...r.rows[0].metrics, RTE: 120 } }] }), /RTE/],
    ['duplicate rows', (r) => ({ ...r, rows: [r.rows[0], r.rows[0]] }), /duplicates rows\[0\]/],
    ['an unknown key', (r) => ({ ...r, extra: true }), /extra/],
    ['no rows', (r) => ({ ...r, rows: [] }), /rows/],
    ['a bad date', (r) => ({ ...r, createdAt: 'yesterday' }), /createdAt/],
    ['not an object', () => 42, /root/],
  ];
  for (const [what, mutate, message] of bad) {
    it(`rejects ${what} with UNLEARN_INVALID_OPTIONS`, () => {
      expect(() => validateResults(mutate(structuredClone(results) as never))).toThrow(
        expect.objectContaining({ code: 'UNLEARN_INVALID_OPTIONS', message: expect.stringMatching(message) }),
      );
    });
  }

  it('rejects text that is not JSON', () => {
    expect(() => validateResults('{ nope')).toThrow(expect.objectContaining({ code: 'UNLEARN_INVALID_OPTIONS' }));
  });
});

describe('resultRow', () => {
  it('merges evaluator metrics and turns the report seconds into RTE minutes', () => {
    const r = resultRow({
      method: 'ga',
      sparsity: 0.95,
      report: { seconds: 90 },
      evaluations: [
        { evaluator: 'accuracy', metrics: { UA: 3, RA: 99, TA: 93, 'TA-all': 93 } },
        { evaluator: 'svc-mia', metrics: { 'MIA-efficacy': 4, 'MIA-privacy': 55 } },
      ],
    });
    expect(r.metrics).toMatchObject({ UA: 3, RA: 99, TA: 93, 'MIA-efficacy': 4, RTE: 1.5, 'MIA-privacy': 55 });
    expect(r.seconds).toBe(90);
    expect(() => resultRow({ method: 'ga', sparsity: 'dense', report: { seconds: 1 }, evaluations: [] })).toThrow(
      expect.objectContaining({ code: 'UNLEARN_INVALID_OPTIONS' }),
    );
  });
});

describe('renderers', () => {
  it('renderMarkdownTable lays out dense | sparse per metric, retrain first, with the average gap', () => {
    const md = renderMarkdownTable(results);
    const lines = md.trim().split('\n');
    expect(lines[0]).toContain('UA (dense \\| 50% sparse \\| 95% sparse)');
    expect(lines[0]).toContain('Avg. gap');
    expect(lines[2].startsWith('| retrain |')).toBe(true);
    const ft = lines.find((l) => l.startsWith('| ft |')) as string;
    // UA: dense 1, 50% none, 95% 4; RTE: 2 min dense, 110 s = 1.83 min sparse; gap: 3.625 dense, 2 sparse.
    expect(ft).toContain('| 1.00 \\| – \\| 4.00 |');
    expect(ft).toContain('| 2.00 \\| – \\| 1.83 |');
    expect(ft).toContain('| 3.63 \\| – \\| 2.00 |');
    expect(md).toContain('| ft + LoRA |');
    expect(md).toContain('x<&"y\'>'); // Markdown keeps text; only pipes need escaping
    expect(lines).toHaveLength(2 + 5);
    const noRetrain = renderMarkdownTable({ ...results, rows: results.rows.filter((r) => r.method !== 'retrain') });
    expect(noRetrain).not.toContain('Avg. gap');
  });

  it('renderSvgChart draws a well-formed SVG with a bar per value and every method', () => {
    for (const metric of ['UA', 'MIA-efficacy', 'RA', 'TA', 'RTE']) {
      const svg = renderSvgChart(results, metric);
      expect(isWellFormedXml(svg)).toBe(true);
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      for (const m of ['retrain', 'ft', 'ft + LoRA', 'ga', 'x&lt;&amp;&quot;y&#39;&gt;']) expect(svg).toContain(`>${m}</text>`);
      // One bar per row (each with a <title> tooltip), plus legend swatches and the background.
      expect((svg.match(/<rect [^>]*><title>/g) ?? []).length).toBe(results.rows.length);
      expect(svg).not.toContain(WEIRD);
    }
  });

  it('renderHtmlReport is one self-contained page with the table, five charts and the gap table', () => {
    const html = renderHtmlReport(results);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(isWellFormedXml(html.replace(/<meta [^>]*>/g, ''))).toBe(true);
    expect((html.match(/<svg /g) ?? []).length).toBe(5);
    expect(html).toContain('Gap to retrain');
    expect(html).not.toMatch(/<script|<link|src=|href=/);
    for (const m of ['retrain', 'ft', 'ft + LoRA', 'ga', 'x&lt;&amp;&quot;y&#39;&gt;']) expect(html).toContain(`>${m}</th>`);
    expect(html).not.toContain(WEIRD);
  });
});

describe('the held-out set in the reports', () => {
  it('names the test set TA and the MIA used, in Markdown and HTML, and validates it', () => {
    const classWise = validateResults({
      ...results,
      forget: { classToForget: 0, size: 270, seed: 1, heldOut: 'the test set without class 0 (900 images)' },
    });
    const line = "TA and the MIA's non-members: the test set without class 0 (900 images).";
    expect(renderMarkdownReport(classWise)).toContain(`Forget set: 270 images, class 0. ${line}`);
    expect(renderHtmlReport(classWise)).toContain(line.replace("'", '&#39;'));
    expect(() => validateResults({ ...results, forget: { ...results.forget, heldOut: '' } })).toThrow();
  });
});

describe('writeReport', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('writes results.json, results.md, the charts and report.html, and the report rebuilds from the saved file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eval-mia-'));
    dirs.push(dir);
    const paths = await writeReport(results, dir);
    expect((await readdir(dir)).sort()).toEqual(
      [
        'chart-mia-efficacy.svg',
        'chart-ra.svg',
        'chart-rte.svg',
        'chart-ta.svg',
        'chart-ua.svg',
        'report.html',
        'results.json',
        'results.md',
      ].sort(),
    );
    const saved = await readResults(paths.json);
    expect(saved).toEqual(results);
    expect(renderHtmlReport(saved)).toBe(await readFile(paths.html, 'utf8'));
    expect(await readFile(paths.charts.UA, 'utf8')).toBe(renderSvgChart(saved, 'UA'));
    const md = await readFile(paths.markdown, 'utf8');
    expect(md).toContain(renderMarkdownTable(saved));
    expect(md).toContain('## Gap to retrain');
  });

  it('writes nothing for wrong results', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eval-mia-'));
    dirs.push(dir);
    await expect(writeReport({ ...results, schemaVersion: 2 } as never, dir)).rejects.toMatchObject({ code: 'UNLEARN_INVALID_OPTIONS' });
    expect(await readdir(dir)).toEqual([]);
    await expect(readResults(join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'UNLEARN_DATA_MISSING' });
  });
});
