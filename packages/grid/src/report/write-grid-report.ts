import * as path from 'node:path';
import { writeFileAtomic } from '@unlearnjs/core';
import { type GridResults, validateGridResults } from './grid-results-schema.js';
import { renderGridHtml } from './render-grid-html.js';
import { renderGridMarkdown } from './render-grid-markdown.js';

/** Paths of the files {@link writeGridReport} wrote. */
export interface GridReportFiles {
  /** `results.json`: spec, per-seed rows, failures and summary, every number as computed. */
  json: string;
  /** `results.md`: the mean ± std tables and the failures. */
  markdown: string;
  /** `report.html`: the tables and a spread chart per metric, self-contained. */
  html: string;
}

/**
 * Write a grid's report folder: `results.json`, `results.md` and `report.html`, each
 * atomically (a reader never sees half a file).
 *
 * @param results - the results of {@link summarizeGrid} (checked again here, so that nothing
 *   is written that {@link readGridResults} would refuse)
 * @param dir - the folder (created when missing)
 * @returns the paths written
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when the results are not valid (nothing is written)
 * @example
 * ```ts
 * const files = await writeGridReport(summarizeGrid(spec, rows, failures), 'out/grid');
 * console.log(`open ${files.html}`);
 * ```
 */
export async function writeGridReport(results: GridResults, dir: string): Promise<GridReportFiles> {
  const valid = validateGridResults(results, 'to write', 'UNLEARN_INVALID_OPTIONS');
  const files = { json: path.join(dir, 'results.json'), markdown: path.join(dir, 'results.md'), html: path.join(dir, 'report.html') };
  // Render everything before writing anything: a renderer's error leaves no partial report.
  const markdown = renderGridMarkdown(valid);
  const html = renderGridHtml(valid);
  await writeFileAtomic(files.json, `${JSON.stringify(valid, null, 2)}\n`);
  await writeFileAtomic(files.markdown, markdown);
  await writeFileAtomic(files.html, html);
  return files;
}
