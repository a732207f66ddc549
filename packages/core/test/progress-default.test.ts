import { createContainer, defaultProgress, PROGRESS, resolve, silentProgress } from '@unlearnjs/core';
import { describe, expect, it } from 'vitest';

describe('the default progress reporter', () => {
  it('draws bars on an interactive terminal and stays silent on a pipe', () => {
    const tty = Object.assign(Object.create(process.stderr), { isTTY: true }) as NodeJS.WriteStream;
    const pipe = Object.assign(Object.create(process.stderr), { isTTY: false }) as NodeJS.WriteStream;
    expect(defaultProgress(tty)).not.toBe(silentProgress);
    expect(defaultProgress(pipe)).toBe(silentProgress);
    expect(defaultProgress(undefined)).toBe(silentProgress);
  });

  it.skipIf(process.stderr.isTTY)('is what a container gets without a progress option (silent off a terminal)', () => {
    expect(resolve(createContainer(), PROGRESS)).toBe(defaultProgress());
  });
});
