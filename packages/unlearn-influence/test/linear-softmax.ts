import * as tf from '@tensorflow/tfjs-core';
import { CIFAR10_IMAGE_BYTES, type ImageSet, Model, type ModelDefinition, Rng, type Subset, createImageSet } from '@unlearnjs/core';

/** Pixels of the first image row the linear model reads (3 channels each). */
export const PIXELS = 4;
/** Input features of the linear model. */
export const FEATURES = PIXELS * 3;

/**
 * A linear softmax classifier on the first `PIXELS` pixels of row 0: logits = x·W + b with
 * W `[FEATURES, classes]` (prunable) and b `[classes]`. Small enough for closed forms in plain JS.
 */
export function linearDefinition(classes = 10): ModelDefinition {
  return {
    arch: 'linear-test',
    config: { classes },
    params: [
      { name: 'dense.kernel', shape: [FEATURES, classes], init: 'normal:0.8' },
      { name: 'dense.bias', shape: [classes], init: 'normal:0.3' },
    ],
    buffers: [],
    prunable: ['dense.kernel'],
    classifier: { kernel: 'dense.kernel', bias: 'dense.bias' },
    forward(x, ctx) {
      return tf.tidy(() => {
        const n = x.shape[0];
        const feats = tf.reshape(tf.slice(x, [0, 0, 0, 0], [n, 1, PIXELS, 3]), [n, FEATURES]) as tf.Tensor2D;
        return tf.add(tf.matMul(feats, ctx.w('dense.kernel') as tf.Tensor2D), ctx.w('dense.bias')) as tf.Tensor2D;
      });
    },
  };
}

/** A linear model with seeded weights; the caller disposes it. */
export function linearModel(seed: number, classes = 10): Model {
  return new Model(linearDefinition(classes), new Rng(seed));
}

/** `n` images of random bytes with random labels in 0..9. */
export function randomImageSet(n: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * CIFAR10_IMAGE_BYTES);
  for (let i = 0; i < images.length; i++) images[i] = rng.int(256);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = rng.int(10);
  return createImageSet({ images, labels });
}

/** The linear model's input features of a subset's images, in subset order (float64). */
export function featuresOf(subset: Subset): number[][] {
  const out: number[][] = [];
  for (const i of subset.indices) {
    const base = i * CIFAR10_IMAGE_BYTES;
    const row: number[] = [];
    for (let j = 0; j < FEATURES; j++) row.push(subset.source.images[base + j] / 255);
    out.push(row);
  }
  return out;
}

/** Labels of a subset, in subset order. */
export function labelsOf(subset: Subset): number[] {
  return Array.from(subset.indices, (i) => subset.source.labels[i]);
}

/** Weights of the linear model as plain arrays: W[f][c] and b[c]. */
export function weightsOf(model: Model): { W: number[][]; b: number[] } {
  const w = model.params.get('dense.kernel') as tf.Variable;
  const [F, C] = w.shape;
  const flat = w.dataSync();
  const W = Array.from({ length: F }, (_, f) => Array.from({ length: C }, (_, c) => flat[f * C + c]));
  return { W, b: Array.from((model.params.get('dense.bias') as tf.Variable).dataSync()) };
}

/** Softmax probabilities of one input under (W, b), in float64. */
export function softmaxOf(x: number[], W: number[][], b: number[]): number[] {
  const z = b.map((bc, c) => bc + x.reduce((s, xf, f) => s + xf * W[f][c], 0));
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / s);
}

/**
 * Closed-form gradient of the mean cross-entropy of samples (x_i, y_i) for the linear model:
 * ∂/∂W = mean_i x_i (p_i − e_{y_i})ᵀ, ∂/∂b = mean_i (p_i − e_{y_i}).
 */
export function linearCeGradient(xs: number[][], ys: number[], W: number[][], b: number[]): { gW: number[][]; gb: number[] } {
  const F = W.length;
  const C = b.length;
  const gW = Array.from({ length: F }, () => new Array<number>(C).fill(0));
  const gb = new Array<number>(C).fill(0);
  xs.forEach((x, i) => {
    const p = softmaxOf(x, W, b);
    for (let c = 0; c < C; c++) {
      const d = (p[c] - (c === ys[i] ? 1 : 0)) / xs.length;
      gb[c] += d;
      for (let f = 0; f < F; f++) gW[f][c] += x[f] * d;
    }
  });
  return { gW, gb };
}

/** Largest |a − b| / (|b| + floor) over two equally shaped nested arrays. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (Math.abs(b[i]) + floor));
  return m;
}
