import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '@unlearnjs/cli';
import { cliEntryArgs } from '../src/pipeline/row-worker.js';
import { connectQueue, gridStatus, parseGridSpec } from '@unlearnjs/grid';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TestRedis, startRedis } from '../../grid/test/redis-server.js';

// The grid end to end with real cells (ResNet-18 width 8 on 300 images) and a real Redis: the
// embedded runner, 2 BullMQ workers in separate working folders, and a worker killed mid-cell.

const data = process.env.CIFAR10_DIR ?? path.resolve(fileURLToPath(new URL('../../../..', import.meta.url)), 'shared/data/cifar10');

const axes = [
  '--preset',
  'ci',
  '--seeds',
  '1,2',
  '--scenarios',
  'class:0',
  '--sparsities',
  '0,0.95',
  '--methods',
  'ga,ft',
  '--train-limit',
  '300',
  '--test-limit',
  '200',
];

let redis: TestRedis;
let tmp: string;
const children: ChildProcess[] = [];
/** Workers a test started: killed after it, so that the next test's cells go to its own workers. */
const running: ChildProcess[] = [];
beforeAll(async () => {
  redis = await startRedis();
  tmp = mkdtempSync(path.join(tmpdir(), 'unlearnjs-grid-cli-'));
});
afterEach(() => {
  for (const c of running.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await redis?.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

/** Start `unlearn worker` in its own folder; `log` collects its stderr. */
function startWorker(name: string, extra: string[] = []): { child: ChildProcess; log: () => string; ready: Promise<void> } {
  const cwd = path.join(tmp, name);
  rmSync(cwd, { recursive: true, force: true });
  // One process per worker (no tsx wrapper), as the built `unlearn` runs: kill -9 reaches it.
  const args = [
    ...cliEntryArgs(),
    'worker',
    '--queue',
    redis.url,
    '--artifacts',
    redis.url,
    '--data',
    data,
    '--work-dir',
    path.join(cwd, 'work'),
    ...extra,
  ];
  const child = spawn(process.execPath, args, { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let log = '';
  child.stderr?.on('data', (d) => void (log += d.toString()));
  child.stdout?.on('data', (d) => void (log += d.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (log.includes('ready:')) {
        clearInterval(t);
        resolve();
      }
      if (child.exitCode !== null) {
        clearInterval(t);
        reject(new Error(`worker exited: ${log}`));
      }
    }, 100);
  });
  return { child, log: () => log, ready };
}

/** The per-seed rows of a report, timing fields aside, keyed by cell. */
function metricsOf(dir: string): Record<string, unknown> {
  const results = JSON.parse(readFileSync(path.join(dir, 'report', 'results.json'), 'utf8')) as {
    rows: Array<{ cell: string; row: { metrics: Record<string, number>; sparsity: unknown } }>;
  };
  return Object.fromEntries(
    results.rows.map((r) => {
      const { RTE: _time, ...metrics } = r.row.metrics;
      return [r.cell, { metrics, sparsity: r.row.sparsity }];
    }),
  );
}

describe('unlearn grid', () => {
  it('gives identical metrics with the embedded runner and with 2 BullMQ workers in separate folders', async () => {
    const embedded = path.join(tmp, 'embedded');
    const a = await run(['grid', '--name', 'same', ...axes, '--jobs', '2', '--data', data, '--save-dir', embedded]);
    expect(a.err).not.toMatch(/failed:/);
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/± /);

    const w1 = startWorker('w1');
    const w2 = startWorker('w2');
    running.push(w1.child, w2.child);
    await Promise.all([w1.ready, w2.ready]);
    const queued = path.join(tmp, 'queued');
    const b = await run(['grid', '--name', 'same', ...axes, '--queue', redis.url, '--artifacts', redis.url, '--save-dir', queued]);
    expect(b.code).toBe(0);
    const ma = metricsOf(embedded);
    // 2 seeds × 2 sparsities × (original, ga, ft)
    expect(Object.keys(ma), JSON.stringify(ma)).toHaveLength(12);
    expect(metricsOf(queued)).toEqual(ma);
    // Both workers took part.
    expect(w1.log()).toMatch(/: done in/);
    expect(w2.log()).toMatch(/: done in/);
    // SIGTERM: each worker stops cleanly.
    for (const w of [w1, w2]) {
      const exited = new Promise<number | null>((r) => w.child.once('exit', (code) => r(code)));
      w.child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(w.log()).toMatch(/stopped/);
    }
  }, 600_000);

  it('takes over the cell of a worker killed with -9 and finishes it once', async () => {
    const w1 = startWorker('k1', ['--lock-ms', '2000']);
    running.push(w1.child);
    await w1.ready;
    const axesKill = [
      '--name',
      'killed',
      '--preset',
      'ci',
      '--seeds',
      '3',
      '--scenarios',
      'class:0',
      '--sparsities',
      '0',
      '--methods',
      'ft',
      '--train-limit',
      '300',
      '--test-limit',
      '200',
    ];
    const enq = await run([
      'grid',
      ...axesKill,
      '--queue',
      redis.url,
      '--artifacts',
      redis.url,
      '--no-wait',
      '--save-dir',
      path.join(tmp, 'killed'),
    ]);
    expect(enq.code).toBe(0);
    // Kill it while it trains the dense model (the first cell).
    const deadline = Date.now() + 60_000;
    while (!/dense\/resnet18\/s3: running/.test(w1.log())) {
      if (Date.now() > deadline) throw new Error(`worker never ran the cell: ${w1.log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    w1.child.kill('SIGKILL');
    const w2 = startWorker('k2', ['--lock-ms', '2000']);
    running.push(w2.child);
    await w2.ready;
    const connection = connectQueue(redis.url);
    try {
      const spec = parseGridSpec(JSON.parse(readFileSync(path.join(tmp, 'killed', 'grid.json'), 'utf8')));
      const until = Date.now() + 300_000;
      for (;;) {
        const s = await gridStatus(spec, { connection });
        if (s.reportDone) {
          expect(s.counts).toEqual({ done: 3, running: 0, failed: 0, waiting: 0 });
          break;
        }
        if (Date.now() > until) throw new Error(`not done: ${JSON.stringify(s.counts)}\n${w2.log()}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      connection.disconnect();
    }
    // The second worker ran the killed cell (taken over) and every cell once.
    expect(w2.log(), w2.log()).toMatch(/dense\/resnet18\/s3: done in/);
    expect(w2.log().match(/dense\/resnet18\/s3: done in/g)).toHaveLength(1);
    expect(w2.log().match(/row\/resnet18\/s3\/class0\/dense\/ft: done in/g)).toHaveLength(1);
    expect(w1.log()).not.toMatch(/: done in/);
    const status = await run(['grid', 'status', '--queue', redis.url, '--name', 'killed']);
    expect(status.out, status.err).toMatch(/3 done, 0 running, 0 failed, 0 waiting; report written/);
    w2.child.kill('SIGTERM');
  }, 600_000);
});

describe('unlearn grid refuses bad input before anything runs', () => {
  it('names the flag, the method or the missing store', async () => {
    const dir = path.join(tmp, 'bad');
    const dup = await run(['grid', '--seeds', '1,1', '--scenarios', 'class:0', '--save-dir', dir]);
    expect(dup.code).toBe(2);
    expect(dup.err).toMatch(/--seeds.*\[UNLEARN_INVALID_OPTIONS\]/);
    const unknown = await run(['grid', '--seeds', '1', '--methods', 'ft,forgetall', '--save-dir', dir]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/forgetall.*\[UNLEARN_UNKNOWN_PLUGIN\]/);
    const badOption = await run(['grid', '--seeds', '1', '--spec', path.join(tmp, 'missing.yaml'), '--save-dir', dir]);
    expect(badOption.err).toMatch(/missing\.yaml.*\[UNLEARN_INVALID_OPTIONS\]/);
    const noStore = await run(['grid', '--seeds', '1', '--queue', redis.url]);
    expect(noStore.err).toMatch(/--queue needs --artifacts.*\[UNLEARN_INVALID_OPTIONS\]/);
    const noGrid = await run(['grid', 'status', '--queue', redis.url, '--name', 'never-enqueued']);
    expect(noGrid.err).toMatch(/No grid named "never-enqueued"/);
    const noRedis = await run(['grid', 'status', '--queue', 'redis://127.0.0.1:1/0', '--name', 'x']);
    expect(noRedis.err).toMatch(/\[UNLEARN_QUEUE_UNAVAILABLE\]/);
  });
});

describe('unlearn grid runs the preset recipe', () => {
  it("gives a method named without options the preset's options, not the method's own defaults", async () => {
    const dir = path.join(tmp, 'recipe');
    const res = await run([
      'grid',
      '--name',
      'recipe',
      '--preset',
      'quick',
      '--seeds',
      '1',
      '--methods',
      'retrain,ft+lora',
      '--queue',
      redis.url,
      '--artifacts',
      path.join(tmp, 'recipe-artifacts'),
      '--no-wait',
      '--save-dir',
      dir,
    ]);
    expect(res.code, res.err).toBe(0);
    const spec = JSON.parse(readFileSync(path.join(dir, 'grid.json'), 'utf8')) as {
      methods: Array<{ method: string; options?: Record<string, unknown>; lora?: boolean }>;
    };
    // The quick preset's retrain is 4 epochs at lr 0.05 (retrain's own default is the reference's 182).
    expect(spec.methods[0]).toMatchObject({ method: 'retrain', options: { epochs: 4, lr: 0.05, batchSize: 64 } });
    expect(spec.methods[1]).toMatchObject({ method: 'ft', lora: true, options: { epochs: 2, lr: 0.01, batchSize: 64 } });
  });
});
