import { GAP_METRICS } from './gap-to-retrain.js';
import {
  METRIC_TITLES,
  REPORT_METRICS,
  describeForgetSet,
  fmt,
  hasRetrain,
  methodLines,
  sparsitiesOf,
  sparsityLabel,
} from './report-layout.js';
import type { Results } from './results-schema.js';

// A `|` inside a GFM table cell must be escaped, or it starts a new cell.
const SEP = ' \\| ';

/** Markdown-safe cell text: escape pipes and drop line breaks. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/[\r\n]+/g, ' ');
}

/**
 * The paper's results table as GitHub-flavoured Markdown.
 *
 * @param results - validated results
 * @returns a Markdown table: one row per method (LoRA variants separate, `retrain` first),
 *   columns UA, MIA-Efficacy, RA, TA, RTE (minutes), each cell holding the values per sparsity
 *   as `dense | sparse` (e.g. `12.30 \| 15.10`, pipes escaped), plus an average gap-to-retrain
 *   column when a `retrain` row exists; `–` marks a missing value
 */
export function renderMarkdownTable(results: Results): string {
  const sparsities = sparsitiesOf(results.rows);
  const lines = methodLines(results);
  const sub = sparsities.map(sparsityLabel).join(SEP);
  const columns = [...REPORT_METRICS.map((m) => METRIC_TITLES[m]), ...(hasRetrain(results) ? ['Avg. gap'] : [])];
  const out = [`| Method | ${columns.map((c) => `${c} (${sub})`).join(' | ')} |`, `|:--|${columns.map(() => '--:').join('|')}|`];
  for (const line of lines) {
    const cells = REPORT_METRICS.map((m) => sparsities.map((s) => fmt(line.bySparsity.get(s)?.metrics[m])).join(SEP));
    if (hasRetrain(results)) cells.push(sparsities.map((s) => fmt(line.gapBySparsity.get(s)?.average)).join(SEP));
    out.push(`| ${cell(line.label)} | ${cells.join(' | ')} |`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * The gap-to-retrain table as Markdown: one row per result row that has a `retrain` row of the
 * same sparsity, with |Δ| on UA, MIA-Efficacy, RA, TA and their average.
 *
 * @param results - validated results
 * @returns a Markdown table, or an empty string when there is no `retrain` row
 */
export function renderGapMarkdownTable(results: Results): string {
  if (!hasRetrain(results)) return '';
  const out = [
    `| Method | Sparsity | ${GAP_METRICS.map((m) => `Δ${METRIC_TITLES[m]}`).join(' | ')} | Avg. gap |`,
    `|:--|:--|${GAP_METRICS.map(() => '--:').join('|')}|--:|`,
  ];
  for (const line of methodLines(results)) {
    for (const [s, g] of line.gapBySparsity) {
      if (!g.gaps) continue;
      const gaps = g.gaps;
      out.push(`| ${cell(line.label)} | ${sparsityLabel(s)} | ${GAP_METRICS.map((m) => fmt(gaps[m])).join(' | ')} | ${fmt(g.average)} |`);
    }
  }
  return `${out.join('\n')}\n`;
}

/**
 * A whole Markdown report: a heading with the model, the results table and the gap-to-retrain
 * table (what {@link writeReport} saves as `results.md`).
 *
 * @param results - validated results
 * @returns Markdown text
 */
export function renderMarkdownReport(results: Results): string {
  const gap = renderGapMarkdownTable(results);
  return [
    `# Unlearning results: ${cell(results.model.arch)}`,
    '',
    `Model \`${results.model.arch}\` ${JSON.stringify(results.model.config)}, pruned model sparsity ${Number((results.model.sparsity * 100).toFixed(1))}%; created ${results.createdAt}.` +
      describeForgetSet(results),
    '',
    'All metrics in percent except RTE (minutes). UA = 100 − accuracy on the forget set; MIA-Efficacy = share of the forget set the SVM attack calls non-member.',
    '',
    renderMarkdownTable(results),
    ...(gap ? ['## Gap to retrain', '', gap] : []),
  ].join('\n');
}
