import * as tf from '@tensorflow/tfjs-core';
import { UnlearnError } from '../errors/unlearn-error.js';
import type { Rng } from '../random/rng.js';
import { CIFAR10_IMAGE_BYTES } from './image-set.js';
import type { Subset } from './subset.js';

/** One mini-batch. The caller disposes `x` and `y`. */
export type Batch = {
  /** float32 `[b, 32, 32, 3]`, raw pixels / 255 in [0, 1] (models normalise inside). */
  readonly x: tf.Tensor4D;
  /** int32 `[b]` labels (or `labelsOverride` values). */
  readonly y: tf.Tensor1D;
  /** Positions of the batch's images in `subset.source`. */
  readonly indices: Int32Array;
  /** Positions of the batch's images in the subset (the index into `labelsOverride`). */
  readonly positions: Int32Array;
};

/** Options of {@link batches}. */
export type BatchesOptions = {
  /** Images per batch, an integer >= 1. */
  batchSize: number;
  /** Visit the subset in a fresh seeded random order (needs `rng`). @defaultValue false */
  shuffle?: boolean;
  /** Random crop with 4-pixel zero padding + horizontal flip (needs `rng`). @defaultValue false */
  augment?: boolean;
  /** Source of the order and of the augmentation draws. */
  rng?: Rng;
  /** Skip the last batch when it is smaller than `batchSize`. @defaultValue false */
  dropLast?: boolean;
  /** A label per subset position used instead of the true labels (random-label unlearning). */
  labelsOverride?: Uint8Array;
};

/** Padding of the random crop, in pixels (CIFAR recipe: 32x32 crop out of a 40x40 zero-padded image). */
export const AUGMENT_PADDING = 4;

// uint8 -> [0, 1] through a table: one lookup per byte instead of a division.
const TO_UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);

function invalid(field: string, message: string, value: unknown): UnlearnError {
  return new UnlearnError('UNLEARN_INVALID_OPTIONS', message, { details: { field, value } });
}

/**
 * Number of batches {@link batches} yields.
 *
 * @param subset - the subset
 * @param batchSize - images per batch, an integer >= 1
 * @param dropLast - whether a last partial batch is skipped @defaultValue false
 * @returns `ceil(n / batchSize)`, or `floor(n / batchSize)` with `dropLast`
 */
export function numBatches(subset: Subset, batchSize: number, dropLast = false): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw invalid('batchSize', `batchSize must be an integer >= 1, got ${batchSize}.`, batchSize);
  }
  const n = subset.indices.length;
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/**
 * Copy one HWC uint8 image into `out` at `dst` as [0,1] floats, optionally shifted by a crop
 * offset and mirrored.
 *
 * @remarks Output pixel (y, x) is padded-image pixel (y + dy, x' + dx) with x' = 31 - x when
 * flipped: the source pixel (y + dy - 4, x' + dx - 4), or 0 outside the image. That is
 * torchvision's RandomCrop(32, padding=4) followed by RandomHorizontalFlip.
 */
function fillImage(images: Uint8Array, src: number, out: Float32Array, dst: number, dy: number, dx: number, flip: boolean): void {
  const oy = dy - AUGMENT_PADDING;
  const ox = dx - AUGMENT_PADDING;
  for (let y = 0; y < 32; y++) {
    const sy = y + oy;
    const row = dst + y * 96;
    if (sy < 0 || sy >= 32) {
      out.fill(0, row, row + 96);
      continue;
    }
    for (let x = 0; x < 32; x++) {
      const sx = (flip ? 31 - x : x) + ox;
      const o = row + x * 3;
      if (sx < 0 || sx >= 32) {
        out[o] = 0;
        out[o + 1] = 0;
        out[o + 2] = 0;
      } else {
        const s = src + (sy * 32 + sx) * 3;
        out[o] = TO_UNIT[images[s]];
        out[o + 1] = TO_UNIT[images[s + 1]];
        out[o + 2] = TO_UNIT[images[s + 2]];
      }
    }
  }
}

/**
 * Iterate over a subset in mini-batches, building each batch from the uint8 pixels on demand.
 *
 * @param subset - the images to batch
 * @param options - see {@link BatchesOptions}
 * @returns a generator of {@link Batch}; **the caller disposes each batch's `x` and `y`**
 *   (e.g. `tf.dispose([b.x, b.y])`) — the generator keeps no reference to them
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for a bad `batchSize`, `shuffle` or
 *   `augment` without `rng`, or a `labelsOverride` whose length is not the subset size
 *   (thrown when iteration starts)
 * @remarks
 * Only one batch exists at a time: one Float32Array of `b*3072` values, handed to
 * `tf.tensor4d`. Each call is one epoch: with `shuffle` it draws a permutation from `rng`
 * when iteration starts, so every position is visited exactly once. With `augment`, each
 * image draws, in order, a crop row offset and a column offset (`rng.int(9)`, 0..8 in the
 * 40x40 zero-padded image) and a flip (`rng.next() < 0.5`). Draws happen lazily, as batches
 * are taken, so the same `rng` state gives the same batches.
 * @example
 * ```ts
 * for (const b of batches(splits.retain, { batchSize: 128, shuffle: true, augment: true, rng })) {
 *   try { step(b.x, b.y); } finally { tf.dispose([b.x, b.y]); }
 * }
 * ```
 */
export function* batches(subset: Subset, options: BatchesOptions): Generator<Batch, void, undefined> {
  const { batchSize, shuffle = false, augment = false, rng, dropLast = false, labelsOverride } = options;
  const count = numBatches(subset, batchSize, dropLast);
  const n = subset.indices.length;
  if ((shuffle || augment) && rng === undefined) {
    throw invalid('rng', `${shuffle ? 'shuffle' : 'augment'} needs a seeded rng: pass rng (e.g. new Rng(seed).fork('data')).`, undefined);
  }
  if (labelsOverride !== undefined && labelsOverride.length !== n) {
    throw invalid(
      'labelsOverride',
      `labelsOverride has ${labelsOverride.length} labels but the subset has ${n} images; pass one per subset position.`,
      labelsOverride.length,
    );
  }
  let order: Int32Array;
  if (shuffle && rng !== undefined) order = rng.permutation(n);
  else {
    order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
  }
  const { images, labels } = subset.source;
  for (let b = 0; b < count; b++) {
    const start = b * batchSize;
    const size = Math.min(batchSize, n - start);
    const positions = order.slice(start, start + size);
    const indices = new Int32Array(size);
    const x = new Float32Array(size * CIFAR10_IMAGE_BYTES);
    const y = new Int32Array(size);
    for (let k = 0; k < size; k++) {
      const p = positions[k];
      const i = subset.indices[p];
      indices[k] = i;
      y[k] = labelsOverride !== undefined ? labelsOverride[p] : labels[i];
      const src = i * CIFAR10_IMAGE_BYTES;
      const dst = k * CIFAR10_IMAGE_BYTES;
      if (augment && rng !== undefined) {
        const dy = rng.int(2 * AUGMENT_PADDING + 1);
        const dx = rng.int(2 * AUGMENT_PADDING + 1);
        const flip = rng.next() < 0.5;
        fillImage(images, src, x, dst, dy, dx, flip);
      } else {
        for (let j = 0; j < CIFAR10_IMAGE_BYTES; j++) x[dst + j] = TO_UNIT[images[src + j]];
      }
    }
    yield {
      x: tf.tensor4d(x, [size, 32, 32, 3], 'float32'),
      y: tf.tensor1d(y, 'int32'),
      indices,
      positions,
    };
  }
}

/**
 * The whole subset as two tensors, for small sets (evaluation on a few thousand images).
 *
 * @param subset - the images
 * @returns `x` float32 `[n, 32, 32, 3]` in [0, 1] and `y` int32 `[n]`; **the caller disposes
 *   both**. 10,000 images take 123 MB as float32: use {@link batches} for more.
 */
export function toTensor(subset: Subset): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const n = subset.indices.length;
  const { images, labels } = subset.source;
  const x = new Float32Array(n * CIFAR10_IMAGE_BYTES);
  const y = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = subset.indices[k];
    y[k] = labels[i];
    const src = i * CIFAR10_IMAGE_BYTES;
    const dst = k * CIFAR10_IMAGE_BYTES;
    for (let j = 0; j < CIFAR10_IMAGE_BYTES; j++) x[dst + j] = TO_UNIT[images[src + j]];
  }
  return { x: tf.tensor4d(x, [n, 32, 32, 3], 'float32'), y: tf.tensor1d(y, 'int32') };
}
