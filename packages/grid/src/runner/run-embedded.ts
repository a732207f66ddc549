import type { Cell, CellFailure, CellState } from '../types.js';
import { CELL_ATTEMPTS, type CellExecutor, cellFailure, isPermanentFailure } from './cell-executor.js';

/** Options of {@link runGridEmbedded}. */
export interface RunGridEmbeddedOptions {
  /** The grid's cells, in dependency order (as `expandGrid` returns them). */
  cells: readonly Cell[];
  /** Runs one cell (the CLI's starts an `unlearn cell` process). */
  execute: CellExecutor;
  /** Whether a cell's artifact is already in the store (resume): such cells are not run again. */
  isDone: (cell: Cell) => Promise<boolean>;
  /** Cells run at once. @defaultValue 1 */
  jobs?: number;
  /** Attempts per cell before it is marked failed (a permanent error fails at once). @defaultValue {@link CELL_ATTEMPTS}, as on the queue */
  attempts?: number;
  /** Called on every state change. */
  onState?: (cell: Cell, state: CellState, failure?: CellFailure) => void;
  /** Stops scheduling; running cells get the signal. */
  signal?: AbortSignal;
}

/** What {@link runGridEmbedded} returns. */
export interface EmbeddedRunResult {
  /** Cells that ran (or had run before) to completion. */
  done: string[];
  /** Cells that failed, and the cells that could not run because a cell they need failed. */
  failures: CellFailure[];
}

/**
 * The embedded runner: a local pool that runs a grid's cells as soon as the cells they need are
 * done, at most `jobs` at a time. A failed cell does not stop the grid: the cells that need it
 * are marked failed (`UNLEARN_DEPENDENCY_FAILED` in their record, naming the cell), the rest
 * goes on. Cells already done (their artifact is in the store) are skipped, so a re-run resumes.
 *
 * @param options - cells, executor, pool size
 * @returns the done and failed cells
 */
export async function runGridEmbedded(options: RunGridEmbeddedOptions): Promise<EmbeddedRunResult> {
  const { cells, execute, isDone, onState, signal } = options;
  const jobs = Math.max(1, options.jobs ?? 1);
  const attempts = Math.max(1, options.attempts ?? CELL_ATTEMPTS);
  const state = new Map<string, CellState>();
  const failures: CellFailure[] = [];
  const done: string[] = [];
  for (const c of cells) {
    if (await isDone(c)) {
      state.set(c.id, 'done');
      done.push(c.id);
    } else state.set(c.id, 'waiting');
  }
  const running = new Set<Promise<void>>();
  const fail = (cell: Cell, failure: CellFailure) => {
    state.set(cell.id, 'failed');
    failures.push(failure);
    onState?.(cell, 'failed', failure);
  };
  const runOne = async (cell: Cell) => {
    for (let attempt = 1; ; attempt++) {
      try {
        await execute(cell, { signal });
        state.set(cell.id, 'done');
        done.push(cell.id);
        onState?.(cell, 'done');
        return;
      } catch (err) {
        if (signal?.aborted || attempt >= attempts || isPermanentFailure(err)) {
          fail(cell, cellFailure(cell.id, err, attempt));
          return;
        }
      }
    }
  };
  for (;;) {
    // Cells whose dependencies failed can never run: record them and move on.
    for (const c of cells) {
      if (state.get(c.id) !== 'waiting') continue;
      const broken = c.needs.find((n) => state.get(n) === 'failed');
      if (broken) {
        fail(c, { id: c.id, code: 'UNLEARN_DEPENDENCY_FAILED', message: `needs ${broken}, which failed`, attempts: 0 });
      }
    }
    if (!signal?.aborted) {
      for (const c of cells) {
        if (running.size >= jobs) break;
        if (state.get(c.id) !== 'waiting' || !c.needs.every((n) => state.get(n) === 'done')) continue;
        state.set(c.id, 'running');
        onState?.(c, 'running');
        const p: Promise<void> = runOne(c).finally(() => running.delete(p));
        running.add(p);
      }
    }
    if (running.size === 0) break;
    await Promise.race(running);
  }
  return { done, failures };
}
