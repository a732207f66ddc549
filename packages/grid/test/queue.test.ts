import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { UnlearnError } from '@unlearnjs/core';
import {
  type ArtifactStore,
  type Cell,
  GRID_QUEUE,
  type GridSpec,
  cellArtifactKey,
  connectQueue,
  enqueueGrid,
  expandGrid,
  gridStatus,
  openArtifactStore,
  parseGridSpec,
  putJson,
  startGridWorker,
} from '@unlearnjs/grid';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestRedis, startRedis } from './redis-server.js';

// The queue's mechanics against a real Redis and real BullMQ workers (in this process); the
// executor writes a deterministic artifact per cell instead of training, so that these tests
// are about scheduling: the CLI tests run the same grid with real cells.

let redis: TestRedis;
let tmp: string;
beforeAll(async () => {
  redis = await startRedis();
  tmp = mkdtempSync(path.join(tmpdir(), 'unlearnjs-queue-'));
});
afterAll(async () => {
  await redis?.close();
  rmSync(tmp, { recursive: true, force: true });
});

function spec(name: string, extra: Record<string, unknown> = {}): GridSpec {
  return parseGridSpec({
    name,
    seeds: [1, 2],
    scenarios: ['class:0'],
    sparsities: [0, 0.5],
    methods: ['retrain', 'ft'],
    ...extra,
  });
}

/** A row's metrics as a function of its cell: what a deterministic computation would give. */
function fakeRow(cell: Cell & { kind: 'row' }) {
  const h = [...cell.id].reduce((a, ch) => (a * 31 + ch.charCodeAt(0)) % 1000, 7) / 10;
  return {
    method: cell.method,
    sparsity: cell.sparsity === 0 ? ('dense' as const) : cell.sparsity,
    ...(cell.lora ? { lora: true } : {}),
    metrics: { UA: h, RA: 100 - h, TA: 50, 'MIA-efficacy': h / 2, RTE: 0 },
    seconds: 0,
  };
}

interface Harness {
  runs: Map<string, number>;
  stop(): Promise<void>;
}

/** Start `n` workers whose executor writes fake artifacts; `fail(cell)` may throw instead. */
async function startWorkers(
  n: number,
  options: { fail?: (cell: Cell, attempt: number) => void; plugins?: string[] } = {},
): Promise<Harness> {
  const runs = new Map<string, number>();
  const closers: Array<() => Promise<void>> = [];
  const connections: Redis[] = [];
  for (let w = 0; w < n; w++) {
    const connection = connectQueue(redis.url);
    connections.push(connection);
    const known = new Set(['resnet18', 'original', 'retrain', 'ft', ...(options.plugins ?? [])]);
    const { close } = startGridWorker({
      connection,
      lockMs: 2000,
      openStore: (grid) => openArtifactStore(redis.url, { namespace: grid }),
      checkCell: (cell) => {
        for (const name of [cell.model, cell.kind === 'row' ? cell.method : 'original']) {
          if (!known.has(name)) throw new UnlearnError('UNLEARN_UNKNOWN_PLUGIN', `no plugin "${name}" on this worker`);
        }
      },
      execute: async (job) => {
        const { cell } = job;
        const attempt = (runs.get(cell.id) ?? 0) + 1;
        runs.set(cell.id, attempt);
        options.fail?.(cell, attempt);
        const store: ArtifactStore = await openArtifactStore(redis.url, { namespace: job.grid });
        try {
          if (cell.kind === 'row') await putJson(store, cellArtifactKey(cell), fakeRow(cell));
          else {
            const f = path.join(tmp, `${w}-${cell.id.replaceAll('/', '_')}`);
            writeFileSync(f, `model of ${cell.id}`);
            await store.put(cellArtifactKey(cell), f);
          }
        } finally {
          await store.close();
        }
      },
    });
    closers.push(() => close(false));
  }
  return {
    runs,
    stop: async () => {
      for (const c of closers) await c();
      for (const c of connections) c.disconnect();
    },
  };
}

async function waitForReport(s: GridSpec, connection: Redis, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await gridStatus(s, { connection });
    if (status.reportDone) return status;
    if (Date.now() > deadline) throw new Error(`grid ${s.name} not done: ${JSON.stringify(status.counts)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('BullMQ grid', () => {
  it('runs every cell exactly once on 2 workers and builds the report from the store', async () => {
    const s = spec('two-workers');
    const connection = connectQueue(redis.url);
    const workers = await startWorkers(2);
    try {
      expect((await enqueueGrid(s, { connection })).existed).toBe(false);
      expect((await enqueueGrid(s, { connection })).existed).toBe(true);
      const status = await waitForReport(s, connection);
      const cells = expandGrid(s);
      expect(status.counts).toEqual({ done: cells.length, running: 0, failed: 0, waiting: 0 });
      expect([...workers.runs.keys()].sort()).toEqual(cells.map((c) => c.id).sort());
      expect([...workers.runs.values()].every((n) => n === 1)).toBe(true);
      const store = await openArtifactStore(redis.url, { namespace: s.name });
      try {
        const results = JSON.parse(await readArtifact(store, 'report/results.json'));
        expect(results.rows).toHaveLength(cells.filter((c) => c.kind === 'row').length);
        expect(results.failures).toEqual([]);
      } finally {
        await store.close();
      }
    } finally {
      await workers.stop();
      connection.disconnect();
    }
  });

  it('marks a cell that keeps failing as failed with its code, and finishes the rest', async () => {
    const s = spec('one-fails');
    const bad = expandGrid(s).find((c) => c.kind === 'row' && c.method === 'ft' && c.seed === 2 && c.sparsity === 0.5) as Cell;
    const denseBad = expandGrid(s).find((c) => c.kind === 'dense' && c.seed === 1) as Cell;
    const connection = connectQueue(redis.url);
    const workers = await startWorkers(1, {
      fail: (cell) => {
        if (cell.id === bad.id) throw new UnlearnError('UNLEARN_OUT_OF_MEMORY', 'the heap is full');
        if (cell.id === denseBad.id) throw new UnlearnError('UNLEARN_INVALID_OPTIONS', 'bad epochs');
      },
    });
    try {
      await enqueueGrid(s, { connection });
      const status = await waitForReport(s, connection);
      const failed = status.cells.filter((c) => c.state === 'failed');
      expect(failed.map((c) => c.id).sort()).toEqual([bad.id, denseBad.id].sort());
      // Retried up to the limit for a transient code, once for a permanent one.
      expect(workers.runs.get(bad.id)).toBe(3);
      expect(workers.runs.get(denseBad.id)).toBe(1);
      expect(failed.find((c) => c.id === bad.id)?.failure?.code).toBe('UNLEARN_OUT_OF_MEMORY');
      const store = await openArtifactStore(redis.url, { namespace: s.name });
      try {
        const results = JSON.parse(await readArtifact(store, 'report/results.json'));
        const codes = Object.fromEntries(results.failures.map((f: { id: string; code: string }) => [f.id, f.code]));
        expect(codes[bad.id]).toBe('UNLEARN_OUT_OF_MEMORY');
        const attempts = Object.fromEntries(results.failures.map((f: { id: string; attempts: number }) => [f.id, f.attempts]));
        expect(attempts[bad.id]).toBe(3);
        expect(attempts[denseBad.id]).toBe(1);
        expect(codes[denseBad.id]).toBe('UNLEARN_INVALID_OPTIONS');
        // Everything of seed 1 needed the failed dense model; seed 2 lost only the one row.
        const seed1 = expandGrid(s).filter((c) => c.seed === 1 && c.kind !== 'dense');
        for (const c of seed1) expect(codes[c.id]).toBe('UNLEARN_DEPENDENCY_FAILED');
        const rowsSeed2 = expandGrid(s).filter((c) => c.kind === 'row' && c.seed === 2).length;
        expect(results.rows).toHaveLength(rowsSeed2 - 1);
      } finally {
        await store.close();
      }
    } finally {
      await workers.stop();
      connection.disconnect();
    }
  });

  it('refuses a malformed payload and a cell naming a plugin the worker was not started with, without retrying', async () => {
    const connection = connectQueue(redis.url);
    const workers = await startWorkers(1);
    const queue = new Queue(GRID_QUEUE, { connection });
    try {
      const malformed = await queue.add(
        'cell',
        { v: 1, kind: 'cell', grid: 'x', spec: {}, cell: 'dense/resnet18/s1', code: 'require("fs")' },
        { attempts: 3 },
      );
      const s = spec('evil-plugin', { methods: ['evil-method'] });
      const evil = expandGrid(s).find((c) => c.kind === 'row' && c.method === 'evil-method') as Cell;
      const named = await queue.add('cell', { v: 1, kind: 'cell', grid: s.name, spec: s, cell: evil.id }, { attempts: 3 });
      for (const job of [malformed, named]) {
        const deadline = Date.now() + 20_000;
        while ((await queue.getJobState(job.id as string)) !== 'failed') {
          if (Date.now() > deadline) throw new Error(`job ${job.id} did not fail`);
          await new Promise((r) => setTimeout(r, 100));
        }
        const done = await queue.getJob(job.id as string);
        expect(done?.attemptsMade).toBe(1);
        expect(done?.failedReason).toMatch(job === malformed ? /^UNLEARN_INVALID_JOB: .*code/ : /^UNLEARN_UNKNOWN_PLUGIN: .*evil-method/);
      }
      expect(workers.runs.size).toBe(0);
    } finally {
      await queue.close();
      await workers.stop();
      connection.disconnect();
    }
  });

  it('loses nothing when Redis restarts between cells', async () => {
    const s = spec('restart', { seeds: [1] });
    const connection = connectQueue(redis.url);
    let restarted = false;
    const workers = await startWorkers(1, {
      fail: (cell) => {
        // After the dense model is stored and BullMQ has completed it, restart Redis once.
        if (cell.kind === 'prune' && !restarted) {
          restarted = true;
          throw new UnlearnError('UNLEARN_WORKER_CRASHED', 'restart Redis now');
        }
      },
    });
    try {
      await enqueueGrid(s, { connection });
      const deadline = Date.now() + 30_000;
      while (!restarted) {
        if (Date.now() > deadline) throw new Error('no prune cell ran');
        await new Promise((r) => setTimeout(r, 50));
      }
      await redis.stop();
      await new Promise((r) => setTimeout(r, 500));
      await redis.start();
      const status = await waitForReport(s, connection);
      expect(status.counts.failed).toBe(0);
      expect(workers.runs.get(`dense/resnet18/s1`)).toBe(1);
    } finally {
      await workers.stop();
      connection.disconnect();
    }
  });
});

async function readArtifact(store: ArtifactStore, key: string): Promise<string> {
  const { readFileSync } = await import('node:fs');
  const f = path.join(tmp, `read-${Math.random().toString(36).slice(2)}`);
  await store.get(key, f);
  return readFileSync(f, 'utf8');
}
