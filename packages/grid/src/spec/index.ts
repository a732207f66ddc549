/**
 * The grid spec: schema and parser (files, presets, CLI flags), and its expansion to cells.
 * @module
 */
export { cellArtifactKey, scenarioLabel, sparsityLabel } from './cell-ids.js';
export { type GridCounts, countGrid, describeGrid, expandGrid, rowCellLabel } from './expand-grid.js';
export {
  type GridSpec,
  type GridSpecData,
  type GridSpecMethod,
  ORIGINAL_METHOD,
  type ParseGridSpecOptions,
  gridSpecSchema,
  parseGridSpec,
} from './grid-spec.js';
export { type GridFlags, gridSpecFromFlags } from './grid-spec-from-flags.js';
export { GRID_SPEC_MAX_BYTES, readGridSpecFile } from './read-grid-spec-file.js';
