import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tf from '@tensorflow/tfjs-core';
import { type DependencyContainer, Model, Rng, UnlearnError, createModel, writeFileAtomic } from '@unlearnjs/core';
import { TFJS_LAYERS_ARCH, tfjsLayersDefinition } from './tfjs-layers-model.js';
import { compileLayersTopology, modelConfigOf } from './tfjs-layers-topology.js';

/**
 * Where a layers model comes from: a `tf.LayersModel` in memory, a tfjs IO handler (e.g.
 * `tf.io.fromMemory(artifacts)`, `tf.io.browserFiles([json, bin])`), or, in Node, the path of a
 * `model.json` whose weight files lie beside it.
 */
export type LayersModelSource = tfl.LayersModel | tf.io.IOHandler | string;

/** Options of {@link importLayersModel}. */
export interface ImportLayersModelOptions {
  /**
   * A run container where `registerInterop` ran: the model is created there (`createModel`, its
   * init stream). Without one, the model is built directly (weights are overwritten anyway).
   */
  container?: DependencyContainer;
}

/** What {@link importLayersModel} returns. */
export interface LayersModelImport {
  /** The `tfjs-layers` model holding the layers model's weights; the caller disposes it. */
  model: Model;
  /** Its configuration, `{ topology }` (what a checkpoint stores to rebuild it). */
  config: { topology: Record<string, unknown> };
  /** Whether the layers model ends in a softmax, which `model.forward` leaves out (it returns logits). */
  finalSoftmax: boolean;
}

function isLayersModel(source: LayersModelSource): source is tfl.LayersModel {
  return typeof source === 'object' && 'getWeights' in source && 'toJSON' in source && 'layers' in source;
}

/**
 * Read a `model.json` and the weight files its manifest names (paths relative to it), in Node.
 *
 * @param file - the model.json
 * @returns the artifacts, as `tf.io.fromMemory` takes them
 * @throws UnlearnError `UNLEARN_CHECKPOINT_MISSING` when a file is missing;
 *   `UNLEARN_CHECKPOINT_CORRUPT` when model.json is not JSON or has no `modelTopology`, or a
 *   weight file's size differs from its manifest
 */
export async function readLayersModelArtifacts(file: string): Promise<tf.io.ModelArtifacts> {
  const read = async (f: string) => {
    try {
      return await fs.readFile(f);
    } catch (err) {
      throw new UnlearnError('UNLEARN_CHECKPOINT_MISSING', `Cannot read ${f}: ${(err as Error).message}.`, {
        details: { file: f },
        cause: err,
      });
    }
  };
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse((await read(file)).toString('utf8'));
  } catch (err) {
    if (err instanceof UnlearnError) throw err;
    throw new UnlearnError('UNLEARN_CHECKPOINT_CORRUPT', `${file} is not JSON: ${(err as Error).message}.`, {
      details: { file },
      cause: err,
    });
  }
  if (typeof json !== 'object' || json === null || typeof json.modelTopology !== 'object' || json.modelTopology === null) {
    throw new UnlearnError('UNLEARN_CHECKPOINT_CORRUPT', `${file} has no "modelTopology": is it a layers model.json (not a graph model)?`, {
      details: { file },
    });
  }
  const manifest = json.weightsManifest ?? [];
  const dir = path.dirname(file);
  const chunks: Uint8Array[] = [];
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  for (const group of manifest) {
    const parts = await Promise.all(group.paths.map((p) => read(path.join(dir, decodeURIComponent(p)))));
    const bytes = Buffer.concat(parts);
    const expected = group.weights.reduce((n, w) => n + weightBytes(w), 0);
    if (bytes.length !== expected) {
      throw new UnlearnError(
        'UNLEARN_CHECKPOINT_CORRUPT',
        `The weight files ${group.paths.join(', ')} of ${file} hold ${bytes.length} bytes; its manifest describes ${expected}.`,
        { details: { file, paths: group.paths, bytes: bytes.length, expected } },
      );
    }
    chunks.push(bytes);
    weightSpecs.push(...group.weights);
  }
  const weightData = Buffer.concat(chunks);
  return {
    modelTopology: json.modelTopology,
    format: json.format,
    generatedBy: json.generatedBy,
    convertedBy: json.convertedBy,
    weightSpecs,
    weightData: weightData.buffer.slice(weightData.byteOffset, weightData.byteOffset + weightData.byteLength),
  };
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, float16: 2, int16: 2 };

/** Bytes of one manifest entry (quantised entries store their quantised dtype). */
function weightBytes(w: tf.io.WeightsManifestEntry): number {
  const size = w.shape.reduce((a, b) => a * b, 1);
  return size * (BYTES[w.quantization?.dtype ?? w.dtype] ?? 4);
}

/** Topology and named weights of any source; the caller disposes the tensors. */
async function topologyAndWeights(source: LayersModelSource): Promise<{ topology: Record<string, unknown>; weights: tf.NamedTensorMap }> {
  if (isLayersModel(source)) {
    const topology = source.toJSON(null, false) as unknown as Record<string, unknown>;
    const weights: tf.NamedTensorMap = {};
    for (const w of source.weights) weights[w.originalName] = tf.clone(w.read());
    return { topology, weights };
  }
  const artifacts = typeof source === 'string' ? await readLayersModelArtifacts(source) : await loadArtifacts(source);
  if (!artifacts.modelTopology || artifacts.modelTopology instanceof ArrayBuffer) {
    throw new UnlearnError('UNLEARN_CHECKPOINT_CORRUPT', 'The model artifacts have no JSON "modelTopology": is it a layers model?', {
      details: {},
    });
  }
  const data = artifacts.weightData;
  const buffer = data === undefined ? new ArrayBuffer(0) : Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
  const weights = artifacts.weightSpecs ? tf.io.decodeWeights(buffer, artifacts.weightSpecs) : {};
  return { topology: artifacts.modelTopology as Record<string, unknown>, weights };
}

async function loadArtifacts(handler: tf.io.IOHandler): Promise<tf.io.ModelArtifacts> {
  if (typeof handler.load !== 'function') {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', 'The IO handler cannot load (it has no load method).', { details: {} });
  }
  return handler.load();
}

/**
 * Import a TensorFlow.js layers model as a `tfjs-layers` model that every pruner, unlearner,
 * adapter and evaluator runs on.
 *
 * @param source - a `tf.LayersModel`, a tfjs IO handler, or (Node) the path of a model.json
 * @param options - the run container to create the model on
 * @returns the model (the caller disposes it), its config and whether the source ends in a softmax
 * @throws UnlearnError `UNLEARN_CHECKPOINT_INCOMPATIBLE` listing unsupported layer classes, or when a
 *   weight is missing or mis-shaped; `UNLEARN_CHECKPOINT_MISSING` / `UNLEARN_CHECKPOINT_CORRUPT`
 *   for unreadable files
 * @remarks Weights keep their tfjs names; quantised weights (tfjs-converter's
 * `--quantize_*`) are dequantised to float32. The source model is not changed and stays the caller's.
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerInterop, registerFt] });
 * const { model } = await importLayersModel('my-cnn/model.json', { container });
 * ```
 */
export async function importLayersModel(source: LayersModelSource, options: ImportLayersModelOptions = {}): Promise<LayersModelImport> {
  const { topology: raw, weights } = await topologyAndWeights(source);
  try {
    const { class_name, config } = modelConfigOf(raw);
    const topology = { class_name, config };
    const model = options.container
      ? createModel(options.container, TFJS_LAYERS_ARCH, { topology })
      : new Model(tfjsLayersDefinition({ topology }), new Rng(0));
    try {
      const values = new Map(Object.entries(weights));
      const known = new Set([...model.params.keys(), ...model.buffers.keys()]);
      const unknown = [...values.keys()].filter((n) => !known.has(n));
      const missing = [...known].filter((n) => !values.has(n));
      if (unknown.length > 0 || missing.length > 0) {
        throw new UnlearnError(
          'UNLEARN_CHECKPOINT_INCOMPATIBLE',
          `The weights do not match the topology: ${[
            missing.length ? `missing ${missing.join(', ')}` : '',
            unknown.length ? `unknown ${unknown.join(', ')}` : '',
          ]
            .filter(Boolean)
            .join('; ')}.`,
          { details: { missing, unknown } },
        );
      }
      model.load(values, { strict: true });
      return { model, config: { topology }, finalSoftmax: compileLayersTopology(topology).finalSoftmax };
    } catch (err) {
      model.dispose();
      throw err;
    }
  } finally {
    tf.dispose(weights);
  }
}

/**
 * The model as TensorFlow.js layers artifacts: its topology and its weights (masks applied),
 * what `tf.loadLayersModel(tf.io.fromMemory(artifacts))` loads, or what a browser app can serve.
 *
 * @param model - a `tfjs-layers` model without an attached adapter
 * @returns the artifacts (plain data, nothing to dispose); `weightData` holds float32 weights in
 *   tfjs' weight order
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for another architecture, or when an adapter is
 *   still attached (merge it first: `runUnlearner` does)
 */
export function layersModelArtifacts(model: Model): tf.io.ModelArtifacts {
  if (model.arch !== TFJS_LAYERS_ARCH) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `Only tfjs-layers models export to a layers model.json; this is a ${model.arch} (export it with its own format, e.g. safetensors for torch-resnet18).`,
      { details: { arch: model.arch } },
    );
  }
  if (model.extraParams.size > 0) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `The model has adapter parameters (${[...model.extraParams.keys()].slice(0, 2).join(', ')}, ...): merge the adapter into the weights before exporting.`,
      { details: { extra: [...model.extraParams.keys()] } },
    );
  }
  const topology = (model.config as { topology: Record<string, unknown> }).topology;
  const plan = compileLayersTopology(topology);
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const parts: Float32Array[] = [];
  for (const name of plan.weightOrder) {
    const v = model.params.get(name) ?? model.buffers.get(name);
    if (!v) {
      throw new UnlearnError('UNLEARN_CHECKPOINT_INCOMPATIBLE', `The model has no weight "${name}" of its own topology.`, {
        details: { name },
      });
    }
    const mask = model.masks.get(name);
    // Masked weights are zero already (applyMasks after every update); multiplying again makes
    // the exported zeros independent of how the weights were changed since.
    const data = tf.tidy(() => (mask ? tf.mul(v, mask) : v).dataSync() as Float32Array);
    parts.push(Float32Array.from(data));
    weightSpecs.push({ name, shape: [...v.shape], dtype: 'float32' });
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Float32Array(total);
  let offset = 0;
  for (const p of parts) {
    all.set(p, offset);
    offset += p.length;
  }
  return {
    modelTopology: { ...topology, keras_version: `tfjs-layers ${tfl.version_layers}`, backend: 'tensor_flow.js' },
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
    convertedBy: '@unlearnjs/interop',
    weightSpecs,
    weightData: all.buffer,
  };
}

/**
 * Write the model as a TensorFlow.js layers model: `model.json` and `weights.bin` in `dir`,
 * which `tf.loadLayersModel` loads in Node (`file://dir/model.json` with tfjs-node, or
 * {@link readLayersModelArtifacts}) and in a browser (served over http).
 *
 * @param model - a `tfjs-layers` model without an attached adapter
 * @param dir - the folder to write (created when missing)
 * @returns the paths written
 * @throws UnlearnError as {@link layersModelArtifacts}
 * @remarks The exported model computes what `model.forward` computes, with the final softmax of
 * the original model where it had one; masked weights are exactly zero.
 * @example
 * ```ts
 * await exportLayersModel(model, 'unlearned'); // unlearned/model.json + unlearned/weights.bin
 * const reloaded = await tf.loadLayersModel('http://localhost:8080/unlearned/model.json'); // in a browser
 * ```
 */
export async function exportLayersModel(model: Model, dir: string): Promise<{ modelJson: string; weights: string }> {
  const artifacts = layersModelArtifacts(model);
  await fs.mkdir(dir, { recursive: true });
  const modelJson = path.join(dir, 'model.json');
  const weights = path.join(dir, 'weights.bin');
  const json: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as object,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
  };
  await writeFileAtomic(weights, new Uint8Array(artifacts.weightData as ArrayBuffer));
  await writeFileAtomic(modelJson, JSON.stringify(json));
  return { modelJson, weights };
}

/**
 * The model as a `tf.LayersModel` (through {@link layersModelArtifacts} and `tf.loadLayersModel`).
 *
 * @param model - a `tfjs-layers` model without an attached adapter
 * @returns a new layers model the caller disposes
 * @throws UnlearnError as {@link layersModelArtifacts}
 */
export async function toLayersModel(model: Model): Promise<tfl.LayersModel> {
  return tfl.loadLayersModel(tf.io.fromMemory(layersModelArtifacts(model)));
}
