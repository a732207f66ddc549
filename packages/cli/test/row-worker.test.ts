import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { spawnRowWorker } from '../src/pipeline/row-worker.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('row worker processes', () => {
  it('a worker that fails is a UNLEARN_WORKER_CRASHED error naming the shard, not an options error', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'unlearn-rows-'));
    const w = spawnRowWorker(empty, 1, 2);
    const err = await w.done.then(
      () => undefined,
      (e: { code?: string; message?: string; details?: Record<string, unknown> }) => e,
    );
    expect(err?.code).toBe('UNLEARN_WORKER_CRASHED');
    expect(err?.message).toMatch(/Row worker 1\/2 exited with code [12]/);
    expect(err?.details).toMatchObject({ shard: 1, shards: 2 });
  }, 120_000);

  it('a worker exits when its parent is killed with SIGKILL', async () => {
    // parent.mjs starts a child that watches its stdin (exitWithParent) and would otherwise run
    // forever, prints the child's pid, and waits; the test then kill -9s the parent.
    const dir = mkdtempSync(join(tmpdir(), 'unlearn-parent-'));
    const workerModule = new URL('../src/pipeline/row-worker.ts', import.meta.url).href;
    const child = join(dir, 'child.mts');
    writeFileSync(
      child,
      `import { exitWithParent } from ${JSON.stringify(workerModule)};\nexitWithParent();\nsetInterval(() => {}, 1000);\nconsole.log('ready');\n`,
    );
    const tsx = createRequire(import.meta.url).resolve('tsx/cli');
    const parent = join(dir, 'parent.mjs');
    writeFileSync(
      parent,
      `import { spawn } from 'node:child_process';
const c = spawn(process.execPath, [${JSON.stringify(tsx)}, '--conditions=@unlearnjs/source', ${JSON.stringify(child)}], { stdio: ['pipe', 'pipe', 'inherit'] });
c.stdout.on('data', (d) => { if (String(d).includes('ready')) console.log('child ' + c.pid); });
setInterval(() => {}, 1000);
`,
    );
    const p = spawn(process.execPath, [parent], {
      stdio: ['ignore', 'pipe', 'inherit'],
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    });
    const childPid = await new Promise<number>((resolve, reject) => {
      p.stdout.on('data', (d) => {
        const m = /child (\d+)/.exec(String(d));
        if (m) resolve(Number(m[1]));
      });
      p.on('exit', () => reject(new Error('parent exited early')));
    });
    expect(alive(childPid)).toBe(true);
    p.kill('SIGKILL');
    const t0 = Date.now();
    while (alive(childPid) && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 100));
    expect(alive(childPid)).toBe(false);
  }, 120_000);
});
