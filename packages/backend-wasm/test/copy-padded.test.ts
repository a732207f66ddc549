import { describe, expect, it } from 'vitest';
import { copyPadded } from '../src/simd/conv-gradients-simd.js';

/** The reference: dst[n, i + top, j + left, c] = src[n, i, j, c] where inside, zero elsewhere. */
function reference(src: Float32Array, [N, H, W, C]: number[], [Hd, Wd, Cd]: number[], top: number, left: number): Float32Array {
  const out = new Float32Array(N * Hd * Wd * Cd);
  for (let n = 0; n < N; n++)
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++)
        for (let c = 0; c < C; c++) {
          const ii = i + top;
          const jj = j + left;
          if (ii < 0 || ii >= Hd || jj < 0 || jj >= Wd) continue;
          out[((n * Hd + ii) * Wd + jj) * Cd + c] = src[((n * H + i) * W + j) * C + c];
        }
  return out;
}

describe('copyPadded (staging of conv operands)', () => {
  it.each([
    // [src dims, dst dims, top, left]
    [[2, 4, 5, 8], [6, 7, 8], 1, 1], // 'same' padding of a 3×3 conv
    [[2, 4, 5, 8], [4, 5, 8], 0, 0], // exact
    [[3, 5, 5, 3], [7, 7, 4], 1, 1], // channels padded (3 → 4)
    [[1, 6, 6, 4], [4, 4, 4], -1, -2], // cropped
    [[2, 3, 3, 4], [5, 9, 4], 2, 3], // padding after as well
    [[1, 2, 2, 4], [3, 3, 4], 0, 5], // nothing lands inside
  ] as Array<[number[], number[], number, number]>)(
    '%j into %j at (%i, %i): copies and zeroes everything else',
    (dims, dDims, top, left) => {
      const size = dims.reduce((a, b) => a * b, 1);
      const src = Float32Array.from({ length: size }, (_, i) => i + 1);
      const dst = new Float32Array(dims[0] * dDims[0] * dDims[1] * dDims[2]).fill(Number.NaN); // stale data
      copyPadded(src, dims as [number, number, number, number], dst, dDims as [number, number, number], top, left);
      expect(Array.from(dst)).toEqual(Array.from(reference(src, dims, dDims, top, left)));
    },
  );
});
