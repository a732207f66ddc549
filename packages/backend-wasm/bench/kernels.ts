/**
 * Micro-benchmark of the wasm training kernels against the stock tfjs-backend-wasm kernels.
 *
 * Run: npx tsx --conditions=@unlearnjs/source packages/backend-wasm/bench/kernels.ts [--quick]
 *
 * Prints one JSON line per (kernel, shape, implementation): median milliseconds over repeated
 * calls after a warm-up, and GFLOP/s (2 × multiply-adds / time) where the kernel does
 * arithmetic. `impl: "stock"` rows appear only where tfjs-backend-wasm 4.22 has the kernel; for the
 * two regular conv gradients `impl: "xnnpack"` is our kernel with the SIMD module turned off
 * (the formulation as one XNNPACK conv) and `impl: "ours"` the default (SIMD where it is used).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels, setSimdConvGradients, unregisterWasmTrainingKernels } from '@unlearnjs/backend-wasm';

const quick = process.argv.includes('--quick');
const BUDGET_MS = quick ? 150 : 600;

interface Case {
  kernel: string;
  label: string;
  inputs: () => Record<string, tf.Tensor>;
  attrs: Record<string, unknown>;
  /** Multiply-adds, or 0 for data movement kernels. */
  macs: number;
}

function rnd(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, 'float32', seed);
}

function convCases(): Case[] {
  const out: Case[] = [];
  // ResNet-18 layers at batch 64: every distinct conv of width 16, and two of width 64.
  const layers: Array<[number, number, number, number, number, number]> = [
    // [N, H, Cin, Cout, k, stride]
    [64, 32, 3, 16, 3, 1],
    [64, 32, 16, 16, 3, 1],
    [64, 32, 16, 32, 3, 2],
    [64, 32, 16, 32, 1, 2],
    [64, 16, 32, 32, 3, 1],
    [64, 16, 32, 64, 3, 2],
    [64, 8, 64, 64, 3, 1],
    [64, 8, 64, 128, 3, 2],
    [64, 4, 128, 128, 3, 1],
    [64, 32, 64, 64, 3, 1],
    [64, 4, 512, 512, 3, 1],
  ];
  for (const [n, h, cin, cout, k, s] of layers) {
    const ho = Math.ceil(h / s);
    const macs = n * ho * ho * cout * k * k * cin;
    const label = `x[${n},${h},${h},${cin}] w[${k},${k},${cin},${cout}] s${s} same`;
    out.push({
      kernel: 'Conv2DBackpropFilter',
      label,
      inputs: () => ({ x: rnd([n, h, h, cin], 1), dy: rnd([n, ho, ho, cout], 2) }),
      attrs: { strides: [s, s], pad: 'same', dataFormat: 'NHWC', filterShape: [k, k, cin, cout] },
      macs,
    });
    out.push({
      kernel: 'Conv2DBackpropInput',
      label,
      inputs: () => ({ dy: rnd([n, ho, ho, cout], 3), filter: rnd([k, k, cin, cout], 4) }),
      attrs: { strides: [s, s], pad: 'same', dataFormat: 'NHWC', inputShape: [n, h, h, cin] },
      macs,
    });
  }
  for (const [n, h, c, k, s] of [
    [32, 32, 32, 3, 1],
    [32, 32, 32, 3, 2],
  ] as Array<[number, number, number, number, number]>) {
    const ho = Math.ceil(h / s);
    const macs = n * ho * ho * c * k * k;
    const label = `x[${n},${h},${h},${c}] w[${k},${k},${c},1] s${s} same`;
    out.push({
      kernel: 'DepthwiseConv2dNativeBackpropFilter',
      label,
      inputs: () => ({ x: rnd([n, h, h, c], 5), dy: rnd([n, ho, ho, c], 6) }),
      attrs: { strides: [s, s], dilations: [1, 1], pad: 'same', filterShape: [k, k, c, 1] },
      macs,
    });
    out.push({
      kernel: 'DepthwiseConv2dNativeBackpropInput',
      label,
      inputs: () => ({ dy: rnd([n, ho, ho, c], 7), filter: rnd([k, k, c, 1], 8) }),
      attrs: { strides: [s, s], dilations: [1, 1], pad: 'same', inputShape: [n, h, h, c] },
      macs,
    });
  }
  return out;
}

function matMulCases(): Case[] {
  const out: Case[] = [];
  // ViT 192/6/3/384 at batch 16: 65 tokens, 3 heads of 64.
  const tokens = 16 * 65;
  const dense: Array<[number, number, number, boolean, boolean, string]> = [
    [tokens, 192, 576, false, false, 'qkv forward'],
    [tokens, 576, 192, false, true, 'qkv dX = dY·Wᵀ'],
    [192, tokens, 576, true, false, 'qkv dW = Xᵀ·dY'],
  ];
  for (const [m, k, n, ta, tb, what] of dense) {
    out.push({
      kernel: 'BatchMatMul',
      label: `${what} [${m}x${k}]·[${k}x${n}] tA=${ta} tB=${tb}`,
      inputs: () => ({ a: rnd(ta ? [1, k, m] : [1, m, k], 9), b: rnd(tb ? [1, n, k] : [1, k, n], 10) }),
      attrs: { transposeA: ta, transposeB: tb },
      macs: m * k * n,
    });
  }
  const heads = 16 * 3;
  const attn: Array<[number, number, number, boolean, boolean, string]> = [
    [65, 64, 65, false, true, 'scores Q·Kᵀ'],
    [65, 65, 64, false, false, 'context P·V'],
    [65, 65, 64, true, false, 'dK-like Pᵀ·dY'],
  ];
  for (const [m, k, n, ta, tb, what] of attn) {
    out.push({
      kernel: 'BatchMatMul',
      label: `${what} batch ${heads} [${m}x${k}]·[${k}x${n}] tA=${ta} tB=${tb}`,
      inputs: () => ({ a: rnd(ta ? [heads, k, m] : [heads, m, k], 11), b: rnd(tb ? [heads, n, k] : [heads, k, n], 12) }),
      attrs: { transposeA: ta, transposeB: tb },
      macs: heads * m * k * n,
    });
  }
  out.push({
    kernel: 'BatchMatMul',
    label: `rank-3 dense [16,65,192]·[1,192,768]`,
    inputs: () => ({ a: rnd([16, 65, 192], 13), b: rnd([1, 192, 768], 14) }),
    attrs: { transposeA: false, transposeB: false },
    macs: 16 * 65 * 192 * 768,
  });
  return out;
}

function tileCases(): Case[] {
  return [
    {
      kernel: 'Tile',
      label: 'BatchNorm [1,1,1,64] x [32,16,16,1]',
      inputs: () => ({ x: rnd([1, 1, 1, 64], 15) }),
      attrs: { reps: [32, 16, 16, 1] },
      macs: 0,
    },
    {
      kernel: 'Tile',
      label: 'BatchNorm [1,1,1,16] x [32,32,32,1]',
      inputs: () => ({ x: rnd([1, 1, 1, 16], 16) }),
      attrs: { reps: [32, 32, 32, 1] },
      macs: 0,
    },
  ];
}

function time(c: Case, inputs: Record<string, tf.Tensor>): number {
  const once = () => {
    const t0 = performance.now();
    const out = tf.engine().runKernel(c.kernel, inputs, c.attrs as never) as tf.Tensor;
    const ms = performance.now() - t0;
    out.dispose();
    return ms;
  };
  once();
  const first = once();
  const reps = Math.max(3, Math.min(50, Math.floor(BUDGET_MS / Math.max(first, 0.05))));
  const samples = [first];
  for (let i = 1; i < reps; i++) samples.push(once());
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

async function main(): Promise<void> {
  await tf.setBackend('wasm');
  const cases = [...convCases(), ...matMulCases(), ...tileCases()];
  for (const c of cases) {
    const inputs = c.inputs();
    const rows: Array<{ impl: string; ms: number }> = [];
    unregisterWasmTrainingKernels();
    if (tf.getKernel(c.kernel, 'wasm') !== undefined) rows.push({ impl: 'stock', ms: time(c, inputs) });
    registerWasmTrainingKernels();
    if (c.kernel === 'Conv2DBackpropFilter' || c.kernel === 'Conv2DBackpropInput') {
      setSimdConvGradients(false);
      rows.push({ impl: 'xnnpack', ms: time(c, inputs) });
      setSimdConvGradients(true);
    }
    rows.push({ impl: 'ours', ms: time(c, inputs) });
    const stockMs = rows.find((r) => r.impl === 'stock')?.ms;
    for (const r of rows) {
      const line: Record<string, unknown> = {
        kernel: c.kernel,
        shape: c.label,
        impl: r.impl,
        ms: Number(r.ms.toFixed(3)),
        gflops: c.macs > 0 ? Number(((2 * c.macs) / (r.ms * 1e6)).toFixed(2)) : null,
      };
      if (r.impl === 'ours' && stockMs !== undefined) line.speedup = Number((stockMs / r.ms).toFixed(2));
      console.log(JSON.stringify(line));
    }
    tf.dispose(Object.values(inputs));
  }
  unregisterWasmTrainingKernels();
}

await main();
