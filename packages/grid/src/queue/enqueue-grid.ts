import { FlowProducer, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { type GridSpec, expandGrid } from '../spec/index.js';
import type { CellFailure, CellState } from '../types.js';
import { parseFailureReason } from '../runner/cell-executor.js';
import { GRID_QUEUE, gridJobId } from './connection.js';
import { type GridJobPayload, JOB_PAYLOAD_VERSION } from './job-payload.js';

/** What {@link enqueueGrid} returns. */
export interface EnqueuedGrid {
  /** The report job's id (`<grid>/report`). */
  reportJobId: string;
  /** Whether the grid was already in the queue (enqueuing again adds nothing). */
  existed: boolean;
}

const lineageId = (model: string, seed: number) => `lineage/${model}/s${seed}`;

/**
 * Put a grid on the queue as one BullMQ flow: a report job whose children are one lineage job
 * per (model, seed); each lineage adds its cells itself as their turn comes (see
 * `startGridWorker`). Enqueuing the same grid again is harmless: job ids are derived from the
 * grid and cell names.
 *
 * @param spec - the grid
 * @param options - the Redis connection, queue name
 * @returns the report job's id
 */
export async function enqueueGrid(spec: GridSpec, options: { connection: Redis; queueName?: string }): Promise<EnqueuedGrid> {
  const queueName = options.queueName ?? GRID_QUEUE;
  const reportJobId = gridJobId(spec.name, 'report');
  const queue = new Queue(queueName, { connection: options.connection });
  try {
    if (await queue.getJob(reportJobId)) return { reportJobId, existed: true };
  } finally {
    await queue.close();
  }
  const flow = new FlowProducer({ connection: options.connection });
  try {
    const base = { v: JOB_PAYLOAD_VERSION, grid: spec.name, spec } as const;
    const report: GridJobPayload = { ...base, kind: 'report' };
    await flow.add({
      name: 'report',
      queueName,
      data: report,
      opts: { jobId: reportJobId, removeOnComplete: false, removeOnFail: false, attempts: 3 },
      children: spec.models.flatMap((model) =>
        spec.seeds.map((seed) => {
          const lineage: GridJobPayload = { ...base, kind: 'lineage', model, seed, step: 0 };
          return {
            name: 'lineage',
            queueName,
            data: lineage,
            opts: {
              jobId: gridJobId(spec.name, lineageId(model, seed)),
              attempts: 3,
              ignoreDependencyOnFailure: true,
              removeOnComplete: false,
              removeOnFail: false,
            },
          };
        }),
      ),
    });
  } finally {
    await flow.close();
  }
  return { reportJobId, existed: false };
}

/** One cell's line of {@link gridStatus}. */
export interface CellStatus {
  id: string;
  state: CellState;
  failure?: CellFailure;
}

/** What {@link gridStatus} returns. */
export interface GridStatus {
  grid: string;
  /** Cells per state. */
  counts: Record<CellState, number>;
  cells: CellStatus[];
  /** Whether the report has been written. */
  reportDone: boolean;
}

/**
 * The state of every cell of a grid on the queue: done, running, failed (with its coded error),
 * or waiting (queued, or not yet added by its lineage).
 *
 * @param spec - the grid (as enqueued)
 * @param options - the Redis connection, queue name
 * @returns per-cell states and counts
 */
export async function gridStatus(spec: GridSpec, options: { connection: Redis; queueName?: string }): Promise<GridStatus> {
  const queue = new Queue(options.queueName ?? GRID_QUEUE, { connection: options.connection });
  try {
    const counts: Record<CellState, number> = { waiting: 0, running: 0, done: 0, failed: 0 };
    const cells: CellStatus[] = [];
    for (const cell of expandGrid(spec)) {
      const id = gridJobId(spec.name, cell.id);
      const bullState = await queue.getJobState(id);
      let state: CellState = 'waiting';
      let failure: CellFailure | undefined;
      if (bullState === 'completed') state = 'done';
      else if (bullState === 'active') state = 'running';
      else if (bullState === 'failed') {
        state = 'failed';
        const job = await queue.getJob(id);
        const { code, message } = parseFailureReason(job?.failedReason ?? '');
        failure = { id: cell.id, code, message, attempts: job?.attemptsMade ?? 0 };
      }
      counts[state] += 1;
      cells.push(failure ? { id: cell.id, state, failure } : { id: cell.id, state });
    }
    const reportDone = (await queue.getJobState(gridJobId(spec.name, 'report'))) === 'completed';
    return { grid: spec.name, counts, cells, reportDone };
  } finally {
    await queue.close();
  }
}

/**
 * The spec of a grid already on the queue, from its report job (so that `unlearn grid status`
 * needs only the grid's name).
 * @param grid - the grid name
 * @param options - the Redis connection, queue name
 * @returns the raw spec, or undefined when no such grid was enqueued
 */
export async function enqueuedGridSpec(grid: string, options: { connection: Redis; queueName?: string }): Promise<unknown> {
  const queue = new Queue(options.queueName ?? GRID_QUEUE, { connection: options.connection });
  try {
    const job = await queue.getJob(gridJobId(grid, 'report'));
    return (job?.data as { spec?: unknown } | undefined)?.spec;
  } finally {
    await queue.close();
  }
}
