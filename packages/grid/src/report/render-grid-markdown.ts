import type { GridResults } from './grid-results-schema.js';
import {
  COLUMN_TITLES,
  GRID_COLUMNS,
  STATS_NOTE,
  formatStat,
  scenarioTitle,
  seedCount,
  sparsityTitle,
  statOf,
  tables,
} from './report-format.js';

/** Markdown table text: a `|` would split the cell, a newline the row. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/**
 * The grid report as Markdown: one table per model × scenario, one line per sparsity × method,
 * columns UA, MIA-efficacy, RA, TA, RTE (min) and Avg. Gap as `mean ± std` over seeds (with n),
 * then the failed cells.
 *
 * @param results - the grid's results (as {@link summarizeGrid} returns them)
 * @returns Markdown text
 */
export function renderGridMarkdown(results: GridResults): string {
  const { spec, summary } = results;
  const out: string[] = [
    `# Grid "${spec.name}": mean ± std over ${spec.seeds.length} seed${spec.seeds.length === 1 ? '' : 's'}`,
    '',
    `Preset \`${spec.preset}\`, seeds ${spec.seeds.join(', ')}; ${summary.rowsDone} of ${summary.rowCells} rows done, ${summary.failedCells} cell${summary.failedCells === 1 ? '' : 's'} failed. Created ${results.createdAt}.`,
    '',
    STATS_NOTE,
  ];
  for (const t of tables(results)) {
    out.push('', `## ${t.model}, ${scenarioTitle(t.scenario)}`, '');
    out.push(`| Sparsity | Method | n | ${GRID_COLUMNS.map((c) => COLUMN_TITLES[c]).join(' | ')} |`);
    out.push(`|---|---|---:|${GRID_COLUMNS.map(() => '---:').join('|')}|`);
    for (const g of t.groups) {
      out.push(
        `| ${sparsityTitle(g.sparsity)} | ${cell(g.label)} | ${seedCount(g)} | ${GRID_COLUMNS.map((c) => formatStat(statOf(g, c))).join(' | ')} |`,
      );
    }
  }
  if (results.failures.length > 0) {
    out.push('', '## Failures', '', 'These cells failed; the rows that needed them are missing from the means above.', '');
    out.push('| Cell | Code | Attempts | Message |', '|---|---|---:|---|');
    for (const f of results.failures) out.push(`| \`${cell(f.id)}\` | ${cell(f.code)} | ${f.attempts} | ${cell(f.message)} |`);
  }
  return `${out.join('\n')}\n`;
}
