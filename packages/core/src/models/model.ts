import * as tf from '@tensorflow/tfjs-core';
import { UnlearnError } from '../errors/unlearn-error.js';
import type { Rng } from '../random/rng.js';
import { checkMask } from './check-mask.js';
import { initValues } from './init-values.js';
import type { ForwardContext, ForwardOptions, LinearOverride, ModelDefinition, NamedTensors, WeightTransform } from './model-definition.js';

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
        if (override) return override(x, w, op);
        const mask = options.maskedGradients ? this.maskMap.get(name) : undefined;
        return mask === undefined ? op(x, w) : op(x, w, { gradientMask: mask });
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
    for (const [name, m] of masks) checkMask(this.arch, this.prunable, name, m, this.paramMap.get(name));
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
