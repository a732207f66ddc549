import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const launcher = fileURLToPath(new URL('../bin/unlearn.js', import.meta.url));
const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

// These run the real command as a user does on a fresh clone: nothing built, so the launcher
// must fall back to the TypeScript source instead of failing with MODULE_NOT_FOUND.
describe('the unlearn command on a fresh clone', () => {
  it('the package bin runs and prints its version', () => {
    const res = spawnSync(process.execPath, [launcher, '--version'], { encoding: 'utf8', timeout: 60_000 });
    expect(res.stderr).not.toMatch(/MODULE_NOT_FOUND/);
    expect(res.status).toBe(0);
    expect(res.stdout.trim()).toBe(version);
  });

  it('`pnpm exec unlearn` from the workspace root finds the command', () => {
    const res = spawnSync('pnpm', ['exec', 'unlearn', '--help'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(res.stderr).not.toMatch(/not found|MODULE_NOT_FOUND/);
    expect(res.status).toBe(0);
    expect(res.stdout).toMatch(/Usage: unlearn/);
  });
});
