import { type ImageSet, type ProgressReporter, type Rng, createImageSet } from '@unlearnjs/core';

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

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Random uint8 images and labels: benchmarks time the arithmetic, not the data.
 * @param n - number of images
 * @param rng - source of the pixels and labels
 */
export function syntheticImages(n: number, rng: Rng): ImageSet {
  const images = new Uint8Array(n * 32 * 32 * 3);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = rng.int(10);
  return createImageSet({ images, labels });
}
