/**
 * Experiment grids for unlearnjs: a spec of models × seeds × forgetting scenarios × sparsities
 * × methods expands to cells (one dense model per (model, seed), one pruned model per (dense,
 * sparsity), one unlearning row per (model, seed, scenario, sparsity, method)), which run on a
 * local process pool or on any number of machines through BullMQ + Redis, and end in a report
 * of mean ± std over seeds.
 * @packageDocumentation
 */
export type {
  ArtifactInfo,
  ArtifactStore,
  Cell,
  CellFailure,
  CellState,
  DenseCell,
  GridMethod,
  GridRow,
  PruneCell,
  RowCell,
  Scenario,
} from './types.js';
export {
  type GridCounts,
  type GridFlags,
  type GridSpec,
  type GridSpecData,
  type GridSpecMethod,
  type ParseGridSpecOptions,
  GRID_SPEC_MAX_BYTES,
  ORIGINAL_METHOD,
  cellArtifactKey,
  countGrid,
  describeGrid,
  expandGrid,
  gridSpecFromFlags,
  gridSpecSchema,
  parseGridSpec,
  readGridSpecFile,
  rowCellLabel,
  scenarioLabel,
  sparsityLabel,
} from './spec/index.js';
export {
  type ArtifactStoreOptions,
  type DirArtifactStoreOptions,
  type RedisArtifactStoreOptions,
  ARTIFACT_KEY_MAX_LENGTH,
  DEFAULT_ARTIFACT_CHUNK_BYTES,
  DEFAULT_ARTIFACT_MAX_BYTES,
  DEFAULT_ARTIFACT_READ_GRACE_MS,
  DEFAULT_ARTIFACT_UPLOAD_TTL_MS,
  getJson,
  openArtifactStore,
  openDirArtifactStore,
  openRedisArtifactStore,
  putJson,
  redactRedisUrl,
  validateArtifactKey,
} from './artifacts/index.js';
export {
  GRID_RESULTS_SCHEMA_VERSION,
  type GridReportFiles,
  type GridResultRow,
  type GridResults,
  type GridSummary,
  type GridSummaryGroup,
  type SeedStat,
  type SummarizeGridOptions,
  cellFailureSchema,
  gridResultRowSchema,
  gridResultsSchema,
  gridSummaryGroupSchema,
  gridSummarySchema,
  seedStatSchema,
  readGridResults,
  renderGridHtml,
  renderGridMarkdown,
  seedStat,
  summarizeGrid,
  writeGridReport,
} from './report/index.js';
export { CELL_ATTEMPTS, type CellExecutor, isPermanentFailure } from './runner/cell-executor.js';
export { type EmbeddedRunResult, type RunGridEmbeddedOptions, runGridEmbedded } from './runner/run-embedded.js';
export { REPORT_PREFIX, collectGridResults, fetchGridReport, publishGridReport } from './runner/collect-results.js';
export { GRID_QUEUE, checkQueue, connectQueue, gridJobId } from './queue/connection.js';
export { type GridJob, type GridJobPayload, JOB_PAYLOAD_VERSION, gridJobPayloadSchema, parseGridJob } from './queue/job-payload.js';
export { type GridWorkerOptions, startGridWorker } from './queue/grid-worker.js';
export { type CellStatus, type EnqueuedGrid, type GridStatus, enqueueGrid, enqueuedGridSpec, gridStatus } from './queue/enqueue-grid.js';
