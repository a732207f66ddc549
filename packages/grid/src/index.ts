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
