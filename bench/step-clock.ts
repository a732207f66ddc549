import type { ProgressReporter } from '@unlearnjs/core';

/** CPU seconds (user + system) this process has used, all threads together. */
export function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * A progress reporter that stamps wall and CPU time at the start of a task and at every tick,
 * so that the time of each training step can be read from core's own `train()`.
 *
 * @returns the reporter and the stamps it fills
 */
export function stepClock(): { progress: ProgressReporter; wall: number[]; cpu: number[] } {
  const wall: number[] = [];
  const cpu: number[] = [];
  const stamp = (): void => {
    wall.push(performance.now());
    cpu.push(cpuNow());
  };
  const progress: ProgressReporter = {
    start: () => {
      stamp();
      return { tick: stamp, end: () => {} };
    },
  };
  return { progress, wall, cpu };
}
