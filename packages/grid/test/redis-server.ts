/**
 * A real redis-server for tests: started on a free loopback port in its own temp folder, with
 * append-only persistence (fsync always) so that a restart loses nothing that was written, and
 * stopped at the end. Never a mock: if redis-server cannot start, the test fails.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** A running test Redis. */
export interface TestRedis {
  /** `redis://127.0.0.1:PORT/0`. */
  url: string;
  port: number;
  /** Its data folder (append-only file, dump). */
  dir: string;
  /** Stop it (SIGTERM, waits for exit) and keep its data; `start()` brings it back on the same port. */
  stop(): Promise<void>;
  /** Start it again after `stop()`, from its persisted data. */
  start(): Promise<void>;
  /** Stop it and delete its folder. */
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once `PING` answers `+PONG` on the port; rejects after `timeoutMs`. */
async function waitForPong(port: number, timeoutMs: number, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = exited();
    if (why) throw new Error(`redis-server exited before answering: ${why}`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1');
      sock.setTimeout(500);
      let buf = '';
      sock.on('connect', () => sock.write('PING\r\n'));
      sock.on('data', (d) => {
        buf += d.toString();
        if (buf.includes('\r\n')) {
          sock.destroy();
          resolve(buf.startsWith('+PONG'));
        }
      });
      sock.on('error', () => resolve(false));
      sock.on('timeout', () => {
        sock.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Start a redis-server for one test file.
 * @param options - `bin`: the redis-server command (default `REDIS_SERVER` or `redis-server`)
 */
export async function startRedis(options: { bin?: string } = {}): Promise<TestRedis> {
  const bin = options.bin ?? process.env.REDIS_SERVER ?? 'redis-server';
  const dir = mkdtempSync(path.join(tmpdir(), 'unlearnjs-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exitReason: string | undefined;
  let stderr = '';

  const start = async () => {
    exitReason = undefined;
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--save',
      '',
      '--daemonize',
      'no',
      '--protected-mode',
      'yes',
      '--loglevel',
      'warning',
    ];
    const c = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    c.stdout?.on('data', (d) => {
      stderr += d.toString();
    });
    c.stderr?.on('data', (d) => {
      stderr += d.toString();
    });
    c.on('error', (err) => {
      exitReason = `${bin}: ${err.message} (install it: apt-get install -y redis-server)`;
    });
    c.on('exit', (code, signal) => {
      exitReason ??= `code ${code} signal ${signal}: ${stderr.slice(-500)}`;
    });
    await waitForPong(port, 10_000, () => exitReason);
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}/0`,
    port,
    dir,
    stop,
    start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
