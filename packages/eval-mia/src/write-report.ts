import { writeFileAtomic } from '@unlearnjs/core';
import { renderHtmlReport } from './render-html-report.js';
import { renderMarkdownReport } from './render-markdown-table.js';
import { renderSvgChart } from './render-svg-chart.js';
import { REPORT_METRICS } from './report-layout.js';
import { type Results, validateResults } from './results-schema.js';

/** Paths of the files {@link writeReport} wrote. */
export interface WrittenReport {
  /** `results.json` */
  json: string;
  /** `results.md` */
  markdown: string;
  /** One chart per metric: `chart-ua.svg`, `chart-mia-efficacy.svg`, `chart-ra.svg`, `chart-ta.svg`, `chart-rte.svg`. */
  charts: Record<string, string>;
  /** `report.html` */
  html: string;
}

/**
 * Write a results folder: `results.json`, `results.md`, one SVG chart per metric and
 * `report.html`. Each file is written atomically (temporary file, then rename), so a reader
 * never sees half a file.
 *
 * @param results - the results (validated here first)
 * @param dir - output folder (created when missing)
 * @returns the paths written
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when the results are wrong (nothing is written)
 *
 * @example
 * ```ts
 * const paths = await writeReport(results, 'out/report');
 * console.log(`open ${paths.html}`);
 * ```
 */
export async function writeReport(results: Results, dir: string): Promise<WrittenReport> {
  const valid = validateResults(results);
  const { join } = await import('node:path');
  const json = join(dir, 'results.json');
  const markdown = join(dir, 'results.md');
  const html = join(dir, 'report.html');
  const charts: Record<string, string> = {};
  await writeFileAtomic(json, `${JSON.stringify(valid, null, 2)}\n`);
  await writeFileAtomic(markdown, renderMarkdownReport(valid));
  for (const m of REPORT_METRICS) {
    charts[m] = join(dir, `chart-${m.toLowerCase()}.svg`);
    await writeFileAtomic(charts[m], renderSvgChart(valid, m));
  }
  await writeFileAtomic(html, renderHtmlReport(valid));
  return { json, markdown, charts, html };
}
