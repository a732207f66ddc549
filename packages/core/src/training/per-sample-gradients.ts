import * as tf from '@tensorflow/tfjs-core';
import { UnlearnError } from '../errors/unlearn-error.js';
import { NORM_EPSILON } from '../models/layers/norm-constants.js';
import { CIFAR10_MEAN, CIFAR10_STD } from '../models/layers/normalize-cifar.js';
import type { Model } from '../models/model.js';
import type { ParamVector } from './gradient-tools.js';

/** A tensor of the eval-mode forward pass recorded by a {@link PerSampleTape}. */
export interface TapeValue {
  /** Position on the tape. */
  readonly id: number;
  /** The forward value, batch first (`[b, ...]`); owned by the tape. */
  readonly tensor: tf.Tensor;
}

/**
 * The layers a {@link PerSampleForward} may use: an eval-mode forward pass that records what
 * the batched backward passes of {@link batchedPerSampleGradients} and
 * {@link batchedDirectionalGradients} need. Every parameter is read from the model by name.
 */
export interface PerSampleTape {
  /** The network input, raw `[b, h, w, c]` pixels (no gradient flows to it). */
  input(x: tf.Tensor4D): TapeValue;
  /** `(x − mean) / std` with the CIFAR-10 channel statistics (as `normalizeCifar`). */
  normalizeCifar(x: TapeValue): TapeValue;
  /** `(x − shift) · scale`, both constants broadcast over the last axis. */
  affine(x: TapeValue, shift: number, scale: number): TapeValue;
  /** `same`-padded conv with the HWIO kernel `kernel` (and an optional bias), as `tf.conv2d`. */
  conv2d(x: TapeValue, kernel: string, stride: number, bias?: string): TapeValue;
  /** Eval-mode BatchNorm `prefix` (`.gamma`, `.beta`, buffers `.runningMean`, `.runningVar`). */
  batchNorm(x: TapeValue, prefix: string): TapeValue;
  /** `max(x, 0)`. */
  relu(x: TapeValue): TapeValue;
  /** `a + b` (same shapes). */
  add(a: TapeValue, b: TapeValue): TapeValue;
  /** Mean over the spatial axes: `[b, h, w, c]` → `[b, c]`. */
  meanPool(x: TapeValue): TapeValue;
  /** `[b, ...]` → `[b, prod(...)]`. */
  flatten(x: TapeValue): TapeValue;
  /** `x · kernel (+ bias)` for `x` `[b, in]`. */
  dense(x: TapeValue, kernel: string, bias?: string): TapeValue;
}

/**
 * An architecture's eval-mode forward pass written with {@link PerSampleTape} layers; it must
 * compute the same logits as `model.forward(x, { training: false })`.
 */
export type PerSampleForward = (x: tf.Tensor4D, tape: PerSampleTape) => TapeValue;

/** Options of the batched gradient functions. */
export interface BatchedGradientOptions {
  /** The parameters to differentiate. @defaultValue `model.trainableVariables()` */
  variables?: ReadonlyMap<string, tf.Variable>;
  /** Multiply the gradient of each pruned weight by its mask. @defaultValue true */
  masked?: boolean;
  /**
   * The architecture's forward on the tape, for models core does not know.
   * @defaultValue the built-in one for `model.arch` ({@link perSampleForwardOf})
   */
  forward?: PerSampleForward;
}

/** Options of {@link perSampleChunkSize}. */
export interface PerSampleChunkOptions {
  /** Bytes the per-sample gradients of one chunk may take. @defaultValue 536,870,912 (512 MiB) */
  memoryBudgetBytes?: number;
  /** Largest chunk. @defaultValue 64 */
  maxChunk?: number;
}

type Reduce = 'per-sample' | 'per-direction';
type Sink = (name: string, grad: tf.Tensor) => void;

interface Node {
  inputs: TapeValue[];
  output: TapeValue;
  /** Gradient of each input that needs one (undefined otherwise), from the output gradient. */
  back(dy: tf.Tensor, rows: Rows): Array<tf.Tensor | undefined>;
  /** Parameter gradients, reduced over the rows as asked, handed to the sink. */
  params?(dy: tf.Tensor, rows: Rows, sink: Sink): void;
  /** Forward tensors this node keeps for its backward pass (freed with the tape). */
  saved: tf.Tensor[];
}

/** The rows of a backward pass: `m` directions × `b` samples, direction-major. */
interface Rows {
  m: number;
  b: number;
  reduce: Reduce;
}

/** `dy [m·b, ...rest] ⊙ saved [b, ...rest]`, broadcasting over the directions. */
function rowsMul(dy: tf.Tensor, saved: tf.Tensor, rows: Rows): tf.Tensor {
  if (rows.m === 1) return tf.mul(dy, saved);
  return tf.reshape(tf.mul(tf.reshape(dy, [rows.m, ...saved.shape]), saved), dy.shape);
}

/** Reduce per-row parameter gradients `[m·b, ...shape]` to `[b, ...]` or `[m, ...]`. */
function reduceRows(g: tf.Tensor, rows: Rows): tf.Tensor {
  // A clone: `g` may be the output gradient itself, which the backward pass disposes.
  if (rows.reduce === 'per-sample') return tf.clone(g);
  return tf.sum(tf.reshape(g, [rows.m, rows.b, ...g.shape.slice(1)]), 1);
}

/**
 * im2col of a `same` conv's input: `[b, ho·wo, c·k·k]`, columns ordered (c, kh, kw).
 *
 * @remarks A depthwise conv with one-hot filters (channel multiplier k·k) unfolds the input in
 * one backend op, with the conv's own padding and stride. Slices, gathers or a concat are
 * 3–10× slower on the wasm backend, whose Slice, StridedSlice, GatherV2 and Concat copy in
 * JS; k·k separate one-tap depthwise convs and products measured ~1.5× slower than this.
 * {@link toHwio} puts the (c, kh, kw) order back to the kernel's.
 */
function im2col(x: tf.Tensor4D, k: number, stride: number): tf.Tensor3D {
  const [b, , , c] = x.shape;
  if (k === 1 && stride === 1) return tf.reshape(x, [b, -1, c]);
  const taps = k * k;
  const oneHot = new Float32Array(taps * c * taps);
  // filter[kh, kw, ci, j] = 1 where j = kh·k + kw
  for (let t = 0; t < taps; t++) for (let ci = 0; ci < c; ci++) oneHot[(t * c + ci) * taps + t] = 1;
  const cols = tf.depthwiseConv2d(x, tf.tensor4d(oneHot, [k, k, c, taps]), stride, 'same');
  return tf.reshape(cols, [b, -1, c * taps]);
}

/** A kernel gradient `[lead, c·k·k, out]` in (c, kh, kw) order → `[lead, k, k, c, out]` (HWIO). */
function toHwio(g: tf.Tensor, shape: number[]): tf.Tensor {
  const [k, , c, out] = shape;
  const lead = g.shape[0];
  if (k === 1) return tf.reshape(g, [lead, ...shape]);
  return tf.reshape(tf.transpose(tf.reshape(g, [lead, c, k * k, out]), [0, 2, 1, 3]), [lead, ...shape]);
}

/**
 * `Σ_rows-of-group colsᵀ · dy` → `[lead, kdim, out]`: per sample a batched product, per
 * direction one product with the directions side by side.
 */
function weightGrad(cols: tf.Tensor3D, dy: tf.Tensor, rows: Rows, shape: number[]): tf.Tensor {
  const [b, p, kdim] = cols.shape;
  const out = shape[shape.length - 1];
  if (rows.reduce === 'per-sample') {
    const d = tf.reshape(dy, [rows.m * b, p, out]) as tf.Tensor3D;
    const c = rows.m === 1 ? cols : (tf.reshape(tf.broadcastTo(cols, [rows.m, b, p, kdim]), [rows.m * b, p, kdim]) as tf.Tensor3D);
    return tf.matMul(c, d, true, false);
  }
  // One product with the directions side by side, `colsᵀ · [δ_1 … δ_m]`: the shape of a weight
  // gradient that the backend's matMul runs well (a broadcast batched product ran ~10× slower).
  const d =
    rows.m === 1
      ? tf.reshape(dy, [b * p, out])
      : tf.reshape(tf.transpose(tf.reshape(dy, [rows.m, b * p, out]), [1, 0, 2]), [b * p, rows.m * out]);
  const g = tf.matMul(tf.reshape(cols, [b * p, kdim]) as tf.Tensor2D, d as tf.Tensor2D, true, false);
  if (rows.m === 1) return tf.expandDims(g, 0);
  return tf.transpose(tf.reshape(g, [kdim, rows.m, out]), [1, 0, 2]);
}

class Tape implements PerSampleTape {
  readonly nodes: Node[] = [];
  private readonly values: TapeValue[] = [];
  private readonly needsGrad: boolean[] = [];

  constructor(
    private readonly model: Model,
    private readonly wanted: ReadonlySet<string>,
  ) {}

  private value(tensor: tf.Tensor, needsGrad: boolean): TapeValue {
    const v = { id: this.values.length, tensor: tf.keep(tensor) };
    this.values.push(v);
    this.needsGrad.push(needsGrad);
    return v;
  }

  needs(v: TapeValue): boolean {
    return this.needsGrad[v.id];
  }

  private param(name: string): tf.Tensor {
    return this.model.effectiveWeight(name);
  }

  private buffer(name: string): tf.Tensor {
    const b = this.model.buffers.get(name);
    if (!b) throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Model ${this.model.arch} has no buffer "${name}".`);
    return b;
  }

  private wants(...names: Array<string | undefined>): boolean {
    return names.some((n) => n !== undefined && this.wanted.has(n));
  }

  private push(inputs: TapeValue[], out: tf.Tensor, hasParams: boolean, node: Omit<Node, 'inputs' | 'output'>): TapeValue {
    const output = this.value(out, hasParams || inputs.some((i) => this.needs(i)));
    for (const t of node.saved) tf.keep(t);
    this.nodes.push({ ...node, inputs, output });
    return output;
  }

  input(x: tf.Tensor4D): TapeValue {
    return this.value(tf.clone(x), false);
  }

  normalizeCifar(x: TapeValue): TapeValue {
    return scoped(() => {
      const mean = tf.tensor1d([...CIFAR10_MEAN]);
      const invStd = tf.tensor1d(CIFAR10_STD.map((s) => 1 / s));
      const y = tf.mul(tf.sub(x.tensor, mean), invStd);
      return this.push([x], y, false, { saved: [invStd], back: (dy) => [rowsMulLast(dy, invStd)] });
    });
  }

  affine(x: TapeValue, shift: number, scale: number): TapeValue {
    return scoped(() => this.push([x], tf.mul(tf.sub(x.tensor, shift), scale), false, { saved: [], back: (dy) => [tf.mul(dy, scale)] }));
  }

  conv2d(x: TapeValue, kernel: string, stride: number, bias?: string): TapeValue {
    return scoped(() => {
      const w = this.param(kernel) as tf.Tensor4D;
      const input = x.tensor as tf.Tensor4D;
      let y: tf.Tensor = tf.conv2d(input, w, stride, 'same');
      if (bias) y = tf.add(y, this.param(bias));
      const k = w.shape[0];
      return this.push([x], y, this.wants(kernel, bias), {
        saved: [],
        back: (dy) => [
          tf.conv2dTranspose(
            dy as tf.Tensor4D,
            w,
            [dy.shape[0], ...input.shape.slice(1)] as [number, number, number, number],
            stride,
            'same',
          ),
        ],
        params: (dy, rows, sink) => {
          if (this.wanted.has(kernel)) {
            sink(
              kernel,
              tf.tidy(() => toHwio(weightGrad(im2col(input, k, stride), dy, rows, w.shape), w.shape)),
            );
          }
          if (bias && this.wanted.has(bias))
            sink(
              bias,
              tf.tidy(() => reduceRows(tf.sum(dy, [1, 2]), rows)),
            );
        },
      });
    });
  }

  batchNorm(x: TapeValue, prefix: string): TapeValue {
    const gamma = `${prefix}.gamma`;
    const beta = `${prefix}.beta`;
    return scoped(() => {
      const invStd = tf.rsqrt(tf.add(this.buffer(`${prefix}.runningVar`), NORM_EPSILON));
      const scale = tf.mul(this.param(gamma), invStd);
      const mean = this.buffer(`${prefix}.runningMean`);
      // The composed eval BatchNorm's own formula: x·scale + (β − mean·scale).
      const y = tf.add(tf.mul(x.tensor, scale), tf.sub(this.param(beta), tf.mul(mean, scale)));
      const xhat = this.wanted.has(gamma) ? tf.mul(tf.sub(x.tensor, mean), invStd) : undefined;
      return this.push([x], y, this.wants(gamma, beta), {
        saved: xhat ? [scale, xhat] : [scale],
        back: (dy) => [rowsMulLast(dy, scale)],
        params: (dy, rows, sink) => {
          const axes = Array.from({ length: dy.rank - 2 }, (_, i) => i + 1);
          if (xhat)
            sink(
              gamma,
              tf.tidy(() => reduceRows(tf.sum(rowsMul(dy, xhat, rows), axes), rows)),
            );
          if (this.wanted.has(beta))
            sink(
              beta,
              tf.tidy(() => reduceRows(tf.sum(dy, axes), rows)),
            );
        },
      });
    });
  }

  relu(x: TapeValue): TapeValue {
    return scoped(() => {
      const y = tf.relu(x.tensor);
      const on = tf.cast(tf.greater(y, 0), 'float32');
      return this.push([x], y, false, { saved: [on], back: (dy, rows) => [rowsMul(dy, on, rows)] });
    });
  }

  add(a: TapeValue, b: TapeValue): TapeValue {
    return scoped(() => this.push([a, b], tf.add(a.tensor, b.tensor), false, { saved: [], back: (dy) => [dy, dy] }));
  }

  meanPool(x: TapeValue): TapeValue {
    const [, h, w, c] = x.tensor.shape;
    return scoped(() =>
      this.push([x], tf.mean(x.tensor, [1, 2]), false, {
        saved: [],
        back: (dy) => [tf.broadcastTo(tf.reshape(tf.div(dy, h * w), [dy.shape[0], 1, 1, c]), [dy.shape[0], h, w, c])],
      }),
    );
  }

  flatten(x: TapeValue): TapeValue {
    const rest = x.tensor.shape.slice(1);
    return scoped(() =>
      this.push([x], tf.reshape(x.tensor, [x.tensor.shape[0], -1]), false, {
        saved: [],
        back: (dy) => [tf.reshape(dy, [dy.shape[0], ...rest])],
      }),
    );
  }

  dense(x: TapeValue, kernel: string, bias?: string): TapeValue {
    return scoped(() => {
      const w = this.param(kernel) as tf.Tensor2D;
      const input = x.tensor as tf.Tensor2D;
      let y: tf.Tensor = tf.matMul(input, w);
      if (bias) y = tf.add(y, this.param(bias));
      return this.push([x], y, this.wants(kernel, bias), {
        saved: [],
        back: (dy) => [tf.matMul(dy as tf.Tensor2D, w, false, true)],
        params: (dy, rows, sink) => {
          if (this.wanted.has(kernel)) {
            sink(
              kernel,
              tf.tidy(() => weightGrad(tf.expandDims(input, 1) as tf.Tensor3D, dy, rows, w.shape)),
            );
          }
          if (bias && this.wanted.has(bias))
            sink(
              bias,
              tf.tidy(() => reduceRows(dy, rows)),
            );
        },
      });
    });
  }

  dispose(): void {
    for (const v of this.values) v.tensor.dispose();
    for (const n of this.nodes) for (const t of n.saved) t.dispose();
  }
}

/** Run `fn` in a tidy scope; what it returns must already be kept (`tf.keep`). */
function scoped<T>(fn: () => T): T {
  let result: T | undefined;
  tf.tidy(() => {
    result = fn();
  });
  return result as T;
}

/** `dy ⊙ c` for a per-channel constant `c` (broadcast over the last axis). */
function rowsMulLast(dy: tf.Tensor, c: tf.Tensor): tf.Tensor {
  return tf.mul(dy, c);
}

/** The eval-mode ResNet-18 of `resnet18Definition` on the tape (same blocks and names). */
function resnet18Forward(width: number): PerSampleForward {
  return (x, t) => {
    let h = t.normalizeCifar(t.input(x));
    h = t.relu(t.batchNorm(t.conv2d(h, 'stem.conv.kernel', 1), 'stem.bn'));
    let cin = width;
    for (let s = 0; s < 4; s++) {
      const cout = width * 2 ** s;
      for (let b = 0; b < 2; b++) {
        const stride = s > 0 && b === 0 ? 2 : 1;
        const p = `stage${s + 1}.block${b}`;
        const y = t.relu(t.batchNorm(t.conv2d(h, `${p}.conv1.kernel`, stride), `${p}.bn1`));
        const z = t.batchNorm(t.conv2d(y, `${p}.conv2.kernel`, 1), `${p}.bn2`);
        const shortcut =
          stride !== 1 || cin !== cout ? t.batchNorm(t.conv2d(h, `${p}.shortcut.conv.kernel`, stride), `${p}.shortcut.bn`) : h;
        h = t.relu(t.add(z, shortcut));
        cin = cout;
      }
    }
    return t.dense(t.meanPool(h), 'fc.kernel', 'fc.bias');
  };
}

/**
 * The built-in {@link PerSampleForward} of a model, if the batched path supports it.
 *
 * @param model - the model
 * @returns the tape forward for `resnet18` models without adapters (no extra parameters, every
 *   weight used as stored), `undefined` otherwise (callers fall back to one backward pass per
 *   image)
 */
export function perSampleForwardOf(model: Model): PerSampleForward | undefined {
  if (model.arch !== 'resnet18' || model.extraParams.size > 0) return undefined;
  for (const [name, p] of model.params) if (model.effectiveWeight(name) !== p) return undefined;
  return resnet18Forward(model.config.width as number);
}

function run(
  model: Model,
  x: tf.Tensor4D,
  dLogits: (logits: tf.Tensor2D) => { dy: tf.Tensor; m: number },
  reduce: Reduce,
  options: BatchedGradientOptions,
  sink: Sink,
): void {
  const forward = options.forward ?? perSampleForwardOf(model);
  if (!forward) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `Batched gradients do not support model ${model.arch} (or its adapters); pass options.forward, or use the per-image path.`,
      { details: { arch: model.arch } },
    );
  }
  const vars = options.variables ?? model.trainableVariables();
  const masked = options.masked ?? true;
  const tape = new Tape(model, new Set(vars.keys()));
  const seen = new Set<string>();
  const b = x.shape[0];
  const grads = new Map<number, tf.Tensor>();
  try {
    const out = forward(x, tape);
    const { dy, m } = dLogits(out.tensor as tf.Tensor2D);
    grads.set(out.id, dy);
    const rows: Rows = { m, b, reduce };
    const maskedSink: Sink = (name, g) => {
      seen.add(name);
      const mask = masked ? model.masks.get(name) : undefined;
      if (!mask) return sink(name, g);
      const gm = tf.mul(g, mask);
      g.dispose();
      sink(name, gm);
    };
    for (let i = tape.nodes.length - 1; i >= 0; i--) {
      const node = tape.nodes[i];
      const g = grads.get(node.output.id);
      if (!g) continue;
      grads.delete(node.output.id);
      try {
        node.params?.(g, rows, maskedSink);
        const needed = node.inputs.map((v) => tape.needs(v));
        if (!needed.some(Boolean)) continue;
        const dxs = tf.tidy(() =>
          node
            .back(g, rows)
            .map((d, j) => (needed[j] && d ? tf.clone(d) : undefined))
            .filter((d) => d !== undefined),
        );
        let k = 0;
        node.inputs.forEach((v, j) => {
          if (!needed[j]) return;
          const d = dxs[k++] as tf.Tensor;
          const prev = grads.get(v.id);
          if (prev) {
            grads.set(v.id, tf.add(prev, d));
            prev.dispose();
            d.dispose();
          } else grads.set(v.id, d);
        });
      } finally {
        g.dispose();
      }
    }
    const lead = reduce === 'per-sample' ? m * b : m;
    for (const [name, v] of vars) if (!seen.has(name)) sink(name, tf.zeros([lead, ...v.shape]));
  } finally {
    for (const g of grads.values()) g.dispose();
    tape.dispose();
  }
}

/**
 * Per-sample gradients of the cross-entropy for a batch, from one forward and one backward
 * pass: name → `[b, ...shape]`, row i the gradient of `CE(model(x_i), y_i)` (eval mode).
 *
 * @param model - the model (not changed)
 * @param x - images `[b, 32, 32, 3]`, raw [0,1] pixels
 * @param y - labels `[b]`
 * @param options - variables, masking, the tape forward
 * @returns name → stacked per-sample gradients; **the caller disposes it** (`disposeVector`)
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when the model is not supported (see
 *   {@link perSampleForwardOf}) and no `forward` is given
 * @remarks
 * As Opacus and BackPACK compute them: the forward pass records each layer's input x_i, the
 * backward pass gives each layer's output gradient δ_i for every sample at once (in eval mode
 * samples do not interact), and the weight gradient of sample i is `Σ_positions x_i ⊗ δ_i`:
 * an outer product for a dense layer, a batched product of the im2col-unfolded input with δ_i
 * for a convolution; BatchNorm's γ and β get `Σ δ_i ⊙ x̂_i` and `Σ δ_i`. Memory is about
 * b × the number of parameters (plus one layer's unfolded input): choose b with
 * {@link perSampleChunkSize}. Gradients of pruned weights are masked (exactly zero).
 * @example
 * ```ts
 * const g = batchedPerSampleGradients(model, x, y);
 * try { console.log(g.get('fc.bias')?.shape); } finally { disposeVector(g); }
 * ```
 */
export function batchedPerSampleGradients(model: Model, x: tf.Tensor4D, y: tf.Tensor1D, options: BatchedGradientOptions = {}): ParamVector {
  const out: ParamVector = new Map();
  try {
    run(
      model,
      x,
      (logits) => ({
        // ∂CE_i/∂logits_i = softmax − onehot: one direction per sample.
        dy: tf.tidy(() => tf.sub(tf.softmax(logits), tf.oneHot(tf.cast(y, 'int32'), logits.shape[1]))),
        m: 1,
      }),
      'per-sample',
      options,
      (name, g) => out.set(name, g),
    );
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  }
  return order(out, options.variables ?? model.trainableVariables());
}

/**
 * Gradients of several output directions over a batch from one forward pass: for each m,
 * the gradient of `Σ_i ⟨d[m, i], logits_i⟩` with `d` chosen from the logits (e.g. the
 * cross-entropy gradients for every possible label).
 *
 * @param model - the model (not changed; eval mode)
 * @param x - images `[b, 32, 32, 3]`
 * @param directions - given the logits `[b, classes]` (disposed by the caller), returns
 *   `d` `[m, b, classes]`, treated as a constant (its ownership passes here)
 * @param sink - receives each parameter's gradients `[m, ...shape]` (after masking) and owns
 *   them; parameters the logits do not depend on get zeros
 * @param options - variables, masking, the tape forward
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when the model is not supported
 * @remarks One forward and one backward pass with m·b rows; each weight gradient is one
 * product `unfold(x)ᵀ · [δ_1 … δ_m]` with the directions side by side.
 */
export function batchedDirectionalGradients(
  model: Model,
  x: tf.Tensor4D,
  directions: (logits: tf.Tensor2D) => tf.Tensor3D,
  sink: (name: string, grad: tf.Tensor) => void,
  options: BatchedGradientOptions = {},
): void {
  run(
    model,
    x,
    (logits) => {
      const d = directions(logits);
      const [m, b, c] = d.shape;
      const flat = tf.reshape(d, [m * b, c]);
      d.dispose();
      return { dy: flat, m };
    },
    'per-direction',
    options,
    sink,
  );
}

function order(g: ParamVector, vars: ReadonlyMap<string, tf.Variable>): ParamVector {
  return new Map([...vars.keys()].map((k) => [k, g.get(k) as tf.Tensor]));
}

/**
 * How many samples' gradients fit a memory budget at once (for {@link batchedPerSampleGradients}).
 *
 * @param variables - the parameters differentiated
 * @param options - budget and cap
 * @returns a chunk size in `[1, maxChunk]`: budget / (2 × 4 bytes × parameters), the 2 for the
 *   stacked result and the largest layer's temporaries
 */
export function perSampleChunkSize(variables: ReadonlyMap<string, tf.Tensor>, options: PerSampleChunkOptions = {}): number {
  const budget = options.memoryBudgetBytes ?? 512 * 1024 * 1024;
  let n = 0;
  for (const v of variables.values()) n += v.size;
  return Math.max(1, Math.min(options.maxChunk ?? 64, Math.floor(budget / (8 * Math.max(n, 1)))));
}
