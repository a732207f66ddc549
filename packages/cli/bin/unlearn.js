#!/usr/bin/env node
// The `unlearn` command. A published package runs its compiled dist/bin.js. In the workspace,
// where nothing is built after `pnpm install` (tests and examples run from source), it runs
// src/bin.ts through tsx with the `@unlearnjs/source` condition, so `pnpm exec unlearn` works
// on a fresh clone instead of failing with MODULE_NOT_FOUND.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = new URL('../dist/bin.js', import.meta.url);
if (existsSync(fileURLToPath(dist))) {
  await import(dist.href);
} else {
  let tsx;
  try {
    tsx = createRequire(import.meta.url).resolve('tsx');
  } catch {
    process.stderr.write(
      'unlearn: this copy of @unlearnjs/cli is not built (no dist/) and tsx is not installed; run `pnpm -r build` or `pnpm install`.\n',
    );
    process.exit(1);
  }
  const src = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
  // tsx as an import hook in the command's own process, and an IPC channel the command watches:
  // if this launcher is killed (even with kill -9), the command sees the channel close and stops
  // instead of running on as an orphan (a grid worker would go on pulling jobs).
  const loader = pathToFileURL(tsx).href;
  const child = spawn(process.execPath, ['--import', loader, '--conditions=@unlearnjs/source', src, ...process.argv.slice(2)], {
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, UNLEARN_LAUNCHER_IPC: '1' },
  });
  // Forward Ctrl-C and kill so the CLI's own clean-up runs; exit as the child did.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}
