/**
 * The grid's cost on this machine: what the queue adds per cell, and how the wall time of a small
 * real grid scales from 1 to 2 BullMQ workers.
 *
 *   pnpm bench:grid [--seeds 1,2] [--methods ga,ft] [--train-limit 300] [--no-scaling]
 *
 * Part 1 (overhead): a grid of no-op cells (a worker in this process whose executor only writes
 * the cell's artifact) on a real redis-server: per cell, enqueue → start (ms; from BullMQ's own
 * timestamps, counted from when the job could start: its creation or the worker's previous
 * job's end, whichever is later), and the wall time per cell of the whole flow.
 *
 * Part 2 (scaling): the same small real grid (preset ci, ResNet-18 width 8, 300 train images,
 * seeds × {dense, 95%} × original + methods) run twice on fresh queues: by 1 `unlearn worker`,
 * then by 2 (each cell in its own process, 1 wasm thread). Prints the wall times and their
 * ratio (the issue expects ≥ 1.7× on 2 idle cores; docs/performance.md has the measured figure
 * and what limits it).
 *
 * Prints one JSON line per part on stdout (progress on stderr), each with the 1-minute load
 * average.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Cell,
  cellArtifactKey,
  connectQueue,
  enqueueGrid,
  expandGrid,
  gridJobId,
  gridStatus,
  openArtifactStore,
  parseGridSpec,
  putJson,
  startGridWorker,
} from '@unlearnjs/grid';
import { Queue } from 'bullmq';
import { cliEntryArgs } from '../packages/cli/src/pipeline/row-worker.js';
import { startRedis } from '../packages/grid/test/redis-server.js';
import { median } from './measure-utils.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const seeds = flag('--seeds', '1,2');
const methods = flag('--methods', 'ga,ft');
const trainLimit = flag('--train-limit', '300');
const data = process.env.CIFAR10_DIR ?? path.resolve(fileURLToPath(new URL('../..', import.meta.url)), 'shared/data/cifar10');
const load = () => Number(os.loadavg()[0].toFixed(2));
const log = (s: string) => process.stderr.write(`[bench:grid] ${s}\n`);

const redis = await startRedis();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'unlearnjs-bench-grid-'));
try {
  // Part 1: queue overhead with no-op cells.
  {
    const spec = parseGridSpec({
      name: 'overhead',
      seeds: [1, 2, 3],
      scenarios: ['class:0'],
      sparsities: [0, 0.95],
      methods: ['ft', 'ga', 'rl'],
    });
    const connection = connectQueue(redis.url);
    const { close } = startGridWorker({
      connection,
      openStore: (grid) => openArtifactStore(path.join(tmp, 'overhead'), { namespace: grid }),
      checkCell: () => {},
      execute: async (job) => {
        const store = await openArtifactStore(path.join(tmp, 'overhead'), { namespace: job.grid });
        const cell: Cell = job.cell;
        if (cell.kind === 'row')
          await putJson(store, cellArtifactKey(cell), {
            method: cell.method,
            sparsity: cell.sparsity === 0 ? 'dense' : cell.sparsity,
            metrics: { UA: 1, RA: 1, TA: 1, 'MIA-efficacy': 1, RTE: 0 },
            seconds: 0,
          });
        else {
          const f = path.join(tmp, 'model.bin');
          writeFileSync(f, 'x');
          await store.put(cellArtifactKey(cell), f);
        }
        await store.close();
      },
    });
    const t0 = performance.now();
    await enqueueGrid(spec, { connection });
    while (!(await gridStatus(spec, { connection })).reportDone) await new Promise((r) => setTimeout(r, 20));
    const wall = performance.now() - t0;
    const queue = new Queue('unlearnjs-grid', { connection });
    const jobs = [];
    for (const c of expandGrid(spec)) jobs.push(await queue.getJob(gridJobId(spec.name, c.id)));
    const timed = jobs.filter((j) => j?.processedOn && j.finishedOn).sort((a, b) => (a?.processedOn ?? 0) - (b?.processedOn ?? 0));
    const waits: number[] = [];
    let prevEnd = 0;
    for (const j of timed) {
      if (!j?.processedOn || !j.finishedOn) continue;
      waits.push(j.processedOn - Math.max(j.timestamp, prevEnd));
      prevEnd = j.finishedOn;
    }
    await queue.close();
    await close();
    connection.disconnect();
    const cells = expandGrid(spec).length;
    process.stdout.write(
      `${JSON.stringify({ bench: 'grid-queue-overhead', cells, enqueueToStartMs: { p50: median(waits), max: Math.max(...waits) }, wallPerCellMs: Number((wall / cells).toFixed(1)), load: load() })}\n`,
    );
  }

  // Part 2: 1 vs 2 workers on a small real grid.
  if (!args.includes('--no-scaling')) {
    const walls: Record<number, number> = {};
    for (const workers of [1, 2]) {
      const name = `scale-${workers}`;
      const spec = parseGridSpec({
        name,
        preset: 'ci',
        seeds: seeds.split(',').map(Number),
        scenarios: ['class:0'],
        sparsities: [0, 0.95],
        methods: methods.split(','),
        data: { trainLimit: Number(trainLimit), testLimit: 200 },
      });
      const children: ChildProcess[] = [];
      for (let w = 0; w < workers; w++) {
        const child = spawn(
          process.execPath,
          [
            ...cliEntryArgs(),
            'worker',
            '--queue',
            redis.url,
            '--artifacts',
            redis.url,
            '--data',
            data,
            '--work-dir',
            path.join(tmp, name, `w${w}`),
          ],
          { stdio: ['ignore', 'ignore', 'pipe'] },
        );
        let out = '';
        child.stderr?.on('data', (d) => void (out += d.toString()));
        await new Promise<void>((resolve) => {
          const t = setInterval(() => {
            if (!out.includes('ready:')) return;
            clearInterval(t);
            resolve();
          }, 50);
        });
        children.push(child);
      }
      const connection = connectQueue(redis.url);
      const t0 = performance.now();
      await enqueueGrid(spec, { connection });
      for (;;) {
        const s = await gridStatus(spec, { connection });
        if (s.reportDone) break;
        if (s.counts.failed > 0) throw new Error(`grid ${name}: ${s.counts.failed} cells failed`);
        await new Promise((r) => setTimeout(r, 200));
      }
      walls[workers] = (performance.now() - t0) / 1000;
      log(`${workers} worker(s): ${walls[workers].toFixed(1)} s for ${expandGrid(spec).length} cells`);
      connection.disconnect();
      for (const c of children) c.kill('SIGTERM');
      await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
    }
    process.stdout.write(
      `${JSON.stringify({ bench: 'grid-scaling', seeds, methods, trainLimit: Number(trainLimit), wallSeconds: { workers1: Number(walls[1].toFixed(1)), workers2: Number(walls[2].toFixed(1)) }, speedup: Number((walls[1] / walls[2]).toFixed(2)), cores: os.availableParallelism(), load: load() })}\n`,
    );
  }
} finally {
  await redis.close();
  rmSync(tmp, { recursive: true, force: true });
}
