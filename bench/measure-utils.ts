import {
  type ImageSet,
  type Model,
  type ProgressReporter,
  type Rng,
  type TrainReport,
  type createContainer,
  createImageSet,
  fullSubset,
  runServices,
  train,
} from '@unlearnjs/core';

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

/**
 * Times training steps with core's own `train()`: one epoch over `warmup + steps` batches of
 * synthetic images (no augmentation, no shuffle, no evaluation), each batch a full step, timed
 * by the `stepClock` the container's progress reporter fills.
 *
 * @returns wall and CPU seconds of the `steps` steps after the warm-up, and train's report
 */
export async function timeTrainingSteps(
  model: Model,
  container: ReturnType<typeof createContainer>,
  clock: { wall: number[]; cpu: number[] },
  options: { batch: number; steps: number; warmup: number; rng: Rng; label: string; microBatch?: number },
): Promise<{ seconds: number[]; cpuSeconds: number[]; report: TrainReport }> {
  const report = await train(model, {
    data: fullSubset(syntheticImages(options.batch * (options.warmup + options.steps), options.rng)),
    epochs: 1,
    batchSize: options.batch,
    lr: 0.01,
    augment: false,
    shuffle: false,
    evalEvery: 0,
    microBatch: options.microBatch,
    services: runServices(container, options.label),
  });
  const seconds: number[] = [];
  const cpuSeconds: number[] = [];
  // Stamp 0 is the epoch's start, stamp i the end of step i.
  for (let i = options.warmup + 1; i < clock.wall.length; i++) {
    seconds.push((clock.wall[i] - clock.wall[i - 1]) / 1000);
    cpuSeconds.push(clock.cpu[i] - clock.cpu[i - 1]);
  }
  return { seconds, cpuSeconds, report };
}
