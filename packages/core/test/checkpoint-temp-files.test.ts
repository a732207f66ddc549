import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeStaleTempFiles, writeCheckpoint, writeFileAtomic } from '@unlearnjs/core';

/** The pid of a process that has exited (a killed writer). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start a child process');
  expect(() => process.kill(pid, 0)).toThrow(); // gone, as a killed run's writer is
  return pid;
}

function touch(file: string): string {
  writeFileSync(file, 'x');
  return file;
}

describe('removeStaleTempFiles', () => {
  it('removes the temp files of dead writers only, and sub-folders only when asked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-tmp-'));
    const dead = deadPid();
    const live = process.ppid; // a running process that is not this one
    const stale = touch(join(dir, `dense.ckpt.${dead}.tmp`));
    const ownLive = touch(join(dir, `dense.ckpt.${process.pid}.tmp`));
    const otherLive = touch(join(dir, `sparse.ckpt.${live}.tmp`));
    const kept = [
      touch(join(dir, 'dense.ckpt')),
      touch(join(dir, 'notes.tmp')),
      touch(join(dir, `report.${dead}.json`)),
      // another writer's pattern (name.pid.time.n.tmp): its last number is not a pid
      touch(join(dir, `.data.bin.${dead}.1700000000000.7.tmp`)),
    ];
    mkdirSync(join(dir, 'rows'));
    const nested = touch(join(dir, 'rows', `row-3.json.${dead}.tmp`));
    mkdirSync(join(dir, 'elsewhere'));
    const outside = touch(join(dir, 'elsewhere', `linked.ckpt.${dead}.tmp`));
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'link'));
    symlinkSync(outside, join(dir, `dangling.ckpt.${dead}.tmp`));

    expect(await removeStaleTempFiles(dir)).toEqual([stale]);
    for (const f of [ownLive, otherLive, nested, outside, ...kept]) expect(existsSync(f), f).toBe(true);

    const removed = await removeStaleTempFiles(dir, { recursive: true });
    expect(removed).toEqual([outside, nested].sort());
    for (const f of [ownLive, otherLive, ...kept]) expect(existsSync(f), f).toBe(true);
    // symbolic links are neither followed nor removed
    expect(readdirSync(dir)).toContain(`dangling.ckpt.${dead}.tmp`);
  });

  it('treats a missing folder as nothing to clean', async () => {
    expect(await removeStaleTempFiles(join(tmpdir(), 'unlearnjs-no-such-dir', 'x'))).toEqual([]);
  });
});

describe('the atomic writers', () => {
  it("remove their target's temp files left by killed writers, and keep a live writer's", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearnjs-tmp-w-'));
    const dead = deadPid();
    const staleCkpt = touch(join(dir, `a.ckpt.${dead}.tmp`));
    const liveCkpt = touch(join(dir, `a.ckpt.${process.ppid}.tmp`));
    const otherTarget = touch(join(dir, `b.ckpt.${dead}.tmp`));
    await writeCheckpoint(join(dir, 'a.ckpt'), { kind: 'model', meta: {}, groups: {} });
    expect(existsSync(staleCkpt)).toBe(false);
    expect(existsSync(liveCkpt)).toBe(true);
    expect(existsSync(otherTarget)).toBe(true); // not this write's business

    const staleJson = touch(join(dir, `row.json.${dead}.tmp`));
    await writeFileAtomic(join(dir, 'row.json'), '{}\n');
    expect(existsSync(staleJson)).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['a.ckpt', `a.ckpt.${process.ppid}.tmp`, `b.ckpt.${dead}.tmp`, 'row.json'].sort());
  });
});
