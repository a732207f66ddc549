import { GAP_METRICS } from './gap-to-retrain.js';
import { renderSvgChart } from './render-svg-chart.js';
import {
  METRIC_TITLES,
  REPORT_METRICS,
  describeForgetSet,
  escapeXml,
  fmt,
  hasRetrain,
  methodLines,
  sparsitiesOf,
  sparsityLabel,
} from './report-layout.js';
import { reportStyle } from './report-kit.js';
import type { Results } from './results-schema.js';

const STYLE = reportStyle(72);

/**
 * A self-contained HTML report: the results table (methods × metrics × sparsities), a bar chart
 * per metric (UA, MIA-Efficacy, RA, TA, RTE, inline SVG) and the gap-to-retrain table.
 *
 * @param results - validated results
 * @returns one HTML document with inline CSS and SVG, no external assets or scripts
 */
export function renderHtmlReport(results: Results): string {
  const sparsities = sparsitiesOf(results.rows);
  const lines = methodLines(results);
  const withGap = hasRetrain(results);
  const columns = [...REPORT_METRICS.map((m) => METRIC_TITLES[m]), ...(withGap ? ['Avg. gap'] : [])];
  const span = sparsities.length;

  const head =
    `<tr><th rowspan="2">Method</th>${columns.map((c) => `<th colspan="${span}">${escapeXml(c)}</th>`).join('')}</tr>\n` +
    `<tr>${columns.map(() => sparsities.map((s) => `<th>${escapeXml(sparsityLabel(s))}</th>`).join('')).join('')}</tr>`;
  const body = lines
    .map((line) => {
      const cells = REPORT_METRICS.flatMap((m) => sparsities.map((s) => fmt(line.bySparsity.get(s)?.metrics[m])));
      if (withGap) cells.push(...sparsities.map((s) => fmt(line.gapBySparsity.get(s)?.average)));
      return `<tr><th scope="row">${escapeXml(line.label)}</th>${cells.map((c) => `<td class="num">${c}</td>`).join('')}</tr>`;
    })
    .join('\n');

  const gapRows = lines.flatMap((line) =>
    [...line.gapBySparsity].flatMap(([s, g]) => {
      const gaps = g.gaps;
      if (!gaps) return [];
      return [
        `<tr><th scope="row">${escapeXml(line.label)}</th><td>${escapeXml(sparsityLabel(s))}</td>${GAP_METRICS.map((m) => `<td class="num">${fmt(gaps[m])}</td>`).join('')}<td class="num">${fmt(g.average)}</td></tr>`,
      ];
    }),
  );
  const gapSection = withGap
    ? `<h2>Gap to retrain</h2>
<p>Absolute difference to the <code>retrain</code> row of the same sparsity (lower is better).</p>
<table>
<thead><tr><th>Method</th><th>Sparsity</th>${GAP_METRICS.map((m) => `<th>Δ${escapeXml(METRIC_TITLES[m])}</th>`).join('')}<th>Avg. gap</th></tr></thead>
<tbody>
${gapRows.join('\n')}
</tbody>
</table>`
    : '';

  const charts = REPORT_METRICS.map(
    (m) => `<figure>\n${renderSvgChart(results, m).trim()}\n<figcaption>${escapeXml(METRIC_TITLES[m])}</figcaption>\n</figure>`,
  ).join('\n');
  const forget = describeForgetSet(results);

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Unlearning report: ${escapeXml(results.model.arch)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>Unlearning report: ${escapeXml(results.model.arch)}</h1>
<p class="meta">Model <code>${escapeXml(results.model.arch)}</code> ${escapeXml(JSON.stringify(results.model.config))}, pruned model sparsity ${Number((results.model.sparsity * 100).toFixed(1))}%; created ${escapeXml(results.createdAt)}.${escapeXml(forget)}</p>
<p class="meta">Metrics in percent except RTE (minutes). UA = 100 − accuracy on the forget set; MIA-Efficacy = share of the forget set the SVM attack calls non-member.</p>
<h2>Results</h2>
<table>
<thead>
${head}
</thead>
<tbody>
${body}
</tbody>
</table>
<h2>Charts</h2>
<div class="charts">
${charts}
</div>
${gapSection}
</body>
</html>
`;
}
