/**
 * The grid's shared vocabulary: what a grid spec expands to (cells and their dependencies),
 * what runs a cell, and where cells keep their artifacts. The spec parser (`spec/`), the
 * artifact stores (`artifacts/`), the runners (`embedded/`, `queue/`) and the report
 * (`report/`) all speak these types and nothing else of each other.
 */
import type { ResultRow } from '@unlearnjs/eval-mia';

/**
 * One forgetting scenario: a whole class (`{ class: c }`), `count` images of class c
 * (`{ class: c, count: n }`, the reference's `--class_to_replace c --num_indexes_to_replace n`),
 * or `count` images drawn at random from the whole train split (`{ random: n }`).
 */
export type Scenario = { class: number; count?: number } | { random: number };

/** A method of the grid: an unlearner id, its options, and whether it trains LoRA adapters. */
export interface GridMethod {
  /** Unlearner id (`retrain`, `ft`, `ga`, ...; `original` is added by the expansion). */
  method: string;
  /** The unlearner's options (checked against its schema by the runner before anything runs). */
  options?: Record<string, unknown>;
  /** Train LoRA adapters instead of the full model. @defaultValue false */
  lora?: boolean;
}

/** The cell that trains the dense model of one (model, seed). */
export interface DenseCell {
  kind: 'dense';
  /** Stable id, unique in the grid (also the artifact key prefix and the BullMQ job id). */
  id: string;
  model: string;
  seed: number;
  needs: readonly [];
}

/** The cell that prunes the dense model of one (model, seed) to one sparsity. */
export interface PruneCell {
  kind: 'prune';
  id: string;
  model: string;
  seed: number;
  /** Target sparsity in (0, 1). */
  sparsity: number;
  /** The dense cell's id. */
  needs: readonly [string];
}

/** The cell that unlearns one scenario with one method on one model and evaluates it: one row. */
export interface RowCell {
  kind: 'row';
  id: string;
  model: string;
  seed: number;
  scenario: Scenario;
  /** 0 for the dense model, else the target sparsity of the pruned model it starts from. */
  sparsity: number;
  /** `original` (no unlearning: the model as trained or pruned) or an unlearner id. */
  method: string;
  options?: Record<string, unknown>;
  lora?: boolean;
  /** The cell whose model this row starts from (dense or prune). */
  needs: readonly [string];
}

/** A unit of work of the grid. */
export type Cell = DenseCell | PruneCell | RowCell;

/** A cell's state, as the runners and `unlearn grid status` report it. */
export type CellState = 'waiting' | 'running' | 'done' | 'failed';

/** Where a cell failed, for the report and the status. */
export interface CellFailure {
  id: string;
  /** The UnlearnError code (`UNLEARN_…`), or `UNLEARN_UNKNOWN` for a plain error. */
  code: string;
  message: string;
  /** Attempts made before giving up. */
  attempts: number;
}

/** A row of the grid: a pipeline row plus the coordinates it belongs to. */
export interface GridRow {
  cell: string;
  model: string;
  seed: number;
  scenario: Scenario;
  row: ResultRow;
}

/** An artifact's identity: what a reader checks before trusting the bytes. */
export interface ArtifactInfo {
  key: string;
  /** Bytes. */
  size: number;
  /** Lowercase hex SHA-256 of the bytes. */
  sha256: string;
}

/**
 * Where cells put their checkpoints and rows so that every worker can read them. Keys are
 * `/`-separated relative paths (`models/resnet18/s1/dense.ckpt`), made by the expansion from
 * cell ids, so a key names one cell's output and is written by that cell only.
 */
export interface ArtifactStore {
  /** `dir` (a shared directory, e.g. an NFS mount) or `redis`. */
  readonly kind: 'dir' | 'redis';
  /** Where it is, for logs (never includes a password). */
  readonly location: string;
  /**
   * Store the local file `file` under `key`, atomically: a reader sees the old artifact, or
   * none, or the whole new one with its checksum, never a part.
   */
  put(key: string, file: string): Promise<ArtifactInfo>;
  /**
   * Copy the artifact `key` to the local file `file` (atomically), verifying its size and
   * SHA-256 first. @throws UnlearnError `UNLEARN_ARTIFACT_MISSING` when there is none,
   * `UNLEARN_ARTIFACT_CORRUPT` when its bytes do not match its checksum (nothing is written)
   */
  get(key: string, file: string): Promise<ArtifactInfo>;
  /** The artifact's recorded identity, or `undefined` when there is none (reads no content). */
  stat(key: string): Promise<ArtifactInfo | undefined>;
  /** Release connections. */
  close(): Promise<void>;
}
