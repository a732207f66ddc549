import { reportStyle } from '@unlearnjs/eval-mia';
import type { GridResults } from './grid-results-schema.js';
import { renderSpreadChart } from './render-spread-chart.js';
import {
  COLUMN_TITLES,
  GRID_COLUMNS,
  STATS_NOTE,
  escapeXml,
  formatStat,
  scenarioTitle,
  seedCount,
  sparsityTitle,
  statOf,
  tables,
} from './report-format.js';

const STYLE = reportStyle(80);

/**
 * The grid report as one self-contained HTML page: per model × scenario, the table of mean ±
 * std over seeds (as in results.md) and an inline SVG chart per column showing the spread
 * (each seed's value as a dot, the mean ± std as a bar and whisker, dense and sparse side by
 * side), then the failed cells.
 *
 * @param results - the grid's results (as {@link summarizeGrid} returns them)
 * @returns one HTML document with inline CSS and SVG, no external assets or scripts
 */
export function renderGridHtml(results: GridResults): string {
  const { spec, summary } = results;
  const sections = tables(results).map((t) => {
    const body = t.groups
      .map(
        (g) =>
          `<tr><td>${escapeXml(sparsityTitle(g.sparsity))}</td><th scope="row">${escapeXml(g.label)}</th><td class="num">${escapeXml(seedCount(g))}</td>${GRID_COLUMNS.map((c) => `<td class="num">${escapeXml(formatStat(statOf(g, c)))}</td>`).join('')}</tr>`,
      )
      .join('\n');
    const charts = GRID_COLUMNS.map(
      (c) => `<figure>\n${renderSpreadChart(results, t.groups, c)}\n<figcaption>${escapeXml(COLUMN_TITLES[c])}</figcaption>\n</figure>`,
    ).join('\n');
    return `<h2>${escapeXml(`${t.model}, ${scenarioTitle(t.scenario)}`)}</h2>
<table>
<thead><tr><th>Sparsity</th><th>Method</th><th>n</th>${GRID_COLUMNS.map((c) => `<th>${escapeXml(COLUMN_TITLES[c])}</th>`).join('')}</tr></thead>
<tbody>
${body}
</tbody>
</table>
<div class="charts">
${charts}
</div>`;
  });
  const failures =
    results.failures.length === 0
      ? ''
      : `<h2>Failures</h2>
<p>These cells failed; the rows that needed them are missing from the means above.</p>
<table>
<thead><tr><th>Cell</th><th>Code</th><th>Attempts</th><th>Message</th></tr></thead>
<tbody>
${results.failures.map((f) => `<tr><td><code>${escapeXml(f.id)}</code></td><td>${escapeXml(f.code)}</td><td class="num">${f.attempts}</td><td>${escapeXml(f.message)}</td></tr>`).join('\n')}
</tbody>
</table>`;
  const title = `Grid report: ${spec.name}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeXml(title)}</h1>
<p class="meta">${escapeXml(`Preset ${spec.preset}, seeds ${spec.seeds.join(', ')}; ${summary.rowsDone} of ${summary.rowCells} rows done, ${summary.failedCells} cell${summary.failedCells === 1 ? '' : 's'} failed. Created ${results.createdAt}.`)}</p>
<p class="meta">${escapeXml(STATS_NOTE)}</p>
${sections.join('\n')}
${failures}
</body>
</html>
`;
}
