import * as tf from '@tensorflow/tfjs-core';
import {
  type ForwardContext,
  Model,
  type ModelDefinition,
  type ModelFactory,
  type Rng,
  UnlearnError,
  dense,
  dropout,
} from '@unlearnjs/core';
import { z } from 'zod';
import { type LayerCall, type LayersPlan, activationFn, compileLayersTopology } from './tfjs-layers-topology.js';

/** Options of the `tfjs-layers` architecture (validated by {@link tfjsLayersOptionsSchema}). */
export interface TfjsLayersOptions {
  /**
   * The layers model's topology: `modelTopology` of its `model.json` (tfjs, or converted from
   * Keras), or `LayersModel.toJSON(null, false)`. Stored in checkpoints as it is.
   */
  topology: Record<string, unknown>;
}

/** Architecture id of {@link tfjsLayersDefinition}. */
export const TFJS_LAYERS_ARCH = 'tfjs-layers';

/** Zod schema of {@link TfjsLayersOptions}: a `topology` object with a `class_name` (or a `model_config` holding one). */
export const tfjsLayersOptionsSchema = z.object({
  topology: z
    .record(z.string(), z.unknown())
    .refine((t) => typeof t.class_name === 'string' || (typeof t.model_config === 'object' && t.model_config !== null), {
      message: 'expected a layers model topology: { class_name, config } (model.json\'s "modelTopology")',
    }),
});

function pair(v: unknown): [number, number] {
  return Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)];
}

function padding(v: unknown): 'same' | 'valid' {
  return v === 'same' ? 'same' : 'valid';
}

/** Dense over the last axis of any rank, through core's `dense` (rank 2). */
function denseAnyRank(x: tf.Tensor, w: tf.Tensor, o?: { constantWeight?: boolean }): tf.Tensor {
  if (x.rank === 2) return dense(x as tf.Tensor2D, w, undefined, o);
  const inDim = x.shape[x.rank - 1];
  const y = dense(tf.reshape(x, [-1, inDim]) as tf.Tensor2D, w, undefined, o);
  return tf.reshape(y, [...x.shape.slice(0, -1), w.shape[w.rank - 1]]);
}

/**
 * BatchNormalization as tfjs-layers computes it: batch moments (biased variance) in training
 * mode, which also move the statistics as `model.fit` does (`moving ← m·moving + (1 − m)·batch`);
 * the moving statistics in eval mode.
 */
function batchNormalization(call: LayerCall, x: tf.Tensor, ctx: ForwardContext): tf.Tensor {
  const { weights, config } = call;
  const epsilon = Number(config.epsilon);
  const gamma = weights.gamma ? ctx.w(weights.gamma) : undefined;
  const beta = weights.beta ? ctx.w(weights.beta) : undefined;
  const movingMean = ctx.buffer(weights.moving_mean);
  const movingVar = ctx.buffer(weights.moving_variance);
  if (!ctx.training) return tf.batchNorm(x, movingMean, movingVar, beta, gamma, epsilon);
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const decay = 1 - Number(config.momentum);
  // The update reads the batch moments but feeds nothing back into the output, so a gradient
  // taped around the forward pass ignores it (as core's BatchNorm).
  tf.tidy(() => {
    movingMean.assign(tf.sub(movingMean, tf.mul(tf.sub(movingMean, mean), decay)));
    movingVar.assign(tf.sub(movingVar, tf.mul(tf.sub(movingVar, variance), decay)));
  });
  return tf.batchNorm(x, mean, variance, beta, gamma, epsilon);
}

/** One layer call of the graph. */
function applyCall(call: LayerCall, inputs: tf.Tensor[], ctx: ForwardContext): tf.Tensor {
  const { config, weights } = call;
  const x = inputs[0];
  const withBias = (y: tf.Tensor) => (weights.bias ? tf.add(y, ctx.w(weights.bias)) : y);
  let y: tf.Tensor;
  switch (call.className) {
    case 'Conv2D': {
      const strides = pair(config.strides);
      const dilations = pair(config.dilationRate);
      const pad = padding(config.padding);
      y = withBias(ctx.linear(weights.kernel, x, (t, w) => tf.conv2d(t as tf.Tensor4D, w as tf.Tensor4D, strides, pad, 'NHWC', dilations)));
      break;
    }
    case 'DepthwiseConv2D': {
      // Output channel i·m + j depends on input channel i: not a LinearOp (which needs output
      // o to depend on w[..., o] only), so the kernel is read as a weight.
      const w = ctx.w(weights.depthwise_kernel) as tf.Tensor4D;
      y = withBias(
        tf.depthwiseConv2d(x as tf.Tensor4D, w, pair(config.strides), padding(config.padding), 'NHWC', pair(config.dilationRate)),
      );
      break;
    }
    case 'Dense':
      y = withBias(ctx.linear(weights.kernel, x, (t, w, o) => denseAnyRank(t, w, o)));
      break;
    case 'BatchNormalization':
      y = batchNormalization(call, x, ctx);
      break;
    case 'Activation':
      y = x;
      break;
    case 'ReLU': {
      const max = config.maxValue;
      y = typeof max === 'number' ? tf.clipByValue(x, 0, max) : tf.relu(x);
      break;
    }
    case 'LeakyReLU':
      y = tf.leakyRelu(x, Number(config.alpha ?? 0.3));
      break;
    case 'Softmax': {
      const axis = Array.isArray(config.axis) ? Number(config.axis[0]) : Number(config.axis ?? -1);
      y = axis === -1 || axis === x.rank - 1 ? tf.softmax(x) : tf.exp(tf.sub(x, tf.logSumExp(x, axis, true)));
      break;
    }
    case 'MaxPooling2D':
      y = tf.maxPool(x as tf.Tensor4D, pair(config.poolSize), pair(config.strides ?? config.poolSize), padding(config.padding));
      break;
    case 'AveragePooling2D':
      y = tf.avgPool(x as tf.Tensor4D, pair(config.poolSize), pair(config.strides ?? config.poolSize), padding(config.padding));
      break;
    case 'GlobalAveragePooling2D':
      y = tf.mean(x, [1, 2]);
      break;
    case 'GlobalMaxPooling2D':
      y = tf.max(x, [1, 2]);
      break;
    case 'Flatten':
      y = tf.reshape(x, [x.shape[0], -1]);
      break;
    case 'Reshape':
      y = tf.reshape(x, [x.shape[0], ...(config.targetShape as number[]).map((d) => (d === null ? -1 : d))]);
      break;
    case 'ZeroPadding2D': {
      const [[t, b], [l, r]] = config.padding as [[number, number], [number, number]];
      y = tf.pad(x, [
        [0, 0],
        [t, b],
        [l, r],
        [0, 0],
      ]);
      break;
    }
    case 'Dropout':
      y = ctx.training ? dropout(x, Number(config.rate), ctx.rng) : x;
      break;
    case 'Rescaling':
      y = tf.add(tf.mul(x, Number(config.scale)), Number(config.offset ?? 0));
      break;
    case 'Add':
      y = inputs.length === 1 ? x : tf.addN(inputs);
      break;
    case 'Multiply':
      y = inputs.slice(1).reduce((a, b) => tf.mul(a, b), x);
      break;
    case 'Average':
      y = tf.div(inputs.length === 1 ? x : tf.addN(inputs), inputs.length);
      break;
    case 'Concatenate':
      y = tf.concat(inputs, Number(config.axis ?? -1));
      break;
    default:
      y = x; // InputLayer; compileLayersTopology refused every other class
  }
  return call.activation === 'linear' ? y : activationFn(call.activation)(y);
}

function forwardOf(plan: LayersPlan): ModelDefinition['forward'] {
  const perImage = plan.inputShape.reduce((a, b) => a * b, 1);
  return (x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D => {
    let input: tf.Tensor = x;
    if (!tf.util.arraysEqual(x.shape.slice(1), [...plan.inputShape])) {
      const size = x.shape.slice(1).reduce((a, b) => a * b, 1);
      if (size !== perImage) {
        throw new UnlearnError(
          'UNLEARN_INVALID_OPTIONS',
          `The layers model takes inputs of shape [${plan.inputShape.join(', ')}] per example, got images [${x.shape.slice(1).join(', ')}].`,
          { details: { expected: plan.inputShape, got: x.shape.slice(1) } },
        );
      }
      // e.g. a model that takes flattened images [h·w·c]: the same values, in NHWC order.
      input = tf.reshape(x, [x.shape[0], ...plan.inputShape]);
    }
    const values = new Map<number, tf.Tensor>([[plan.inputId, input]]);
    for (const call of plan.calls) {
      values.set(
        call.id,
        applyCall(
          call,
          call.inputs.map((id) => values.get(id) as tf.Tensor),
          ctx,
        ),
      );
    }
    return values.get(plan.logitsId) as tf.Tensor2D;
  };
}

/**
 * The definition of a TensorFlow.js layers model: its weights under their tfjs names and a pure
 * forward pass that computes what tfjs-layers computes, so that every pruner, unlearner,
 * adapter and evaluator runs on it.
 *
 * @param options - the layers topology (validated)
 * @returns the definition, with arch `tfjs-layers` and `config` `{ topology }`
 * @throws UnlearnError `UNLEARN_CHECKPOINT_INCOMPATIBLE` listing unsupported layer classes (see
 *   `SUPPORTED_LAYER_CLASSES`), activations or settings, for several inputs or outputs, or when the
 *   output is not a Dense layer's logits or softmax; `UNLEARN_INVALID_OPTIONS` when tfjs-layers
 *   cannot build the topology
 * @remarks
 * - **Names**: every weight keeps the name tfjs gives it in `model.json`
 *   (`conv2d_1/kernel`, `batch_normalization_1/moving_mean`), so export writes them back as they came.
 * - **Prunable**: Conv2D, DepthwiseConv2D and Dense kernels; conv and dense kernels go through
 *   `ctx.linear`, so LoRA adapts them (factored or in weight space), depthwise kernels in weight space.
 *   The classifier is the last Dense layer.
 * - **Logits**: a final softmax (the last Dense's activation, or a Softmax/Activation layer) is left
 *   out of the forward pass, which returns logits as every loss here expects; an exported model keeps it.
 * - **BatchNormalization**: trainable gamma/beta, moving statistics as buffers; in training mode the
 *   batch moments normalise and move the statistics with the layer's momentum and biased
 *   variance, exactly as `model.fit`; eval mode uses the moving statistics.
 * - **Input**: the images the data pipeline yields, raw pixels in [0, 1], NHWC; the model sees
 *   them unchanged (reshaped when it takes flat vectors of the same size). Normalise inside the
 *   model (e.g. a Rescaling layer), as core's models do.
 * - **Initialisers** (for a fresh model, or retraining from scratch): the layer's own (Glorot, He,
 *   LeCun, variance scaling, normal, truncated normal, symmetric uniform, zeros, ones); any other
 *   falls back to Glorot uniform (kernels) or zeros/ones. `trainable: false` on a layer is not
 *   honoured: unlearners train every weight unless told otherwise.
 */
export function tfjsLayersDefinition(options: TfjsLayersOptions): ModelDefinition {
  const plan = compileLayersTopology(options.topology);
  return {
    arch: TFJS_LAYERS_ARCH,
    config: { topology: options.topology },
    params: plan.params,
    buffers: plan.buffers,
    prunable: plan.prunable,
    classifier: plan.classifier,
    linear: plan.linear,
    forward: forwardOf(plan),
  };
}

/**
 * The `tfjs-layers` model factory.
 *
 * @remarks See {@link tfjsLayersDefinition}.
 */
export const tfjsLayersFactory = {
  name: TFJS_LAYERS_ARCH as typeof TFJS_LAYERS_ARCH,
  optionsSchema: tfjsLayersOptionsSchema,
  /**
   * Build a freshly initialised model of the topology.
   * @param options - validated options
   * @param rng - initialisation randomness
   * @returns a model the caller owns (dispose it)
   */
  build(options: TfjsLayersOptions, rng: Rng): Model {
    return new Model(tfjsLayersDefinition(options), rng);
  },
} satisfies ModelFactory<TfjsLayersOptions>;
