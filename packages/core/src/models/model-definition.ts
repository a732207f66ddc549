import type * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../random/rng.js';

/** Named tensors, e.g. a weight snapshot or a mask set. */
export type NamedTensors = Map<string, tf.Tensor>;

/** Options of a forward pass. */
export interface ForwardOptions {
  /** Training mode: BatchNorm uses batch statistics and updates running ones; dropout is on. @defaultValue false */
  training?: boolean;
  /** Randomness for dropout in training mode. */
  rng?: Rng;
  /**
   * Gradients of masked weights are needed only at the mask's ones: each masked linear layer's
   * op gets its mask as {@link LinearOpOptions.gradientMask}, and may compute 0 for the pruned
   * positions instead of their (discarded) gradient. For loops that re-apply the masks after
   * every step and read nothing else from those positions (core's `train`). @defaultValue false
   */
  maskedGradients?: boolean;
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
  /**
   * The weight's pruning mask, given when the forward pass asked for masked gradients
   * ({@link ForwardOptions.maskedGradients}): the gradient with respect to the weight is needed
   * only where it is 1, and the op may return 0 elsewhere (a conv then asks the backend for a
   * sampled filter gradient). The forward result must not change.
   */
  gradientMask?: tf.Tensor;
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
