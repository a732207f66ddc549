import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type ProgressReporter, defaultCifar10Dir, loadCifar10, reporterProgress } from '@unlearnjs/core';
import { describe, expect, it } from 'vitest';

/** A reporter that records what it is told. */
function recorder() {
  const tasks: Array<{ label: string; total: number; unit?: string; done: number; ended: boolean }> = [];
  const reporter: ProgressReporter = {
    start(label, total, unit) {
      const t = { label, total, unit, done: 0, ended: false };
      tasks.push(t);
      return { tick: (n) => void (t.done += n), end: () => void (t.ended = true) };
    },
  };
  return { tasks, reporter };
}

describe('reporterProgress', () => {
  it('turns the data layer callbacks into one task per stage, ticking the increments', () => {
    const { tasks, reporter } = recorder();
    const cb = reporterProgress(reporter, 'cifar10 train');
    cb(0, 100, 'download');
    cb(40, 100, 'download');
    cb(100, 100, 'download');
    cb(0, 10, 'load');
    cb(10, 10, 'load');
    expect(tasks).toEqual([
      { label: 'cifar10 train download', total: 100, unit: 'B', done: 100, ended: true },
      { label: 'cifar10 train load', total: 10, unit: 'img', done: 10, ended: true },
    ]);
  });

  it.runIf(existsSync(join(defaultCifar10Dir(), 'test_batch.bin')))('carries loadCifar10 progress to the run reporter', async () => {
    const { tasks, reporter } = recorder();
    await loadCifar10({ split: 'test', limit: 50, onProgress: reporterProgress(reporter, 'cifar10 test') });
    expect(tasks.at(-1)).toMatchObject({ label: 'cifar10 test load', done: 50, ended: true });
  });
});
