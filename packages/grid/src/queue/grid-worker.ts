import { isUnlearnError } from '@unlearnjs/core';
import { type Job, Queue, UnrecoverableError, WaitingChildrenError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { collectGridResults, publishGridReport } from '../runner/collect-results.js';
import { CELL_ATTEMPTS, failureReason, isPermanentFailure, parseFailureReason } from '../runner/cell-executor.js';
import { type GridSpec, cellArtifactKey, expandGrid } from '../spec/index.js';
import type { ArtifactStore, Cell, CellFailure } from '../types.js';
import { GRID_QUEUE, gridJobId } from './connection.js';
import { type GridJob, type GridJobPayload, JOB_PAYLOAD_VERSION, parseGridJob } from './job-payload.js';

/** Options of {@link startGridWorker}. */
export interface GridWorkerOptions {
  /** The Redis connection (see `connectQueue`). */
  connection: Redis;
  /** Runs a cell (the CLI's starts an `unlearn cell` process). */
  execute: (grid: GridJob & { kind: 'cell' }, options: { signal?: AbortSignal }) => Promise<void>;
  /**
   * Refuse a cell this worker cannot run safely: a model or method whose plugin it was not
   * started with, options its schema rejects. Throw an UnlearnError; the job fails at once.
   */
  checkCell: (cell: Cell, spec: GridSpec) => void | Promise<void>;
  /** The artifact store of a grid (opened once per grid name). */
  openStore: (grid: string) => Promise<ArtifactStore>;
  /**
   * How long a job's lock lasts without renewal: a worker killed mid-cell loses its cell to
   * another worker this long after its last renewal. @defaultValue 30000
   */
  lockMs?: number;
  /** Log lines. */
  log?: (line: string) => void;
  /** The queue. @defaultValue {@link GRID_QUEUE} */
  queueName?: string;
}

/** Job options of every cell: retried with backoff; a failure is recorded in the parent, which goes on. */
function cellJobOptions(grid: string, cell: Cell, parent: Job) {
  return {
    jobId: gridJobId(grid, cell.id),
    parent: { id: parent.id as string, queue: parent.queueQualifiedName },
    attempts: CELL_ATTEMPTS,
    backoff: { type: 'exponential' as const, delay: 2000 },
    ignoreDependencyOnFailure: true,
    removeOnComplete: false,
    removeOnFail: false,
  };
}

/**
 * Start a grid worker: it pulls cell jobs from the queue and runs them one at a time, and drives
 * each (model, seed) lineage and the report when their turn comes.
 *
 * @remarks A lineage job adds its cells in steps (the dense model; then the pruned models and the
 * dense rows; then the sparse rows) and waits for each step's children (BullMQ's step-job
 * pattern: a flow is a tree, and one dense model feeds many cells). A cell whose artifact is
 * already in the store is not run again (a worker killed after writing it but before BullMQ heard
 * so). Payloads are validated; cells naming a plugin this worker was not started with are
 * refused without retry.
 *
 * @param options - connection, executor, checks, store
 * @returns the BullMQ worker (`close()` finishes the running cell, then stops)
 */
export function startGridWorker(options: GridWorkerOptions): { worker: Worker; close(force?: boolean): Promise<void> } {
  const queueName = options.queueName ?? GRID_QUEUE;
  const log = options.log ?? (() => {});
  const queue = new Queue(queueName, { connection: options.connection });
  const stores = new Map<string, Promise<ArtifactStore>>();
  const storeOf = (grid: string) => {
    let s = stores.get(grid);
    if (!s) {
      s = options.openStore(grid);
      stores.set(grid, s);
    }
    return s;
  };
  const lockMs = options.lockMs ?? 30_000;

  const processCell = async (job: GridJob & { kind: 'cell' }, signal?: AbortSignal) => {
    const store = await storeOf(job.grid);
    if (await store.stat(cellArtifactKey(job.cell))) {
      log(`${job.cell.id}: its artifact is in the store already; not run again`);
      return { cell: job.cell.id, reused: true };
    }
    log(`${job.cell.id}: running`);
    const t0 = performance.now();
    await options.execute(job, { signal });
    log(`${job.cell.id}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return { cell: job.cell.id, reused: false };
  };

  const processLineage = async (bull: Job, token: string, job: GridJob & { kind: 'lineage' }) => {
    const cells = expandGrid(job.spec).filter((c) => c.model === job.model && c.seed === job.seed);
    const dense = cells.find((c) => c.kind === 'dense') as Cell;
    const stateOf = async (c: Cell) => queue.getJobState(gridJobId(job.grid, c.id));
    const add = async (list: Cell[]) => {
      for (const c of list) {
        const payload: GridJobPayload = { v: JOB_PAYLOAD_VERSION, kind: 'cell', grid: job.grid, spec: job.spec, cell: c.id };
        await queue.add('cell', payload, cellJobOptions(job.grid, c, bull));
      }
    };
    let step = job.step;
    for (;;) {
      if (step === 0) await add([dense]);
      else if (step === 1) {
        if ((await stateOf(dense)) === 'completed') {
          await add(cells.filter((c) => c.kind === 'prune' || (c.kind === 'row' && c.needs[0] === dense.id)));
        }
      } else if (step === 2) {
        const prunes = cells.filter((c) => c.kind === 'prune');
        const ok = new Set<string>();
        for (const p of prunes) if ((await stateOf(p)) === 'completed') ok.add(p.id);
        await add(cells.filter((c) => c.kind === 'row' && ok.has(c.needs[0])));
      } else {
        return { failures: await lineageFailures(bull, job, cells, stateOf) };
      }
      // Children first, then the step: a lineage taken over between the two re-adds the same
      // children, which BullMQ ignores (same job ids, same parent).
      step += 1;
      await bull.updateData({ ...(bull.data as object), step });
      if (await bull.moveToWaitingChildren(token)) throw new WaitingChildrenError();
    }
  };

  const lineageFailures = async (
    bull: Job,
    job: GridJob & { kind: 'lineage' },
    cells: Cell[],
    stateOf: (c: Cell) => Promise<string>,
  ): Promise<CellFailure[]> => {
    const ignored = await bull.getIgnoredChildrenFailures();
    const byId = new Map<string, CellFailure>();
    for (const [key, reason] of Object.entries(ignored)) {
      // Keys are `<prefix>:<queue>:<job id>`; job ids hold no ':' and start with `<grid>/`.
      const id = key.slice(key.lastIndexOf(':') + 1).slice(job.grid.length + 1);
      const { code, message } = parseFailureReason(reason);
      // The attempts BullMQ made: 1 for a permanent error, up to CELL_ATTEMPTS otherwise.
      const attempts = (await queue.getJob(gridJobId(job.grid, id)))?.attemptsMade ?? CELL_ATTEMPTS;
      byId.set(id, { id, code, message, attempts });
    }
    const failures = [...byId.values()];
    for (const c of cells) {
      if (c.kind === 'dense' || byId.has(c.id)) continue;
      const state = await stateOf(c);
      if (state === 'completed') continue;
      const broken = c.needs.find((n) => byId.has(n)) ?? c.needs[0];
      failures.push({ id: c.id, code: 'UNLEARN_DEPENDENCY_FAILED', message: `needs ${broken}, which failed`, attempts: 0 });
    }
    return failures;
  };

  const processReport = async (bull: Job, job: GridJob & { kind: 'report' }) => {
    const values = await bull.getChildrenValues<{ failures?: CellFailure[] }>();
    const failures = Object.values(values).flatMap((v) => v?.failures ?? []);
    const store = await storeOf(job.grid);
    const results = await collectGridResults(job.spec, store, failures);
    await publishGridReport(results, store);
    log(`report of grid "${job.grid}": ${results.rows.length} rows, ${results.failures.length} failed cells`);
    return { rows: results.rows.length, failures: results.failures.length };
  };

  const worker = new Worker(
    queueName,
    async (bull: Job, token?: string, signal?: AbortSignal) => {
      let job: GridJob;
      try {
        job = parseGridJob(bull.data);
        if (job.kind === 'cell') await options.checkCell(job.cell, job.spec);
      } catch (err) {
        log(`job ${bull.id}: refused: ${(err as Error).message}`);
        throw new UnrecoverableError(failureReason(err));
      }
      try {
        if (job.kind === 'cell') return await processCell(job, signal);
        if (job.kind === 'lineage') return await processLineage(bull, token as string, job);
        return await processReport(bull, job);
      } catch (err) {
        if (err instanceof WaitingChildrenError) throw err;
        log(`job ${bull.id}: attempt ${bull.attemptsMade + 1} failed: ${failureReason(err)}`);
        if (isPermanentFailure(err)) throw new UnrecoverableError(failureReason(err));
        throw new Error(failureReason(err));
      }
    },
    {
      connection: options.connection,
      concurrency: 1,
      lockDuration: lockMs,
      stalledInterval: Math.max(1000, Math.round(lockMs / 2)),
      // A cell may be taken over twice (two machines lost in a row) before it counts as failed.
      maxStalledCount: 2,
      autorun: true,
    },
  );
  worker.on('error', (err) => log(`worker: ${isUnlearnError(err) ? err.code : 'error'}: ${err.message}`));
  return {
    worker,
    close: async (force = false) => {
      await worker.close(force);
      await queue.close();
      for (const s of stores.values()) await (await s).close();
    },
  };
}
