/**
 * The sparse plane kernels against the dense ones, per ResNet-18 layer and mask density.
 *
 *   npx tsx --conditions=@unlearnjs/source packages/backend-wasm/bench/sparse-conv.ts [--threads 2] [--quick]
 *
 * For each stride-1 3×3 conv of ResNet-18 w16 (and two of w64) at batch 64, and each density,
 * times the forward conv, the input gradient (both with a pruned filter) and the masked filter
 * gradient (`UnlearnConv2DMaskedFilterGrad`) on the sparse kernels, and the same three on the
 * dense kernels (the sparse path turned off). Prints one JSON line per (layer, density) with the
 * medians in ms and the dense/sparse ratio of each: where a ratio is below 1 the dense kernel
 * is faster, which sets `SPARSE_CONV_MAX_DENSITY`.
 */
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import { MASKED_CONV_KERNELS, createMemoryLogger, initBackend } from '@unlearnjs/core';
import { setSparseConvMaxDensity, wasmTrainingBackend } from '@unlearnjs/backend-wasm';

const argv = process.argv.slice(2);
const threads = argv.includes('--threads') ? Number(argv[argv.indexOf('--threads') + 1]) : 1;
const quick = argv.includes('--quick');
const BUDGET_MS = quick ? 150 : 500;
const DENSITIES = quick ? [0.02, 0.1] : [0.01, 0.03, 0.06, 0.1, 0.2, 0.35];
// [N, H, C] of the stride-1 3×3 C → C convs.
const LAYERS: Array<[number, number, number]> = [
  [64, 32, 16],
  [64, 16, 32],
  [64, 8, 64],
  [64, 4, 128],
  [64, 8, 256],
  [64, 4, 512],
];

function median(f: () => void): number {
  f();
  const samples: number[] = [];
  let spent = 0;
  while (samples.length < 3 || (spent < BUDGET_MS && samples.length < 30)) {
    const t0 = performance.now();
    f();
    const ms = performance.now() - t0;
    spent += ms;
    samples.push(ms);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

await initBackend('wasm', { logger: createMemoryLogger(), extensions: [wasmTrainingBackend], threads });
for (const [n, h, c] of LAYERS) {
  const x = tf.randomUniform([n, h, h, c], -1, 1, 'float32', 1) as tf.Tensor4D;
  const dy = tf.randomUniform([n, h, h, c], -1, 1, 'float32', 2) as tf.Tensor4D;
  const w = tf.randomUniform([3, 3, c, c], -1, 1, 'float32', 3) as tf.Tensor4D;
  const u = tf.randomUniform([3, 3, c, c], 0, 1, 'float32', 4);
  const attrs = {
    strides: [1, 1],
    pad: 'same',
    dataFormat: 'NHWC',
    dimRoundingMode: undefined,
    filterShape: [3, 3, c, c],
  } as unknown as tf.NamedAttrMap;
  for (const density of DENSITIES) {
    const mask = tf.cast(tf.less(u, density), 'float32');
    const wp = tf.mul(w, mask) as tf.Tensor4D;
    const run = () => ({
      forward: median(() => tf.conv2d(x, wp, 1, 'same').dispose()),
      inputGradient: median(() => tf.conv2dTranspose(dy, wp, x.shape, 1, 'same').dispose()),
      filterGradient: median(() => (tf.engine().runKernel(MASKED_CONV_KERNELS, { x, dy, mask }, attrs) as tf.Tensor).dispose()),
    });
    setSparseConvMaxDensity(1);
    const sparse = run();
    setSparseConvMaxDensity(0);
    const dense = run();
    setSparseConvMaxDensity();
    const ratio = (k: keyof typeof sparse) => Number((dense[k] / sparse[k]).toFixed(2));
    const round = (o: typeof sparse) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Number(v.toFixed(2))]));
    console.log(
      JSON.stringify({
        layer: `${n}x${h}x${h}x${c} 3x3`,
        density,
        threads,
        sparseMs: round(sparse),
        denseMs: round(dense),
        denseOverSparse: { forward: ratio('forward'), inputGradient: ratio('inputGradient'), filterGradient: ratio('filterGradient') },
        loadavg: Number(os.loadavg()[0].toFixed(2)),
      }),
    );
    tf.dispose([mask, wp]);
  }
  tf.dispose([x, dy, w, u]);
}
