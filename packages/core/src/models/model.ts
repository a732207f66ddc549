import * as tf from '@tensorflow/tfjs-core';
import { UnlearnError } from '../errors/unlearn-error.js';
import type { Rng } from '../random/rng.js';

/** Named tensors, e.g. a weight snapshot or a mask set. */
export type NamedTensors = Map<string, tf.Tensor>;

/** Options of a forward pass. */
export interface ForwardOptions {
  /** Training mode: BatchNorm uses batch statistics and updates running ones; dropout is on. @defaultValue false */
  training?: boolean;
  /** Randomness for dropout in training mode. */
  rng?: Rng;
}

/**
 * What an architecture provides to build a {@link Model}.
 *
 * @remarks Architectures are pure functions of their parameters: `forward` reads every weight
 * through `w(name)`, or applies a conv/dense kernel through `linear(name, x, op)`, so adapters
 * (LoRA) can add a low-rank update, to the weight or to the layer's output, and masks can be
 * enforced without the architecture knowing.
 */
export interface ModelDefinition {
  /** Architecture id, e.g. `resnet18`. */
  arch: string;
  /** The configuration that rebuilds the same shapes (stored in checkpoints). */
  config: Record<string, unknown>;
  /** Parameter shapes in a stable order, with their initialiser. */
  params: ReadonlyArray<ParamSpec>;
  /** Non-trainable state (BatchNorm running mean/var) with its initial value. */
  buffers: ReadonlyArray<{ name: string; shape: number[]; init: 'zeros' | 'ones' }>;
  /** Names of the weights magnitude pruning may remove. */
  prunable: readonly string[];
  /** Names of the classifier weight and bias (Fisher forgetting treats them specially). */
  classifier: { kernel: string; bias?: string };
  /**
   * Names of the weights `forward` reads through {@link ForwardContext.linear} (and never
   * through `w`), i.e. the weights a {@link LinearOverride} can be set on. Omitted: none.
   */
  linear?: readonly string[];
  /**
   * Compute logits. `x` is raw pixels in [0,1], NHWC; normalisation happens inside.
   * @param x - input batch
   * @param ctx - how to read weights and buffers, and the mode
   */
  forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D;
}

/** A parameter and how to initialise it. */
export interface ParamSpec {
  name: string;
  shape: number[];
  /** `he-normal` (fan-in of conv/dense kernels), `glorot-uniform`, `normal:<std>`, `zeros`, `ones`, `trunc-normal:<std>`. */
  init: string;
  /** Fan-in used by He init; default: product of all but the last dim. */
  fanIn?: number;
}

/** Hints a {@link LinearOverride} may pass to a {@link LinearOp}. */
export interface LinearOpOptions {
  /**
   * No gradient with respect to the weight is needed (it is frozen): the op may skip
   * computing it. Dense layers do (their custom gradient would otherwise compute it
   * eagerly); a conv's stock gradient is already computed only when needed.
   */
  constantWeight?: boolean;
}

/**
 * A layer's computation as a function of its weight, e.g. `(x, w) => conv2d(x, w, stride)` or
 * `(x, w, o) => dense(x, w, undefined, o)` (no bias).
 *
 * @remarks Must be linear in `w`, with output unit/channel `o` (the last axis) depending only
 * on `w[..., o]`, and accept a weight of the same shape except the last dimension: a
 * {@link LinearOverride} calls it with other weights (e.g. LoRA's A reshaped to
 * `[kh, kw, in, r]`) to reuse the layer's stride and padding.
 */
export type LinearOp = (x: tf.Tensor, w: tf.Tensor, options?: LinearOpOptions) => tf.Tensor;

/**
 * Replaces how one layer is computed: gets the input, the effective weight (after any
 * {@link WeightTransform}) and the layer's own {@link LinearOp}, returns the layer's output.
 * The default is `op(x, w)`.
 *
 * @remarks Tensors it creates are released by the caller's tidy (forward passes run inside
 * one); it must not dispose `x` or `w`.
 */
export type LinearOverride = (x: tf.Tensor, w: tf.Tensor, op: LinearOp) => tf.Tensor;

/** What a forward pass sees. */
export interface ForwardContext {
  /**
   * The effective weight called `name` (after adapters and masks).
   * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when `name` has a {@link LinearOverride}:
   *   reading such a weight directly would bypass it (read it through `linear`)
   */
  w(name: string): tf.Tensor;
  /**
   * Apply the linear layer whose weight is `name` to `x`: `op(x, w(name))`, unless an adapter
   * set a {@link LinearOverride} on `name` with {@link Model.setLinearOverride}.
   *
   * @param name - the layer's weight, listed in {@link ModelDefinition.linear}
   * @param x - the layer's input
   * @param op - the layer's computation as a function of its weight (linear in it)
   * @returns the layer's output (released by the forward pass's tidy)
   * @remarks Architectures route every conv and dense kernel through here, so that adapters
   * can change how a layer is computed, not only its weight: factored LoRA computes
   * `op(x, W) + (α/r)·(op(x, A)·B)`, whose backward pass never forms the full-size gradient
   * of the weight, which the weight-space form `op(x, W + (α/r)·A·B)` must.
   */
  linear(name: string, x: tf.Tensor, op: LinearOp): tf.Tensor;
  /** The buffer called `name`. */
  buffer(name: string): tf.Variable;
  training: boolean;
  rng?: Rng;
}

/** Turns a stored weight into the weight a forward pass uses (e.g. W + mask ⊙ (α/r)·B·A). */
export type WeightTransform = (weight: tf.Tensor, name: string) => tf.Tensor;

function initValues(spec: ParamSpec, rng: Rng): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  const fanIn = spec.fanIn ?? (spec.shape.length > 1 ? size / spec.shape[spec.shape.length - 1] : size);
  const [kind, arg] = spec.init.split(':');
  switch (kind) {
    case 'zeros':
      return new Float32Array(size);
    case 'ones':
      return new Float32Array(size).fill(1);
    case 'he-normal':
      return rng.normalArray(size, 0, Math.sqrt(2 / fanIn));
    case 'glorot-uniform': {
      const fanOut = spec.shape[spec.shape.length - 1] * (spec.shape.length === 4 ? spec.shape[0] * spec.shape[1] : 1);
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return rng.uniformArray(size, -limit, limit);
    }
    case 'kaiming-uniform': {
      // PyTorch's default for Linear/Conv weights and biases: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
      const bound = 1 / Math.sqrt(fanIn);
      return rng.uniformArray(size, -bound, bound);
    }
    case 'normal':
      return rng.normalArray(size, 0, Number(arg));
    case 'trunc-normal': {
      const std = Number(arg);
      const out = new Float32Array(size);
      for (let i = 0; i < size; i++) {
        let v = rng.normal();
        while (Math.abs(v) > 2) v = rng.normal();
        out[i] = v * std;
      }
      return out;
    }
    default:
      throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Unknown initialiser "${spec.init}" for ${spec.name}.`, {
        details: { param: spec.name, init: spec.init },
      });
  }
}

/**
 * The index of the first value that is not exactly 0 or 1 (NaN included), or -1.
 * @param data - mask values
 * @returns an index into `data`, or -1 when it is a valid 0/1 mask
 */
export function firstNonBinary(data: ArrayLike<number> | ArrayLike<boolean>): number {
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (v !== 0 && v !== 1) return i;
  }
  return -1;
}

/**
 * A trainable model: named parameters, buffers, pruning masks and a forward function.
 *
 * @remarks
 * This is the model handle every plugin works on. Parameters are `tf.Variable`s keyed by a
 * stable name (`stage1.block0.conv1.kernel`), which is what checkpoints, masks, optimiser
 * state and adapters refer to. Masks are 0/1 tensors of the same shape as a prunable weight;
 * {@link Model.applyMasks} zeroes masked weights, and the training loop calls it after every
 * update so that pruned weights stay exactly zero.
 *
 * The model owns its variables, masks and adapter parameters: {@link Model.dispose} frees them.
 *
 * @example
 * ```ts
 * const model = createModel(container, 'resnet18', { width: 16 });
 * const logits = tf.tidy(() => model.forward(x)); // caller disposes logits
 * ```
 */
export class Model {
  /** Architecture id. */
  readonly arch: string;
  /** Architecture configuration (rebuilds the same shapes). */
  readonly config: Readonly<Record<string, unknown>>;
  /** Names of the weights magnitude pruning may remove. */
  readonly prunable: readonly string[];
  /** Classifier weight/bias names. */
  readonly classifier: { readonly kernel: string; readonly bias?: string };
  /** Weights the forward pass reads through {@link ForwardContext.linear}: those {@link Model.setLinearOverride} accepts. */
  readonly linearWeights: readonly string[];
  private readonly definition: ModelDefinition;
  private readonly paramMap = new Map<string, tf.Variable>();
  private readonly bufferMap = new Map<string, tf.Variable>();
  private readonly maskMap = new Map<string, tf.Tensor>();
  private readonly transforms = new Map<string, WeightTransform>();
  private readonly linearOverrides = new Map<string, LinearOverride>();
  private readonly frozen = new Set<string>();
  private readonly extra = new Map<string, tf.Variable>();

  /**
   * Build a model with freshly initialised parameters.
   * @param definition - the architecture
   * @param rng - initialisation randomness (same seed, same weights)
   */
  constructor(definition: ModelDefinition, rng: Rng) {
    this.definition = definition;
    this.arch = definition.arch;
    this.config = Object.freeze({ ...definition.config });
    this.prunable = Object.freeze([...definition.prunable]);
    this.classifier = Object.freeze({ ...definition.classifier });
    this.linearWeights = Object.freeze([...(definition.linear ?? [])]);
    for (const spec of definition.params) {
      const t = tf.tensor(initValues(spec, rng), spec.shape);
      this.paramMap.set(spec.name, tf.variable(t, true));
      t.dispose();
    }
    for (const b of definition.buffers) {
      const v = b.init === 'ones' ? tf.ones(b.shape) : tf.zeros(b.shape);
      this.bufferMap.set(b.name, tf.variable(v, false));
      v.dispose();
    }
  }

  /** All learnable parameters of the architecture by name (adapter parameters excluded). */
  get params(): ReadonlyMap<string, tf.Variable> {
    return this.paramMap;
  }

  /** Non-trainable state (BatchNorm running statistics). */
  get buffers(): ReadonlyMap<string, tf.Variable> {
    return this.bufferMap;
  }

  /** Pruning masks by weight name; a prunable weight without a mask is dense. */
  get masks(): ReadonlyMap<string, tf.Tensor> {
    return this.maskMap;
  }

  /** Extra variables added by adapters (e.g. LoRA A and B), by name. */
  get extraParams(): ReadonlyMap<string, tf.Variable> {
    return this.extra;
  }

  /**
   * Compute logits for raw [0,1] NHWC pixels. The caller disposes the result.
   * @param x - input batch `[n, h, w, c]`
   * @param options - training mode and dropout randomness
   * @returns logits `[n, classes]`
   */
  forward(x: tf.Tensor4D, options: ForwardOptions = {}): tf.Tensor2D {
    const ctx: ForwardContext = {
      w: (name) => {
        if (this.linearOverrides.has(name)) {
          throw new UnlearnError(
            'UNLEARN_INVALID_OPTIONS',
            `Architecture ${this.arch} reads "${name}" with ctx.w although it has a linear override; ` +
              'read it with ctx.linear(name, x, op), or adapt it in weight space.',
            { details: { name } },
          );
        }
        return this.effectiveWeight(name);
      },
      linear: (name, x, op) => {
        const w = this.effectiveWeight(name);
        const override = this.linearOverrides.get(name);
        return override ? override(x, w, op) : op(x, w);
      },
      buffer: (name) => {
        const b = this.bufferMap.get(name);
        if (!b) throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Model ${this.arch} has no buffer "${name}".`);
        return b;
      },
      training: options.training ?? false,
      rng: options.rng,
    };
    return this.definition.forward(x, ctx);
  }

  /**
   * The weight a forward pass uses: the stored parameter passed through an adapter's transform.
   * @param name - parameter name
   * @returns a tensor the caller must not dispose outside a tidy (it may be the variable itself)
   */
  effectiveWeight(name: string): tf.Tensor {
    const p = this.paramMap.get(name);
    if (!p) {
      throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Model ${this.arch} has no parameter "${name}".`, {
        details: { name },
      });
    }
    const t = this.transforms.get(name);
    return t ? t(p, name) : p;
  }

  /**
   * Set (or clear) the transform applied to a weight at forward time. Used by adapters.
   * @param name - parameter name
   * @param transform - the transform, or `undefined` to remove it
   */
  setWeightTransform(name: string, transform: WeightTransform | undefined): void {
    if (!this.paramMap.has(name)) {
      throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Cannot adapt "${name}": model ${this.arch} has no such parameter.`);
    }
    if (transform) this.transforms.set(name, transform);
    else this.transforms.delete(name);
  }

  /**
   * Set (or clear) how the linear layer whose weight is `name` is computed. Used by adapters
   * that change the computation, not only the weight (factored LoRA).
   *
   * @param name - a weight in {@link Model.linearWeights}
   * @param override - `(x, w, op) => output`, with `w` the effective weight (after any
   *   {@link WeightTransform}) and `op` the layer's default computation; `undefined` to remove it
   * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when the architecture does not read `name`
   *   through {@link ForwardContext.linear} (the override would never run)
   * @remarks {@link Model.effectiveWeight} does not include what an override adds: the layer
   * is no longer a function of one weight tensor.
   */
  setLinearOverride(name: string, override: LinearOverride | undefined): void {
    if (!this.linearWeights.includes(name)) {
      throw new UnlearnError(
        'UNLEARN_INVALID_OPTIONS',
        `Cannot override layer "${name}": model ${this.arch} does not compute it through ctx.linear ` +
          `(its linear weights are: ${this.linearWeights.slice(0, 4).join(', ') || 'none'}${this.linearWeights.length > 4 ? ', ...' : ''}).`,
        { details: { name } },
      );
    }
    if (override) this.linearOverrides.set(name, override);
    else this.linearOverrides.delete(name);
  }

  /**
   * Add a variable owned by the model (adapter weights). The model disposes it.
   * @param name - unique name, e.g. `lora.stage1.block0.conv1.kernel.A`
   * @param variable - the variable
   */
  addExtraParam(name: string, variable: tf.Variable): void {
    if (this.extra.has(name) || this.paramMap.has(name)) {
      throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Parameter "${name}" already exists on the model.`);
    }
    this.extra.set(name, variable);
  }

  /** Remove and dispose an extra variable. */
  removeExtraParam(name: string): void {
    this.extra.get(name)?.dispose();
    this.extra.delete(name);
  }

  /**
   * Freeze or unfreeze parameters (frozen ones are not updated by training).
   * @param names - parameter names
   * @param frozen - freeze (true) or unfreeze (false)
   */
  setFrozen(names: Iterable<string>, frozen: boolean): void {
    for (const n of names) {
      if (!this.paramMap.has(n)) throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `No parameter "${n}" to freeze.`);
      if (frozen) this.frozen.add(n);
      else this.frozen.delete(n);
    }
  }

  /** Whether a parameter is frozen. */
  isFrozen(name: string): boolean {
    return this.frozen.has(name);
  }

  /**
   * The variables training updates: unfrozen parameters and every extra (adapter) parameter.
   * @returns name → variable (the model keeps ownership)
   */
  trainableVariables(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    for (const [n, v] of this.paramMap) if (!this.frozen.has(n)) out.set(n, v);
    for (const [n, v] of this.extra) out.set(n, v);
    return out;
  }

  /**
   * Replace the masks. Each must be 0/1, have the weight's shape, and name a prunable weight.
   * The model copies them (the caller keeps ownership of its tensors) and applies them.
   * @param masks - masks by weight name; weights not named become dense
   * @throws UnlearnError `UNLEARN_MASK_MISMATCH` on an unknown name, a wrong shape, or a value
   *   other than exactly 0 or 1 (0.5, NaN, ±Inf: applying it would scale the weight, not prune
   *   it); `details.name` names the mask. Nothing changes on the model when it throws.
   * @remarks Reads every mask back to check its values (one download per mask on GPU backends).
   */
  setMasks(masks: ReadonlyMap<string, tf.Tensor>): void {
    for (const [name, m] of masks) {
      const p = this.paramMap.get(name);
      if (!p || !this.prunable.includes(name)) {
        throw new UnlearnError('UNLEARN_MASK_MISMATCH', `Mask for "${name}" does not match a prunable weight of ${this.arch}.`, {
          details: { name },
        });
      }
      if (!tf.util.arraysEqual(p.shape, m.shape)) {
        throw new UnlearnError(
          'UNLEARN_MASK_MISMATCH',
          `Mask for "${name}" has shape [${m.shape}] but the weight has [${p.shape}]; was it made for another architecture or width?`,
          { details: { name, maskShape: m.shape, weightShape: p.shape } },
        );
      }
      const values = m.dataSync();
      const bad = firstNonBinary(values);
      if (bad >= 0) {
        const value = Number(values[bad]);
        throw new UnlearnError(
          'UNLEARN_MASK_MISMATCH',
          `Mask for "${name}" holds ${value} at index ${bad}; masks must be exactly 0 (pruned) or 1 (kept). ` +
            'Threshold it (e.g. tf.greater(scores, t)) before setting it.',
          { details: { name, index: bad, value } },
        );
      }
    }
    this.clearMasks();
    for (const [name, m] of masks) this.maskMap.set(name, tf.keep(tf.cast(m, 'float32')));
    this.applyMasks();
  }

  /** Remove every mask (the model becomes dense; weights stay as they are). */
  clearMasks(): void {
    for (const m of this.maskMap.values()) m.dispose();
    this.maskMap.clear();
  }

  /** Zero every masked weight in place. */
  applyMasks(): void {
    for (const [name, m] of this.maskMap) {
      const p = this.paramMap.get(name) as tf.Variable;
      tf.tidy(() => p.assign(tf.mul(p, m)));
    }
  }

  /**
   * Copy every parameter and buffer (not masks or adapters). The caller disposes the copies.
   * @returns name → tensor copy
   */
  snapshot(): NamedTensors {
    const out: NamedTensors = new Map();
    for (const [n, v] of this.paramMap) out.set(n, tf.clone(v));
    for (const [n, v] of this.bufferMap) out.set(n, tf.clone(v));
    return out;
  }

  /**
   * Load values for parameters and buffers; names not given keep their value.
   * @param values - name → tensor (the caller keeps ownership)
   * @param options - `strict`: every parameter and buffer must be given
   * @throws UnlearnError `UNLEARN_CHECKPOINT_INCOMPATIBLE` on an unknown name or a wrong shape
   */
  load(values: ReadonlyMap<string, tf.Tensor>, options: { strict?: boolean } = {}): void {
    for (const [n, t] of values) {
      const v = this.paramMap.get(n) ?? this.bufferMap.get(n);
      if (!v) {
        throw new UnlearnError(
          'UNLEARN_CHECKPOINT_INCOMPATIBLE',
          `Weight "${n}" does not exist in ${this.arch} ${JSON.stringify(this.config)}.`,
          {
            details: { name: n },
          },
        );
      }
      if (!tf.util.arraysEqual(v.shape, t.shape)) {
        throw new UnlearnError(
          'UNLEARN_CHECKPOINT_INCOMPATIBLE',
          `Weight "${n}" has shape [${t.shape}] but ${this.arch} expects [${v.shape}]; check the architecture options.`,
          { details: { name: n } },
        );
      }
    }
    if (options.strict) {
      const missing = [...this.paramMap.keys(), ...this.bufferMap.keys()].filter((n) => !values.has(n));
      if (missing.length > 0) {
        throw new UnlearnError(
          'UNLEARN_CHECKPOINT_INCOMPATIBLE',
          `Weights missing: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}.`,
          {
            details: { missing },
          },
        );
      }
    }
    for (const [n, t] of values) tf.tidy(() => (this.paramMap.get(n) ?? this.bufferMap.get(n))?.assign(tf.cast(t, 'float32')));
    this.applyMasks();
  }

  /**
   * Re-initialise every parameter and buffer as a new model would be (masks kept and applied).
   * @param rng - initialisation randomness
   */
  reinitialize(rng: Rng): void {
    for (const spec of this.definition.params) {
      const t = tf.tensor(initValues(spec, rng), spec.shape);
      this.paramMap.get(spec.name)?.assign(t);
      t.dispose();
    }
    for (const b of this.definition.buffers) {
      const t = b.init === 'ones' ? tf.ones(b.shape) : tf.zeros(b.shape);
      this.bufferMap.get(b.name)?.assign(t);
      t.dispose();
    }
    this.applyMasks();
  }

  /**
   * A new model of the same architecture with copies of the weights and masks (not adapters).
   * @param rng - only used to allocate; the weights are then overwritten
   */
  clone(rng: Rng): Model {
    const m = new Model(this.definition, rng);
    const snap = this.snapshot();
    m.load(snap);
    for (const t of snap.values()) t.dispose();
    if (this.maskMap.size > 0) m.setMasks(this.maskMap);
    return m;
  }

  /** Number of scalar parameters (architecture only). */
  numParams(): number {
    let n = 0;
    for (const v of this.paramMap.values()) n += v.size;
    return n;
  }

  /** Free every variable, mask and adapter parameter of this model. */
  dispose(): void {
    for (const v of this.paramMap.values()) v.dispose();
    for (const v of this.bufferMap.values()) v.dispose();
    for (const v of this.extra.values()) v.dispose();
    this.clearMasks();
    this.paramMap.clear();
    this.bufferMap.clear();
    this.extra.clear();
    this.transforms.clear();
    this.linearOverrides.clear();
  }
}
