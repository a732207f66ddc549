import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Rng,
  isUnlearnError,
  type ImageSet,
  batches,
  channelMeans,
  createImageSet,
  fullSubset,
  numBatches,
  subsetOf,
  toTensor,
} from '@unlearnjs/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Image i, pixel (y, x), channel c = (i*13 + y*32 + x + c*101) % 256 (HWC). */
const value = (i: number, y: number, x: number, c: number) => (i * 13 + y * 32 + x + c * 101) % 256;

function synthetic(n: number): ImageSet {
  const images = new Uint8Array(n * 3072);
  for (let i = 0; i < n; i++)
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) images[i * 3072 + (y * 32 + x) * 3 + c] = value(i, y, x, c);
  return createImageSet({ images, labels: Uint8Array.from({ length: n }, (_, i) => (i * 3) % 10) });
}

const set = synthetic(23);
const all = fullSubset(set);

/** An Rng stand-in that returns fixed crop offsets and flip, to check the crop by hand. */
function fixedRng(dy: number, dx: number, flip: boolean): Rng {
  let k = 0;
  return {
    int: () => (k++ % 2 === 0 ? dy : dx),
    next: () => (flip ? 0.25 : 0.75),
    permutation: (n: number) => Int32Array.from({ length: n }, (_, i) => i),
  } as unknown as Rng;
}

function take(sub = all, opts: Parameters<typeof batches>[1]) {
  const out: { x: Float32Array; y: Int32Array; indices: Int32Array; shape: number[] }[] = [];
  for (const b of batches(sub, opts)) {
    out.push({ x: b.x.dataSync() as Float32Array, y: b.y.dataSync() as Int32Array, indices: b.indices, shape: b.x.shape });
    expect(b.y.dtype).toBe('int32');
    expect(b.x.dtype).toBe('float32');
    tf.dispose([b.x, b.y]);
  }
  return out;
}

describe('batches', () => {
  it('without augmentation gives raw pixels / 255, true labels, in subset order', () => {
    const sub = subsetOf(set, [4, 0, 17, 9, 2]);
    const got = take(sub, { batchSize: 2 });
    expect(got.map((b) => b.shape)).toEqual([
      [2, 32, 32, 3],
      [2, 32, 32, 3],
      [1, 32, 32, 3],
    ]);
    expect(got.flatMap((b) => Array.from(b.indices))).toEqual([4, 0, 17, 9, 2]);
    expect(got.flatMap((b) => Array.from(b.y))).toEqual([4, 0, 17, 9, 2].map((i) => set.labels[i]));
    got.forEach((b, bi) => {
      for (let k = 0; k < b.indices.length; k++) {
        const i = b.indices[k];
        for (let j = 0; j < 3072; j++)
          if (b.x[k * 3072 + j] !== Math.fround(set.images[i * 3072 + j] / 255)) throw new Error(`batch ${bi} image ${k} byte ${j}`);
      }
    });
  });

  it('counts batches with and without dropLast', () => {
    expect(numBatches(all, 5)).toBe(5);
    expect(numBatches(all, 5, true)).toBe(4);
    expect(take(all, { batchSize: 5, dropLast: true }).map((b) => b.indices.length)).toEqual([5, 5, 5, 5]);
    expect(numBatches(all, 23, true)).toBe(1);
    expect(take(subsetOf(set, []), { batchSize: 4 })).toEqual([]);
  });

  it('shuffles every index exactly once per epoch, seeded', () => {
    const rng = new Rng(9);
    const epoch1 = take(all, { batchSize: 4, shuffle: true, rng }).flatMap((b) => Array.from(b.indices));
    const epoch2 = take(all, { batchSize: 4, shuffle: true, rng }).flatMap((b) => Array.from(b.indices));
    const again = take(all, { batchSize: 4, shuffle: true, rng: new Rng(9) }).flatMap((b) => Array.from(b.indices));
    const ids = Array.from({ length: 23 }, (_, i) => i);
    expect([...epoch1].sort((a, b) => a - b)).toEqual(ids);
    expect([...epoch2].sort((a, b) => a - b)).toEqual(ids);
    expect(epoch1).not.toEqual(ids);
    expect(epoch2).not.toEqual(epoch1);
    expect(again).toEqual(epoch1);
  });

  it('crops with 4-pixel zero padding: offset (0, 8) moves content down 4 and left 4', () => {
    const [b] = take(subsetOf(set, [5]), { batchSize: 1, augment: true, rng: fixedRng(0, 8, false) });
    const at = (y: number, x: number, c: number) => b.x[(y * 32 + x) * 3 + c];
    for (let y = 0; y < 32; y++)
      for (let x = 0; x < 32; x++)
        for (let c = 0; c < 3; c++) {
          // padded row y+0 is image row y-4; padded column x+8 is image column x+4
          const want = y < 4 || x >= 28 ? 0 : value(5, y - 4, x + 4, c) / 255;
          expect(at(y, x, c)).toBeCloseTo(want, 6);
        }
    expect(at(4, 0, 0)).toBeCloseTo(value(5, 0, 4, 0) / 255, 6);
    expect(at(31, 27, 2)).toBeCloseTo(value(5, 27, 31, 2) / 255, 6);
  });

  it('flips horizontally: centre crop + flip mirrors columns', () => {
    const [b] = take(subsetOf(set, [3]), { batchSize: 1, augment: true, rng: fixedRng(4, 4, true) });
    for (let y = 0; y < 32; y += 5)
      for (let x = 0; x < 32; x++) expect(b.x[(y * 32 + x) * 3 + 1]).toBeCloseTo(value(3, y, 31 - x, 1) / 255, 6);
    const [plain] = take(subsetOf(set, [3]), { batchSize: 1, augment: true, rng: fixedRng(4, 4, false) });
    expect(Array.from(plain.x)).toEqual(Array.from(take(subsetOf(set, [3]), { batchSize: 1 })[0].x));
  });

  it('augments deterministically under a seed, and each image is a shifted, maybe flipped copy', () => {
    const a = take(all, { batchSize: 8, augment: true, shuffle: true, rng: new Rng(1) });
    const b = take(all, { batchSize: 8, augment: true, shuffle: true, rng: new Rng(1) });
    const c = take(all, { batchSize: 8, augment: true, shuffle: true, rng: new Rng(2) });
    expect(a.map((t) => Array.from(t.x))).toEqual(b.map((t) => Array.from(t.x)));
    expect(a.map((t) => Array.from(t.x))).not.toEqual(c.map((t) => Array.from(t.x)));
    // Every augmented image equals exactly one of the 9*9*2 candidate transforms.
    let flips = 0;
    for (const t of a)
      for (let k = 0; k < t.indices.length; k++) {
        const i = t.indices[k];
        const img = t.x.subarray(k * 3072, (k + 1) * 3072);
        const matches: [number, number, boolean][] = [];
        for (let dy = 0; dy < 9; dy++)
          for (let dx = 0; dx < 9; dx++)
            for (const flip of [false, true]) {
              let ok = true;
              for (let y = 0; y < 32 && ok; y++)
                for (let x = 0; x < 32 && ok; x++) {
                  const sy = y + dy - 4;
                  const sx = (flip ? 31 - x : x) + dx - 4;
                  const want = sy < 0 || sy > 31 || sx < 0 || sx > 31 ? 0 : Math.fround(value(i, sy, sx, 0) / 255);
                  ok = img[(y * 32 + x) * 3] === want;
                }
              if (ok) matches.push([dy, dx, flip]);
            }
        expect(matches.length).toBeGreaterThanOrEqual(1);
        if (matches.every((m) => m[2])) flips++;
      }
    expect(flips).toBeGreaterThan(0);
    expect(flips).toBeLessThan(23);
  });

  it('uses labelsOverride by subset position', () => {
    const sub = subsetOf(set, [10, 11, 12]);
    const got = take(sub, { batchSize: 3, labelsOverride: Uint8Array.from([7, 8, 9]) });
    expect(Array.from(got[0].y)).toEqual([7, 8, 9]);
    const rng = new Rng(3);
    const shuffled = take(sub, { batchSize: 3, shuffle: true, rng, labelsOverride: Uint8Array.from([7, 8, 9]) });
    expect(Array.from(shuffled[0].y)).toEqual(Array.from(shuffled[0].indices).map((i) => i - 3));
  });

  it('rejects bad options', () => {
    const code = (f: () => void) => {
      try {
        f();
      } catch (err) {
        return isUnlearnError(err) ? [err.code, err.details.field] : err;
      }
      return 'no error';
    };
    expect(code(() => batches(all, { batchSize: 0 }).next())).toEqual(['UNLEARN_INVALID_OPTIONS', 'batchSize']);
    expect(code(() => batches(all, { batchSize: 2, shuffle: true }).next())).toEqual(['UNLEARN_INVALID_OPTIONS', 'rng']);
    expect(code(() => batches(all, { batchSize: 2, augment: true }).next())).toEqual(['UNLEARN_INVALID_OPTIONS', 'rng']);
    expect(code(() => batches(all, { batchSize: 2, labelsOverride: new Uint8Array(3) }).next())).toEqual([
      'UNLEARN_INVALID_OPTIONS',
      'labelsOverride',
    ]);
  });

  it('leaks no tensors when iterating and disposing, even when stopping early', () => {
    const before = tf.memory().numTensors;
    for (const b of batches(all, { batchSize: 4, augment: true, shuffle: true, rng: new Rng(0) })) tf.dispose([b.x, b.y]);
    for (const b of batches(all, { batchSize: 4 })) {
      tf.dispose([b.x, b.y]);
      break;
    }
    const t = toTensor(all);
    tf.dispose([t.x, t.y]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('toTensor and channelMeans', () => {
  it('toTensor equals the concatenated unaugmented batches', () => {
    const sub = subsetOf(set, [3, 1, 4, 1, 5]);
    const t = toTensor(sub);
    expect(t.x.shape).toEqual([5, 32, 32, 3]);
    const b = take(sub, { batchSize: 5 })[0];
    expect(Array.from(t.x.dataSync())).toEqual(Array.from(b.x));
    expect(Array.from(t.y.dataSync())).toEqual(Array.from(b.y));
    tf.dispose([t.x, t.y]);
  });

  it('channelMeans averages each channel over every pixel', () => {
    const images = new Uint8Array(2 * 3072);
    for (let p = 0; p < 1024; p++) {
      images.set([255, 0, 51], p * 3);
      images.set([0, 0, 102], 3072 + p * 3);
    }
    const s = createImageSet({ images, labels: new Uint8Array(2) });
    const [r, g, b] = channelMeans(s);
    expect(r).toBeCloseTo(0.5, 12);
    expect(g).toBe(0);
    expect(b).toBeCloseTo(0.3, 12);
    expect(channelMeans(subsetOf(s, [1]))).toEqual([0, 0, 0.4]);
  });
});
