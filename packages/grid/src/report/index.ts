/**
 * The grid report: mean ± std over seeds per (model, scenario, sparsity, method), the results
 * file and its schema, and the Markdown/HTML renderings.
 * @module
 */
export {
  GRID_RESULTS_SCHEMA_VERSION,
  type GridResultRow,
  type GridResults,
  type GridSummary,
  type GridSummaryGroup,
  cellFailureSchema,
  gridResultRowSchema,
  gridResultsSchema,
  gridSummaryGroupSchema,
  gridSummarySchema,
  readGridResults,
  seedStatSchema,
} from './grid-results-schema.js';
export { renderGridHtml } from './render-grid-html.js';
export { renderGridMarkdown } from './render-grid-markdown.js';
export { type SeedStat, seedStat } from './seed-stats.js';
export { type SummarizeGridOptions, summarizeGrid } from './summarize-grid.js';
export { type GridReportFiles, writeGridReport } from './write-grid-report.js';
