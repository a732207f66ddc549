import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { type ParamSpec, UnlearnError } from '@unlearnjs/core';

/**
 * The tfjs-layers (Keras) layer classes a `tfjs-layers` model may contain. Any other class,
 * including a nested model, makes `importLayersModel` and `createModel` fail with one error listing them.
 */
export const SUPPORTED_LAYER_CLASSES: readonly string[] = Object.freeze([
  'InputLayer',
  'Conv2D',
  'DepthwiseConv2D',
  'Dense',
  'BatchNormalization',
  'Activation',
  'ReLU',
  'LeakyReLU',
  'Softmax',
  'MaxPooling2D',
  'AveragePooling2D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling2D',
  'Flatten',
  'Reshape',
  'ZeroPadding2D',
  'Dropout',
  'Rescaling',
  'Add',
  'Multiply',
  'Average',
  'Concatenate',
]);

const MODEL_CLASSES = new Set(['Sequential', 'Model', 'Functional']);

/** Activation functions (as tfjs-layers serialises them) the forward pass computes. */
const ACTIVATIONS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  linear: (x) => x,
  relu: (x) => tf.relu(x),
  relu6: (x) => tf.relu6(x),
  elu: (x) => tf.elu(x),
  selu: (x) => tf.selu(x),
  sigmoid: (x) => tf.sigmoid(x),
  hardSigmoid: (x) => tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1),
  tanh: (x) => tf.tanh(x),
  softplus: (x) => tf.softplus(x),
  softsign: (x) => tf.div(x, tf.add(tf.abs(x), 1)),
  swish: (x) => tf.mul(x, tf.sigmoid(x)),
  mish: (x) => tf.mul(x, tf.tanh(tf.softplus(x))),
  softmax: (x) => tf.softmax(x),
};

/** One layer call of the graph, in the order the forward pass runs them. */
export interface LayerCall {
  /** Id of the symbolic tensor this call produces. */
  readonly id: number;
  /** The layer's name. */
  readonly layer: string;
  /** Its class, one of {@link SUPPORTED_LAYER_CLASSES}. */
  readonly className: string;
  /** Its configuration as tfjs-layers' `getConfig()` returns it (camelCase, defaults filled). */
  readonly config: Readonly<Record<string, unknown>>;
  /** Ids of the symbolic tensors it takes. */
  readonly inputs: readonly number[];
  /** Its weights by role (`kernel`, `bias`, `depthwise_kernel`, `gamma`, `beta`, `moving_mean`, `moving_variance`) → weight name. */
  readonly weights: Readonly<Record<string, string>>;
  /** The activation it applies last, or `linear`. A final softmax is dropped here (see {@link LayersPlan.finalSoftmax}). */
  readonly activation: string;
}

/** A tfjs-layers topology compiled into what the `tfjs-layers` architecture runs. @internal */
export interface LayersPlan {
  /** The model's input shape without the batch dimension. */
  readonly inputShape: readonly number[];
  /** Id of the input's symbolic tensor. */
  readonly inputId: number;
  /** Layer calls in a topological order. */
  readonly calls: readonly LayerCall[];
  /** Id of the tensor that holds the logits (before a final softmax). */
  readonly logitsId: number;
  /** Whether the model ends in a softmax, which the forward pass leaves out (it returns logits). */
  readonly finalSoftmax: boolean;
  /** Trainable weights in tfjs-layers' order, with their initialiser. */
  readonly params: readonly ParamSpec[];
  /** Non-trainable weights (BatchNorm moving statistics), with their initial value. */
  readonly buffers: ReadonlyArray<{ name: string; shape: number[]; init: 'zeros' | 'ones' }>;
  /** Every weight name in tfjs-layers' order (what `model.json`'s manifest lists). */
  readonly weightOrder: readonly string[];
  /** Conv, depthwise-conv and dense kernels. */
  readonly prunable: readonly string[];
  /** Conv and dense kernels (computed through `ctx.linear`). */
  readonly linear: readonly string[];
  /** The last Dense layer's kernel and bias. */
  readonly classifier: { kernel: string; bias?: string };
}

function incompatible(message: string, details: Record<string, unknown>): UnlearnError {
  return new UnlearnError('UNLEARN_CHECKPOINT_INCOMPATIBLE', message, { details });
}

function invalid(message: string, details: Record<string, unknown> = {}): UnlearnError {
  return new UnlearnError('UNLEARN_INVALID_OPTIONS', message, { details });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The model part of a layers topology: `model_config` of a full Keras model JSON, or the
 * topology itself (`{ class_name, config }`).
 * @param topology - `modelTopology` of a model.json, or `LayersModel.toJSON(null, false)`
 * @returns `{ class_name, config }`
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when it is not a layers model topology
 */
export function modelConfigOf(topology: Record<string, unknown>): { class_name: string; config: unknown } {
  const inner = isRecord(topology.model_config) ? topology.model_config : topology;
  if (typeof inner.class_name !== 'string' || inner.config === undefined) {
    throw invalid(
      'The topology is not a TensorFlow.js layers model: expected { class_name, config } (model.json\'s "modelTopology", or LayersModel.toJSON(null, false)).',
    );
  }
  return { class_name: inner.class_name, config: inner.config };
}

/** tfjs-layers' own conversion of a Python-style (snake_case) config to its TS form. */
function toCamelCase(s: string): string {
  if (s.length <= 1 || !s.includes('_')) return s;
  return s.replace(/[_]+(\w|$)/g, (_m, p1: string) => p1.toUpperCase());
}

function convertPythonicToTs(value: unknown, key?: string): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string') return toCamelCase(value);
  if (Array.isArray(value)) {
    // Layer names in inbound_nodes / input_layers / output_layers keep their spelling.
    const namesKey = key === 'inboundNodes' || key === 'outputLayers' || key === 'inputLayers';
    return value.map((item, i) => (namesKey && i === 0 && typeof item === 'string' ? item : convertPythonicToTs(item, key)));
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (k === 'name' && typeof v === 'string') out[k] = v;
    else {
      const tsKey = toCamelCase(k);
      out[tsKey] = convertPythonicToTs(v, tsKey);
    }
  }
  return out;
}

/** The layer configs listed in a model config (Sequential: a list or `{ layers }`; functional: `{ layers }`). */
function layerConfigsOf(modelConfig: { class_name: string; config: unknown }): Array<Record<string, unknown>> {
  const c = modelConfig.config;
  const layers = Array.isArray(c) ? c : isRecord(c) && Array.isArray(c.layers) ? c.layers : undefined;
  if (!layers?.every(isRecord)) {
    throw invalid(`The ${modelConfig.class_name} topology has no list of layers ("config.layers").`);
  }
  return layers as Array<Record<string, unknown>>;
}

/** Initialiser of a weight, from the layer's serialised tfjs initialiser, as a core init string. */
function initOf(initializer: unknown, shape: number[], role: string): Pick<ParamSpec, 'init' | 'fanIn'> {
  const fallback = (): Pick<ParamSpec, 'init' | 'fanIn'> => ({
    init: shape.length > 1 ? 'glorot-uniform' : role === 'gamma' ? 'ones' : 'zeros',
  });
  if (!isRecord(initializer) || typeof initializer.className !== 'string') return fallback();
  const config = isRecord(initializer.config) ? initializer.config : {};
  const num = (k: string, d: number) => (typeof config[k] === 'number' ? (config[k] as number) : d);
  const receptive = shape.length > 2 ? shape.slice(0, -2).reduce((a, b) => a * b, 1) : 1;
  const fanIn = shape.length >= 2 ? shape[shape.length - 2] * receptive : shape[0];
  const fanOut = shape.length >= 2 ? shape[shape.length - 1] * receptive : shape[0];
  switch (initializer.className) {
    case 'Zeros':
      return { init: 'zeros' };
    case 'Ones':
      return { init: 'ones' };
    case 'Constant': {
      const v = num('value', 0);
      return v === 0 ? { init: 'zeros' } : v === 1 ? { init: 'ones' } : fallback();
    }
    case 'RandomNormal':
      return num('mean', 0) === 0 ? { init: `normal:${num('stddev', 0.05)}` } : fallback();
    case 'TruncatedNormal':
      return num('mean', 0) === 0 ? { init: `trunc-normal:${num('stddev', 0.05)}` } : fallback();
    case 'RandomUniform': {
      const lo = num('minval', -0.05);
      const hi = num('maxval', 0.05);
      // core's kaiming-uniform draws U(−1/√fanIn, 1/√fanIn): fanIn = 1/limit² gives U(−limit, limit).
      return lo === -hi && hi > 0 ? { init: 'kaiming-uniform', fanIn: 1 / (hi * hi) } : fallback();
    }
    default: {
      if (typeof config.scale !== 'number' || typeof config.mode !== 'string' || typeof config.distribution !== 'string') return fallback();
      // VarianceScaling and its named forms (Glorot, He, LeCun), as tfjs-layers computes them.
      const n = config.mode === 'fanIn' ? fanIn : config.mode === 'fanOut' ? fanOut : (fanIn + fanOut) / 2;
      const s = config.scale / Math.max(1, n);
      if (config.distribution === 'normal') return { init: `trunc-normal:${Math.sqrt(s)}` };
      return { init: 'kaiming-uniform', fanIn: 1 / (3 * s) };
    }
  }
}

const INITIALIZER_KEY: Record<string, string> = {
  kernel: 'kernelInitializer',
  bias: 'biasInitializer',
  depthwise_kernel: 'depthwiseInitializer',
  gamma: 'gammaInitializer',
  beta: 'betaInitializer',
};

/** Checks each layer's configuration for what the forward pass does not compute. */
function checkLayerConfig(className: string, layer: string, config: Record<string, unknown>, rank: number): string | undefined {
  if ('dataFormat' in config && config.dataFormat !== 'channelsLast')
    return `${layer}: dataFormat ${String(config.dataFormat)} (only channelsLast)`;
  if (typeof config.activation === 'string' && !(config.activation in ACTIVATIONS)) return `${layer}: activation ${config.activation}`;
  if (className === 'BatchNormalization') {
    const axis = config.axis as number;
    if (axis !== -1 && axis !== rank - 1) return `${layer}: BatchNormalization over axis ${axis} (only the last)`;
  }
  if (className === 'Dropout' && config.noiseShape != null) return `${layer}: Dropout with a noiseShape`;
  if ((className === 'Conv2D' || className === 'DepthwiseConv2D') && config.padding === 'causal') return `${layer}: causal padding`;
  return undefined;
}

/**
 * Compile a TensorFlow.js layers topology into the graph the `tfjs-layers` architecture runs.
 *
 * @param topology - `modelTopology` of a model.json (tfjs or converted from Keras), or
 *   `LayersModel.toJSON(null, false)`
 * @returns the plan: layer calls in order, weights with initialisers, prunable kernels, classifier
 * @throws UnlearnError `UNLEARN_CHECKPOINT_INCOMPATIBLE` listing every unsupported layer class (or
 *   activation, data format), for several inputs or outputs, or when the output is not a Dense
 *   layer giving logits or softmax probabilities; `UNLEARN_INVALID_OPTIONS` when it is not a
 *   layers topology, or tfjs-layers cannot build it
 * @remarks Builds the model with tfjs-layers (zero-initialised, then disposed) to get every
 * layer's complete configuration, weight names and shapes exactly as `tf.loadLayersModel` would.
 */
export function compileLayersTopology(topology: Record<string, unknown>): LayersPlan {
  const modelConfig = modelConfigOf(topology);
  if (!MODEL_CLASSES.has(modelConfig.class_name)) {
    throw incompatible(`A ${modelConfig.class_name} is not a layers model (Sequential or functional Model).`, {
      className: modelConfig.class_name,
    });
  }
  const unsupported = [
    ...new Set(
      layerConfigsOf(modelConfig)
        .map((l) => String(l.class_name))
        .filter((c) => !SUPPORTED_LAYER_CLASSES.includes(c)),
    ),
  ];
  if (unsupported.length > 0) {
    throw incompatible(
      `The model has layers unlearnjs cannot run: ${unsupported.join(', ')}. Supported layer classes: ${SUPPORTED_LAYER_CLASSES.join(', ')}.`,
      { unsupported },
    );
  }
  const tsConfig = convertPythonicToTs({ className: modelConfig.class_name, config: modelConfig.config }) as {
    className: string;
    config: tf.serialization.ConfigDict;
  };
  let built: tfl.LayersModel;
  try {
    built =
      modelConfig.class_name === 'Sequential'
        ? tfl.Sequential.fromConfig<tfl.Sequential>(tfl.Sequential, tsConfig.config, {}, true)
        : tfl.LayersModel.fromConfig<tfl.LayersModel>(tfl.LayersModel, tsConfig.config, {}, true);
  } catch (err) {
    throw invalid(`TensorFlow.js could not build the model from its topology: ${(err as Error).message}`, {});
  }
  try {
    return planOf(built);
  } finally {
    built.dispose();
  }
}

function planOf(model: tfl.LayersModel): LayersPlan {
  if (!model.inputs || !model.outputs) {
    throw incompatible('The Sequential model has no input shape: give its first layer an inputShape (or batchInputShape).', {});
  }
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw incompatible(
      `The model has ${model.inputs.length} inputs and ${model.outputs.length} outputs; unlearnjs needs one of each (images in, class scores out).`,
      {
        inputs: model.inputs.length,
        outputs: model.outputs.length,
      },
    );
  }
  const input = model.inputs[0];
  const calls: LayerCall[] = [];
  const params: ParamSpec[] = [];
  const buffers: Array<{ name: string; shape: number[]; init: 'zeros' | 'ones' }> = [];
  const prunable: string[] = [];
  const linear: string[] = [];
  const problems: string[] = [];
  const seenLayers = new Set<string>();
  const visited = new Set<number>();
  const visit = (t: tfl.SymbolicTensor): void => {
    if (visited.has(t.id) || t.id === input.id) return;
    visited.add(t.id);
    for (const i of t.inputs) visit(i);
    const layer = t.sourceLayer;
    const className = layer.getClassName();
    const config = layer.getConfig() as Record<string, unknown>;
    const problem = checkLayerConfig(className, layer.name, config, t.rank);
    if (problem) problems.push(problem);
    const weights: Record<string, string> = {};
    for (const w of layer.weights) {
      const name = w.originalName;
      const role = name.slice(name.lastIndexOf('/') + 1);
      weights[role] = name;
      if (seenLayers.has(layer.name)) continue; // a shared layer: its weights once
      const shape = [...w.shape] as number[];
      if (w.trainable) params.push({ name, shape, ...initOf(config[INITIALIZER_KEY[role]], shape, role) });
      else buffers.push({ name, shape, init: role === 'moving_variance' ? 'ones' : 'zeros' });
      if (role === 'kernel' || role === 'depthwise_kernel') prunable.push(name);
      if (role === 'kernel') linear.push(name);
    }
    seenLayers.add(layer.name);
    const activation =
      className === 'Activation' ? String(config.activation) : typeof config.activation === 'string' ? config.activation : 'linear';
    calls.push({ id: t.id, layer: layer.name, className, config, inputs: t.inputs.map((i) => i.id), weights, activation });
  };
  visit(model.outputs[0]);
  if (problems.length > 0) {
    throw incompatible(`The model has layer settings unlearnjs cannot run: ${problems.join('; ')}.`, { unsupported: problems });
  }
  const weightOrder = model.weights.map((w) => w.originalName);

  if (calls.length === 0) throw incompatible('The model has no layers between its input and its output.', {});
  // The forward pass returns logits: a final softmax (an activation or a layer) is left out.
  let last: LayerCall | undefined = calls[calls.length - 1];
  let finalSoftmax = false;
  if ((last.className === 'Softmax' || (last.className === 'Activation' && last.activation === 'softmax')) && last.inputs.length === 1) {
    finalSoftmax = true;
    const logitsId = last.inputs[0];
    last = calls.find((c) => c.id === logitsId);
  } else if (last.className === 'Dense' && last.activation === 'softmax') {
    finalSoftmax = true;
    calls[calls.length - 1] = { ...last, activation: 'linear' };
    last = calls[calls.length - 1];
  }
  if (last?.className !== 'Dense' || last.activation !== 'linear' || !last.weights.kernel) {
    throw incompatible(
      `The model's output must be a Dense layer's logits, or their softmax; it ends in ${last ? `${last.className} "${last.layer}"${last.activation !== 'linear' ? ` with activation ${last.activation}` : ''}` : 'its input'}.`,
      { output: last?.layer },
    );
  }
  const outShape = model.outputs[0].shape;
  if (outShape.length !== 2 || (outShape[1] ?? 0) < 2) {
    throw incompatible(`The model's output has shape [${outShape.join(', ')}]; unlearnjs needs [batch, classes] with at least 2 classes.`, {
      outputShape: outShape,
    });
  }
  return {
    inputShape: input.shape.slice(1) as number[],
    inputId: input.id,
    calls: finalSoftmax && last.id !== calls[calls.length - 1].id ? calls.slice(0, -1) : calls,
    logitsId: last.id,
    finalSoftmax,
    params,
    buffers,
    weightOrder,
    prunable,
    linear,
    classifier: { kernel: last.weights.kernel, ...(last.weights.bias ? { bias: last.weights.bias } : {}) },
  };
}

/**
 * The activation function called `name` (as tfjs-layers serialises it).
 * @internal
 */
export function activationFn(name: string): (x: tf.Tensor) => tf.Tensor {
  const f = ACTIVATIONS[name];
  if (!f) throw incompatible(`Activation ${name} is not supported.`, { activation: name });
  return f;
}
