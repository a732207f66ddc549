import * as tf from '@tensorflow/tfjs-core';
import { type AttachedAdapter, type LinearOverride, type Model, type Rng, UnlearnError, matMul, parseOptions } from '@unlearnjs/core';
import { type LoraOptions, type LoraOptionsInput, compileTargetPattern, defaultLoraTargets, loraOptionsSchema } from './lora-options.js';

/** One adapted weight. */
export interface LoraTarget {
  /** Name of the base weight, e.g. `stage1.block0.conv1.kernel`. */
  readonly weight: string;
  /** Shape of the base weight (`[in, out]` or `[kh, kw, in, out]`). */
  readonly shape: readonly number[];
  /** Rows of the flattened kernel: `in` for dense, `kh·kw·in` for conv. */
  readonly fanIn: number;
  /** Output units / channels. */
  readonly out: number;
  /** The rank used here: min(options.rank, fanIn, out). */
  readonly rank: number;
  /** α / rank. */
  readonly scale: number;
  /** Name of A (`[fanIn, rank]`) in `model.extraParams`: `lora.<weight>.A`. */
  readonly a: string;
  /** Name of B (`[rank, out]`) in `model.extraParams`: `lora.<weight>.B`. */
  readonly b: string;
  /**
   * How this target is computed: `factored` (`op(x, W) + (α/r)·op(x, A)·B`, through a linear
   * override) or `weight` (`op(x, W + M ⊙ (α/r)·A·B)`, through a weight transform).
   */
  readonly mode: 'weight' | 'factored';
}

/** A LoRA adapter attached to a model (the handle {@link attachLora} returns). */
export interface AttachedLora extends AttachedAdapter {
  /** The validated options it was attached with. */
  readonly options: Readonly<LoraOptions>;
  /** The adapted weights, in the model's parameter order. */
  readonly targets: readonly LoraTarget[];
  /** The base parameters attach froze (and merge/detach unfreeze). */
  readonly frozenByAdapter: readonly string[];
  /** False once merged or detached. */
  readonly attached: boolean;
  /**
   * The masked update M ⊙ (α/r)·A·B of one target, shaped like the weight (no dropout).
   * @param weight - the base weight's name
   * @returns a new tensor; **the caller disposes it**
   * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when `weight` is not a target or the adapter is gone
   */
  delta(weight: string): tf.Tensor;
}

/** Prefix of every LoRA variable name in `model.extraParams` (and the checkpoint's `adapter` group). */
export const LORA_PARAM_PREFIX = 'lora.';

/**
 * Resolve which weights a LoRA configuration adapts, without changing the model.
 *
 * @param model - the model
 * @param options - validated options
 * @returns the targets in the model's parameter order, each with the mode it will use
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` naming a pattern that matches no adaptable
 *   weight (2-D or 4-D, and not the classifier when `trainClassifier` is true), or, with
 *   `mode: 'factored'`, a target that has a pruning mask or that the architecture does not
 *   compute through `ctx.linear`
 */
export function resolveLoraTargets(model: Model, options: LoraOptions): LoraTarget[] {
  const patterns = options.targets ?? defaultLoraTargets(model.arch, model.classifier.kernel, model.prunable, options.trainClassifier);
  const headNames = new Set([model.classifier.kernel, model.classifier.bias].filter((n): n is string => n !== undefined));
  const adaptable = [...model.params].filter(
    ([name, v]) => (v.rank === 2 || v.rank === 4) && !(options.trainClassifier && headNames.has(name)),
  );
  const chosen = new Set<string>();
  for (const pattern of patterns) {
    const test = compileTargetPattern(pattern);
    const hits = adaptable.filter(([name]) => test(name)).map(([name]) => name);
    if (hits.length === 0) {
      const onlyHead = options.trainClassifier && [...headNames].some((n) => test(n));
      const hint = onlyHead
        ? ' It matches only the classifier, which trainClassifier keeps fully trainable: set trainClassifier to false to adapt it.'
        : ` Adaptable weights (2-D dense or 4-D conv kernels) are e.g. ${adaptable
            .slice(0, 4)
            .map(([n]) => n)
            .join(', ')}.`;
      throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `LoRA target "${pattern}" matches no adaptable weight of ${model.arch}.${hint}`, {
        details: { pattern, arch: model.arch },
      });
    }
    for (const h of hits) chosen.add(h);
  }
  return adaptable
    .filter(([name]) => chosen.has(name))
    .map(([name, v]) => {
      const out = v.shape[v.rank - 1];
      const fanIn = v.size / out;
      const rank = Math.min(options.rank, fanIn, out);
      return {
        mode: targetMode(model, name, options.mode),
        weight: name,
        shape: [...v.shape],
        fanIn,
        out,
        rank,
        scale: options.alpha / rank,
        a: `${LORA_PARAM_PREFIX}${name}.A`,
        b: `${LORA_PARAM_PREFIX}${name}.B`,
      };
    });
}

/**
 * The mode of one target. Factored needs the layer to go through `ctx.linear` (else the
 * override would never run) and no mask: M ⊙ (A·B) has no factored form, and training the
 * unmasked update would make the merged (masked) model differ from the trained one.
 */
function targetMode(model: Model, name: string, mode: LoraOptions['mode']): 'weight' | 'factored' {
  if (mode === 'weight') return 'weight';
  const linear = model.linearWeights.includes(name);
  const masked = model.masks.has(name);
  if (mode === 'auto') return linear && !masked ? 'factored' : 'weight';
  if (!linear) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `LoRA mode 'factored' cannot adapt "${name}": architecture ${model.arch} does not compute it through ctx.linear. ` +
        "Use mode 'auto' or 'weight'.",
      { details: { weight: name, arch: model.arch } },
    );
  }
  if (masked) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `LoRA mode 'factored' cannot adapt "${name}": it has a pruning mask, and a factored update cannot keep pruned weights at zero. ` +
        "Use mode 'auto' (weight space for masked targets) or 'weight'.",
      { details: { weight: name } },
    );
  }
  return 'factored';
}

/** Whether tfjs is recording a gradient tape: the one sign of training a weight transform sees. */
function recordingGradients(): boolean {
  return tf.engine().state.gradientDepth > 0;
}

/**
 * Attach LoRA adapters to a model: freeze its base weights, add A and B per target, and make
 * every forward pass compute each adapted layer with the weight W + M ⊙ (α/r)·A·B.
 *
 * @param model - the model; **load its checkpoint and masks before attaching** (the extension
 *   this follows wrapped an unpruned model by mistake)
 * @param options - LoRA options (validated here; defaults filled in)
 * @param rng - initialisation and dropout randomness (same state, same adapter)
 * @returns the handle: `merge()` folds the update into the weights, `detach()` drops it
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` on bad options, a target pattern that matches
 *   nothing, `mode: 'factored'` with a masked target or one not computed through `ctx.linear`,
 *   or a model that already carries LoRA; nothing is changed then
 * @remarks
 * The paper's update of a layer y = W_p·x (W_p `[out, in]`) is ΔW_p = (α/r)·B_p·A_p with
 * A_p `r × in` (random) and B_p `out × r` (zero). Our kernels are stored transposed, `[in, out]`
 * (dense) or HWIO `[kh, kw, in, out]` (conv), so we store A = A_pᵀ `[fanIn, r]` and
 * B = B_pᵀ `[r, out]`, and the update of the kernel is ΔW = (α/r)·A·B = ΔW_pᵀ. For a conv
 * kernel, fanIn = kh·kw·in and ΔW is reshaped to `[kh, kw, in, out]`: the adapter acts on the
 * flattened kernel, so the update has rank ≤ r as a `[kh·kw·in, out]` matrix.
 *
 * Modes ({@link LoraOptions.mode}): `weight` sets a weight transform, so the layer computes
 * `op(x, W + M ⊙ ΔW)` and the backward pass forms the full-size gradient of the effective
 * kernel before projecting it onto A and B: no cheaper than full fine-tuning. `factored` sets a
 * linear override (`Model.setLinearOverride`) computing `op(x, W) + (α/r)·op(x, A_k)·B`, with
 * A_k = A reshaped to `[kh, kw, in, r]` (conv, run with the layer's stride and padding) or
 * `[in, r]` (dense) and B applied over the last axis (a 1×1 conv): equal to the weight-space
 * form without a mask, since a conv is linear in its kernel and this composition is the conv
 * with kernel reshape(A·B). `auto` (default) picks `factored` for unmasked layers the
 * architecture computes through `ctx.linear`, `weight` otherwise; see {@link LoraTarget.mode}.
 * The A and B variables, `delta`, `merge`, `detach` and checkpoints are the same in both.
 *
 * Sparsity: where the weight has a pruning mask M, the update is masked (M ⊙ ΔW), so pruned
 * weights stay exactly 0 in the effective weight, in training, and after {@link AttachedAdapter.merge}.
 *
 * Dropout: with the flattened-weight formulation there is no adapter input to drop, so
 * dropout zeroes rows of A (each with probability p; kept rows scaled by 1/(1−p)), drawn
 * afresh for every forward pass that tfjs differentiates (training). For a dense layer this
 * is input dropout on the adapter path with one mask per batch instead of one per sample; for
 * a conv it drops (tap, input channel) rows of the flattened kernel. Both modes drop the same
 * rows (same draws, same order). Forward passes that are not differentiated (evaluation,
 * merge) never drop.
 *
 * What trains: A and B of every target, plus the classifier kernel and bias when
 * `trainClassifier` (they are then not frozen and never adapted). BatchNorm running
 * statistics are buffers, not weights: they still update in training-mode forward passes.
 * @example
 * ```ts
 * const lora = attachLora(model, { rank: 8 }, new Rng(0));
 * await train(model, { ...opts });   // only A, B and the classifier change
 * lora.merge();                      // W ← W + M ⊙ ΔW, adapters removed
 * ```
 */
export function attachLora(model: Model, options: LoraOptionsInput | LoraOptions, rng: Rng): AttachedLora {
  const opts = parseOptions(loraOptionsSchema, options, 'adapter "lora"') as LoraOptions;
  for (const name of model.extraParams.keys()) {
    if (name.startsWith(LORA_PARAM_PREFIX)) {
      throw new UnlearnError(
        'UNLEARN_INVALID_OPTIONS',
        `Model ${model.arch} already carries LoRA parameters ("${name}"); merge or detach the attached adapter first.`,
        { details: { name } },
      );
    }
  }
  const targets = resolveLoraTargets(model, opts);
  const headNames = new Set([model.classifier.kernel, model.classifier.bias].filter((n): n is string => n !== undefined));
  const frozenByAdapter = [...model.params.keys()].filter((n) => !model.isFrozen(n) && !(opts.trainClassifier && headNames.has(n)));
  const dropoutRng = rng.fork('lora-dropout');
  const byWeight = new Map(targets.map((t) => [t.weight, t]));

  // Create every variable before touching the model, so a failure leaves it as it was.
  const created: Array<[string, tf.Variable]> = [];
  try {
    for (const t of targets) {
      const initRng = rng.fork(`lora-init:${t.weight}`);
      const n = t.fanIn * t.rank;
      const values =
        opts.init === 'gaussian'
          ? initRng.normalArray(n, 0, 1 / t.rank)
          : initRng.uniformArray(n, -1 / Math.sqrt(t.fanIn), 1 / Math.sqrt(t.fanIn));
      created.push([t.a, tf.tidy(() => tf.variable(tf.tensor2d(values, [t.fanIn, t.rank]), true))]);
      created.push([t.b, tf.tidy(() => tf.variable(tf.zeros([t.rank, t.out]), true))]);
    }
  } catch (err) {
    for (const [, v] of created) v.dispose();
    throw err;
  }
  for (const [name, v] of created) model.addExtraParam(name, v);
  model.setFrozen(frozenByAdapter, true);

  /** A' = A with dropped rows when training (both modes draw the same masks in the same order). */
  const adapterA = (t: LoraTarget, training: boolean): tf.Tensor2D => {
    const a = model.extraParams.get(t.a) as tf.Tensor2D;
    if (!training || opts.dropout <= 0) return a;
    const keep = 1 - opts.dropout;
    const rows = new Float32Array(t.fanIn);
    for (let i = 0; i < rows.length; i++) rows[i] = dropoutRng.next() < keep ? 1 / keep : 0;
    return tf.mul(a, tf.tensor2d(rows, [t.fanIn, 1]));
  };

  /** M ⊙ (α/r)·A'·B shaped like the weight. */
  const update = (t: LoraTarget, training: boolean): tf.Tensor =>
    tf.tidy(() => {
      const a = adapterA(t, training);
      const b = model.extraParams.get(t.b) as tf.Tensor2D;
      let delta: tf.Tensor = tf.mul(tf.matMul(a, b), t.scale);
      if (t.shape.length !== 2) delta = tf.reshape(delta, t.shape as number[]);
      const mask = model.masks.get(t.weight);
      return mask ? tf.mul(delta, mask) : delta;
    });

  /**
   * op(x, W) + (α/r)·(op(x, A'_k)·B), A'_k = A' reshaped to the kernel's shape with r outputs:
   * op is linear in its kernel, and a kh×kw conv to r channels followed by a 1×1 conv (a
   * matMul over the last axis) is the conv with kernel reshape(A'·B). W is frozen, so the
   * backward pass computes gradients for the small A and B paths and ∂/∂x, never the
   * full-size ∂/∂W that the weight-space form has to form and then project.
   */
  const factored =
    (t: LoraTarget): LinearOverride =>
    (x, w, op) =>
      tf.tidy(() => {
        const training = recordingGradients();
        // A mask set after attach: fall back to weight space, which keeps pruned weights at 0.
        if (model.masks.has(t.weight)) return op(x, tf.add(w, update(t, training)));
        const a = tf.reshape(adapterA(t, training), [...t.shape.slice(0, -1), t.rank]);
        const b = tf.mul(model.extraParams.get(t.b) as tf.Tensor2D, t.scale);
        const ax = op(x, a);
        const low = matMul(tf.reshape(ax, [-1, t.rank]) as tf.Tensor2D, b as tf.Tensor2D);
        // W is frozen (unless unfrozen by hand since): tell the op it needs no ∂/∂W.
        const base = op(x, w, model.isFrozen(t.weight) ? { constantWeight: true } : undefined);
        return tf.add(base, tf.reshape(low, [...ax.shape.slice(0, -1), t.out]));
      });

  for (const t of targets) {
    if (t.mode === 'factored') model.setLinearOverride(t.weight, factored(t));
    else model.setWeightTransform(t.weight, (weight) => tf.tidy(() => tf.add(weight, update(t, recordingGradients()))));
  }

  let attached = true;
  const ensureAttached = (what: string): void => {
    if (!attached) {
      throw new UnlearnError(
        'UNLEARN_INVALID_OPTIONS',
        `Cannot ${what}: this LoRA adapter was already merged or detached; attach a new one.`,
      );
    }
  };
  const remove = (): void => {
    for (const t of targets) {
      if (t.mode === 'factored') model.setLinearOverride(t.weight, undefined);
      else model.setWeightTransform(t.weight, undefined);
      model.removeExtraParam(t.a);
      model.removeExtraParam(t.b);
    }
    model.setFrozen(frozenByAdapter, false);
    attached = false;
  };

  let trainableCount = 0;
  for (const v of model.trainableVariables().values()) trainableCount += v.size;

  return {
    options: opts,
    targets,
    frozenByAdapter,
    parameterNames: targets.flatMap((t) => [t.a, t.b]),
    trainableCount,
    get attached() {
      return attached;
    },
    delta(weight: string): tf.Tensor {
      ensureAttached('compute a LoRA update');
      const t = byWeight.get(weight);
      if (!t) {
        throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `"${weight}" is not adapted by this LoRA adapter.`, { details: { weight } });
      }
      return update(t, false);
    },
    merge(): void {
      ensureAttached('merge');
      for (const t of targets) {
        const w = model.params.get(t.weight) as tf.Variable;
        tf.tidy(() => {
          const merged = tf.add(w, update(t, false));
          const mask = model.masks.get(t.weight);
          // W is already 0 where M is 0 and so is M ⊙ ΔW; multiplying again guards a mask
          // that was changed after the weight was last masked.
          w.assign(mask ? tf.mul(merged, mask) : merged);
        });
      }
      remove();
    },
    detach(): void {
      ensureAttached('detach');
      remove();
    },
  };
}
