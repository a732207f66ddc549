import {
  CIFAR10_MEAN,
  CIFAR10_STD,
  type DependencyContainer,
  type Model,
  Rng,
  type StoredArray,
  UnlearnError,
  createModel,
  loadModelFromCheckpoint,
  resnet18Factory,
  resnet18OptionsSchema,
  writeFileAtomic,
} from '@unlearnjs/core';
import { type SafetensorsArray, type SafetensorsWritable, encodeSafetensors, readSafetensors } from './safetensors.js';
import { type ShortcutName, type Slot, hwioToOihw, oihwToHwio, torchResNet18Slots, transpose2d } from './torch-resnet18-layout.js';
import { TORCH_RESNET18_ARCH, torchResNet18Factory } from './torch-resnet18-model.js';

/**
 * Where the masks of an imported model came from:
 * - `weight_mask`: `<conv>.weight_orig` + `<conv>.weight_mask` pairs, as `torch.nn.utils.prune`
 *   leaves a state_dict saved while pruned (the effective weight is their product);
 * - `mask`: `<conv>.weight_mask` tensors next to plain `<conv>.weight`, or from a separate mask file;
 * - `zeros`: no mask tensors, so the exact zeros of the conv weights (every conv gets a mask);
 * - `none`: no mask tensors and no zero in any conv weight: a dense model.
 */
export type MaskSource = 'weight_mask' | 'mask' | 'zeros' | 'none';

/** The architectures an imported reference ResNet-18 can be built as. */
export type TorchResNet18Arch = 'torch-resnet18' | 'resnet18';

/** Options of {@link readTorchResNet18} and {@link importTorchResNet18}. */
export interface ReadTorchResNet18Options {
  /**
   * Pruning masks in a separate safetensors file (or its bytes), keyed `<conv>.weight_mask` as
   * the reference's `extract_mask` writes them. The checkpoint itself must then hold no mask.
   */
  mask?: string | Uint8Array;
  /** Without mask tensors, take the exact zeros of the conv weights as the mask. @defaultValue true */
  maskFromZeros?: boolean;
  /** How errors name the source when it is given as bytes. @defaultValue the path, or `'safetensors bytes'` */
  name?: string;
}

/**
 * A reference ResNet-18 state_dict in our names and layouts, as plain arrays (nothing to dispose).
 *
 * @remarks `weights` and `masks` are a core checkpoint's `weights` and `masks` groups:
 * `writeCheckpoint(file, { kind, meta: { arch, config }, groups: { weights, masks } })` stores the
 * imported model without building it, and `loadModel` reads it back where `torch-resnet18` is
 * registered ({@link registerInterop}).
 */
export interface TorchResNet18State {
  /** Always `torch-resnet18` (core's `resnet18` names, PyTorch's padding). */
  readonly arch: typeof TORCH_RESNET18_ARCH;
  /** The model options that rebuild these shapes: `width` is the stem's channels (the reference's 64). */
  readonly config: { readonly width: number; readonly numClasses: number };
  /** Every parameter and BatchNorm buffer by our name; conv kernels HWIO, the classifier `[in, out]`; masks applied. */
  readonly weights: Map<string, StoredArray>;
  /** 0/1 masks by our conv kernel name (HWIO). */
  readonly masks: Map<string, StoredArray>;
  /** Where {@link TorchResNet18State.masks} came from. */
  readonly maskSource: MaskSource;
  /** The largest BatchNorm `num_batches_tracked` (0 when absent); our BatchNorm does not use it. */
  readonly numBatchesTracked: number;
  /** The file's safetensors `__metadata__`. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** Options of {@link importTorchResNet18}. */
export interface ImportTorchResNet18Options extends ReadTorchResNet18Options {
  /**
   * Build the model with `createModel` on this container (its `init` randomness is used to
   * allocate; the weights are then overwritten). `torch-resnet18` needs {@link registerInterop}
   * on it, `resnet18` core's `registerCoreModels`. Omitted: built directly from the factory.
   */
  container?: DependencyContainer;
  /**
   * `torch-resnet18` computes exactly what PyTorch computes; core's `resnet18` pads its three
   * stride-2 3×3 convs as tfjs `same` does, one pixel off PyTorch's grid, so its logits differ.
   * @defaultValue 'torch-resnet18'
   */
  arch?: TorchResNet18Arch;
}

/** What {@link importTorchResNet18} returns. */
export interface TorchResNet18Import {
  /** The model, weights, BatchNorm statistics and masks loaded; the caller disposes it. */
  readonly model: Model;
  /** Where its masks came from. */
  readonly maskSource: MaskSource;
  /** Its options (`width`, `numClasses`). */
  readonly config: { readonly width: number; readonly numClasses: number };
  /** Share of conv weights pruned (0 when there is no mask). */
  readonly sparsity: number;
  /** The largest BatchNorm `num_batches_tracked` of the file (pass it back to {@link exportTorchResNet18}). */
  readonly numBatchesTracked: number;
  /** The file's safetensors `__metadata__`. */
  readonly metadata: Readonly<Record<string, string>>;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);
/** Float32 equality of the normalisation constants, with room for a float64 source. */
const NORMALIZE_TOLERANCE = 1e-6;

interface Problems {
  missing: string[];
  unexpected: string[];
  misShaped: Array<{ name: string; shape: readonly number[]; expected: readonly number[]; dtype: string; float: boolean }>;
}

function listProblems(p: Problems): string {
  const parts: string[] = [];
  if (p.missing.length > 0) parts.push(`missing: ${p.missing.join(', ')}`);
  if (p.unexpected.length > 0) parts.push(`unexpected: ${p.unexpected.join(', ')}`);
  if (p.misShaped.length > 0) {
    parts.push(
      `mis-shaped: ${p.misShaped.map((m) => `${m.name} is ${m.dtype} [${m.shape}], expected ${m.float ? 'a float ' : ''}[${m.expected}]`).join(', ')}`,
    );
  }
  return parts.join('; ');
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function floatData(a: SafetensorsArray): Float32Array {
  return a.data instanceof Float32Array ? a.data : Float32Array.from(a.data);
}

/** The width and classes the file was made for, from `conv1.weight` and `fc.weight`. */
function inferConfig(tensors: ReadonlyMap<string, SafetensorsArray>, file: string): { width: number; numClasses: number } {
  const conv1 = tensors.get('conv1.weight') ?? tensors.get('conv1.weight_orig');
  const fc = tensors.get('fc.weight');
  const width = conv1?.shape.length === 4 ? conv1.shape[0] : fc?.shape.length === 2 ? fc.shape[1] / 8 : undefined;
  const numClasses = fc?.shape.length === 2 ? fc.shape[0] : undefined;
  if (width === undefined || numClasses === undefined) {
    const missing = [conv1 ? [] : ['conv1.weight'], fc ? [] : ['fc.weight']].flat();
    throw new UnlearnError(
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
      `${file} is not a state_dict of the reference CIFAR ResNet-18: ${missing.length > 0 ? `missing ${missing.join(', ')}` : 'conv1.weight or fc.weight has an unexpected rank'} (found ${[...tensors.keys()].slice(0, 8).join(', ')}${tensors.size > 8 ? ', ...' : ''}). Save model.state_dict() of models/ResNet.py's resnet18.`,
      { details: { file, missing, found: [...tensors.keys()] } },
    );
  }
  const parsed = resnet18OptionsSchema.safeParse({ width, numClasses });
  if (!parsed.success) {
    throw new UnlearnError(
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
      `${file} holds a ResNet-18 of width ${width} with ${numClasses} classes; unlearnjs builds widths 4 to 512 and 2 or more classes.`,
      { details: { file, width, numClasses } },
    );
  }
  return { width, numClasses };
}

/** `module.` prefixes, as `nn.DataParallel` leaves them, are dropped when every key has one. */
function withoutDataParallelPrefix(tensors: Map<string, SafetensorsArray>): Map<string, SafetensorsArray> {
  const keys = [...tensors.keys()];
  if (keys.length === 0 || !keys.every((k) => k.startsWith('module.'))) return tensors;
  return new Map([...tensors].map(([k, v]) => [k.slice('module.'.length), v]));
}

function shortcutNames(tensors: ReadonlyMap<string, SafetensorsArray>): Map<string, ShortcutName> {
  const out = new Map<string, ShortcutName>();
  for (const prefix of ['layer2.0', 'layer3.0', 'layer4.0']) {
    const uses = (n: string) => [...tensors.keys()].some((k) => k.startsWith(`${prefix}.${n}.`));
    if (!uses('downsample') && uses('shortcut')) out.set(prefix, 'shortcut');
  }
  return out;
}

function checkMaskValues(mask: Float32Array, name: string, file: string): void {
  for (let i = 0; i < mask.length; i++) {
    const v = mask[i];
    if (v !== 0 && v !== 1) {
      throw new UnlearnError(
        'UNLEARN_MASK_MISMATCH',
        `${file} holds ${v} at index ${i} of the mask "${name}"; masks must be exactly 0 or 1. Re-save the pruned model's state_dict.`,
        { details: { file, tensor: name, index: i, value: v } },
      );
    }
  }
}

function checkFinite(data: Float32Array, name: string, file: string): void {
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new UnlearnError(
      'UNLEARN_NON_FINITE_WEIGHTS',
      `${file} holds ${data[bad]} at index ${bad} of "${name}"; the model diverged or the file was damaged: export it again from a healthy checkpoint.`,
      { details: { file, tensor: name, index: bad, value: data[bad] } },
    );
  }
}

/** Half an ulp of each float dtype, relative: how far a stored normalisation constant may be from ours. */
const RELATIVE_ROUNDING: Record<string, number> = { F64: 2 ** -24, F32: 2 ** -24, F16: 2 ** -11, BF16: 2 ** -8 };

function checkNormalization(name: string, a: SafetensorsArray, file: string): void {
  const expected = name === 'normalize.mean' ? CIFAR10_MEAN : CIFAR10_STD;
  // The constants as stored: float32 of the decimal values, or rounded further by an F16/BF16 save.
  const tolerance = (e: number) => NORMALIZE_TOLERANCE + Math.abs(e) * (RELATIVE_ROUNDING[a.dtype] ?? 0);
  if (expected.some((e, i) => !(Math.abs(e - a.data[i]) <= tolerance(e)))) {
    throw new UnlearnError(
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
      `${file}: ${name} is [${[...a.data]}], but unlearnjs models normalise inside with CIFAR-10's ${name === 'normalize.mean' ? 'mean' : 'std'} [${expected}]; a model trained with another normalisation would compute other logits here.`,
      { details: { file, tensor: name, value: [...a.data], expected: [...expected] } },
    );
  }
}

/** Masks by conv slot from a separate mask file (`<conv>.weight_mask`). */
async function readMaskFile(source: string | Uint8Array, slots: readonly Slot[]): Promise<Map<string, Float32Array>> {
  const name = typeof source === 'string' ? source : 'mask bytes';
  const tensors = withoutDataParallelPrefix((await readSafetensors(source, { name })).tensors);
  const convs = new Map(slots.filter((s) => s.kind === 'conv').map((s) => [`${s.torch}_mask`, s]));
  const problems: Problems = { missing: [], unexpected: [], misShaped: [] };
  const out = new Map<string, Float32Array>();
  for (const [key, a] of tensors) {
    const slot = convs.get(key);
    if (!slot) problems.unexpected.push(key);
    else if (!sameShape(a.shape, slot.torchShape))
      problems.misShaped.push({ name: key, shape: a.shape, expected: slot.torchShape, dtype: a.dtype, float: false });
    else out.set(slot.torch, floatData(a));
  }
  if (problems.unexpected.length > 0 || problems.misShaped.length > 0) {
    throw new UnlearnError(
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
      `${name} does not hold masks of this ResNet-18's conv weights (<conv>.weight_mask): ${listProblems(problems)}.`,
      { details: { file: name, ...problems } },
    );
  }
  for (const [key, m] of out) checkMaskValues(m, `${key}_mask`, name);
  return out;
}

/**
 * Read a state_dict of the reference's CIFAR ResNet-18 (safetensors) into our names and layouts,
 * without building a model.
 *
 * @param source - a `.safetensors` path, or its bytes
 * @param options - a separate mask file, whether zeros make a mask, how errors name the source
 * @returns weights, masks and config as plain arrays (nothing to dispose)
 * @throws UnlearnError `UNLEARN_CHECKPOINT_INCOMPATIBLE` listing every missing, unexpected and
 *   mis-shaped key at once (also: a width outside 4–512, another input normalisation, masks in
 *   both the checkpoint and `options.mask`); `UNLEARN_MASK_MISMATCH` for a mask value other than
 *   0 or 1; `UNLEARN_NON_FINITE_WEIGHTS` for a NaN/±Inf weight; what {@link readSafetensors}
 *   throws for a malformed file. Each names the file (`details.file`).
 * @remarks
 * Names are those of OPTML-Group/Unlearn-Sparse `models/ResNet.py` (`resnet18`): `conv1.weight`,
 * `bn1.*`, `layer{1-4}.{0,1}.conv{1,2}.weight`, `bn{1,2}.*`, the projection shortcut as
 * `downsample.{0,1}.*` or `shortcut.{0,1}.*`, `fc.weight`, `fc.bias`, the BatchNorm buffers
 * `running_mean`, `running_var`, `num_batches_tracked`, and the optional `normalize.mean`/`std`
 * (checked against CIFAR-10's). A `module.` prefix on every key (DataParallel) is dropped.
 * Conv weights go from `[out, in, kh, kw]` to `[kh, kw, in, out]`, the classifier from
 * `[out, in]` to `[in, out]`. Float tensors may be F32, F16, BF16 or F64; masks any numeric dtype.
 */
export async function readTorchResNet18(source: string | Uint8Array, options: ReadTorchResNet18Options = {}): Promise<TorchResNet18State> {
  const file = options.name ?? (typeof source === 'string' ? source : 'safetensors bytes');
  const content = await readSafetensors(source, { name: file });
  const tensors = withoutDataParallelPrefix(content.tensors);
  const config = inferConfig(tensors, file);
  const slots = torchResNet18Slots(config.width, config.numClasses, shortcutNames(tensors));

  const problems: Problems = { missing: [], unexpected: [], misShaped: [] };
  const used = new Set<string>();
  const take = (name: string, expected: readonly number[], float: boolean): SafetensorsArray | undefined => {
    const a = tensors.get(name);
    if (!a) return undefined;
    used.add(name);
    if (!sameShape(a.shape, expected) || (float && !FLOAT_DTYPES.has(a.dtype))) {
      problems.misShaped.push({ name, shape: a.shape, expected, dtype: a.dtype, float });
      return undefined;
    }
    return a;
  };

  const weights = new Map<string, StoredArray>();
  const convWeights = new Map<Slot, Float32Array>();
  const masks = new Map<Slot, Float32Array>();
  let pairs = 0;
  let maskTensors = 0;
  let numBatchesTracked = 0;
  for (const slot of slots) {
    if (slot.kind === 'conv') {
      const hasOrig = tensors.has(`${slot.torch}_orig`);
      const weight = take(hasOrig ? `${slot.torch}_orig` : slot.torch, slot.torchShape, true);
      const mask = take(`${slot.torch}_mask`, slot.torchShape, false);
      if (!tensors.has(slot.torch) && !hasOrig) problems.missing.push(slot.torch);
      if (hasOrig && !tensors.has(`${slot.torch}_mask`)) problems.missing.push(`${slot.torch}_mask`);
      if (!weight) continue;
      let w = floatData(weight);
      if (mask) {
        const m = floatData(mask);
        checkMaskValues(m, `${slot.torch}_mask`, file);
        if (hasOrig) {
          w = w.map((v, i) => v * m[i]);
          pairs++;
        } else maskTensors++;
        masks.set(slot, m);
      }
      checkFinite(w, hasOrig ? `${slot.torch}_orig` : slot.torch, file);
      convWeights.set(slot, w);
      continue;
    }
    const a = take(slot.torch, slot.torchShape, slot.kind !== 'count');
    if (!a) {
      // Optional: PyTorch fills a missing num_batches_tracked itself; models without an input normalisation layer have no normalize.*.
      if (!tensors.has(slot.torch) && slot.kind !== 'count' && slot.kind !== 'normalize') problems.missing.push(slot.torch);
      continue;
    }
    if (slot.kind === 'count') {
      numBatchesTracked = Math.max(numBatchesTracked, Number(a.data[0]));
      continue;
    }
    const data = floatData(a);
    checkFinite(data, slot.torch, file);
    if (slot.kind === 'normalize') checkNormalization(slot.torch, a, file);
    else if (slot.kind === 'fc')
      weights.set(slot.ours, {
        shape: [slot.torchShape[1], slot.torchShape[0]],
        data: transpose2d(data, slot.torchShape[0], slot.torchShape[1]),
      });
    else weights.set(slot.ours, { shape: [...slot.torchShape], data });
  }
  problems.unexpected.push(...[...tensors.keys()].filter((k) => !used.has(k)));
  if (problems.missing.length + problems.unexpected.length + problems.misShaped.length > 0) {
    throw new UnlearnError(
      'UNLEARN_CHECKPOINT_INCOMPATIBLE',
      `${file} does not match the reference CIFAR ResNet-18 of width ${config.width} with ${config.numClasses} classes: ${listProblems(problems)}. Save model.state_dict() of models/ResNet.py's resnet18 (pruned or not).`,
      { details: { file, config, ...problems } },
    );
  }

  let maskSource: MaskSource = pairs > 0 ? 'weight_mask' : maskTensors > 0 ? 'mask' : 'none';
  if (options.mask !== undefined) {
    if (maskSource !== 'none') {
      throw new UnlearnError(
        'UNLEARN_CHECKPOINT_INCOMPATIBLE',
        `${file} already holds pruning masks (${maskSource}); pass either it or a separate mask file, not both.`,
        { details: { file, maskSource } },
      );
    }
    const fromFile = await readMaskFile(options.mask, slots);
    for (const [slot, w] of convWeights) {
      const m = fromFile.get(slot.torch);
      if (m) {
        masks.set(slot, m);
        convWeights.set(
          slot,
          w.map((v, i) => v * m[i]),
        );
      }
    }
    maskSource = 'mask';
  } else if (maskSource === 'none' && options.maskFromZeros !== false) {
    if ([...convWeights.values()].some((w) => w.includes(0))) {
      for (const [slot, w] of convWeights)
        masks.set(
          slot,
          w.map((v) => (v === 0 ? 0 : 1)),
        );
      maskSource = 'zeros';
    }
  }

  const ourMasks = new Map<string, StoredArray>();
  for (const [slot, w] of convWeights) {
    const shape = [slot.torchShape[2], slot.torchShape[3], slot.torchShape[1], slot.torchShape[0]];
    weights.set(slot.ours, { shape, data: oihwToHwio(w, slot.torchShape) });
    const m = masks.get(slot);
    if (m) ourMasks.set(slot.ours, { shape, data: oihwToHwio(m, slot.torchShape) });
  }
  return { arch: TORCH_RESNET18_ARCH, config, weights, masks: ourMasks, maskSource, numBatchesTracked, metadata: content.metadata };
}

/**
 * Read masks for a ResNet-18 from a safetensors mask file keyed as the reference's
 * `extract_mask` writes them (`<conv>.weight_mask`, `[out, in, kh, kw]`).
 *
 * @param source - a path, or the file's bytes
 * @param config - the model the masks are for (`model.config` of a `resnet18` or `torch-resnet18`)
 * @returns masks by our conv kernel name (HWIO), plain arrays: make tensors with core's
 *   `arraysToTensors`, set them with `model.setMasks`, then dispose them
 * @throws UnlearnError `UNLEARN_CHECKPOINT_INCOMPATIBLE` listing every key that is not the mask
 *   of a conv of that model or has the wrong shape; `UNLEARN_MASK_MISMATCH` for a value other than
 *   0 or 1; what {@link readSafetensors} throws for a malformed file
 */
export async function readTorchResNet18Masks(
  source: string | Uint8Array,
  config: { readonly width: number; readonly numClasses: number },
): Promise<Map<string, StoredArray>> {
  const slots = torchResNet18Slots(config.width, config.numClasses);
  const masks = await readMaskFile(source, slots);
  const out = new Map<string, StoredArray>();
  for (const slot of slots) {
    const m = masks.get(slot.torch);
    if (m)
      out.set(slot.ours, {
        shape: [slot.torchShape[2], slot.torchShape[3], slot.torchShape[1], slot.torchShape[0]],
        data: oihwToHwio(m, slot.torchShape),
      });
  }
  return out;
}

/**
 * Import a PyTorch state_dict of the reference's CIFAR ResNet-18 (safetensors) as a model:
 * weights, BatchNorm statistics and pruning masks.
 *
 * @param source - a `.safetensors` path, or its bytes
 * @param options - the architecture to build, a container to build it on, a separate mask file
 * @returns the model (the caller disposes it), where its masks came from, its config and sparsity
 * @throws UnlearnError what {@link readTorchResNet18} throws; nothing is left allocated when it throws
 * @remarks The width is read from the file (`conv1.weight` is `[width, 3, 3, 3]`). See
 * {@link readTorchResNet18} for the names and layouts, {@link torchResNet18Definition} for why
 * the default architecture is `torch-resnet18`. To convert a reference `.pth.tar`:
 * `save_file({k: v.contiguous() for k, v in torch.load(f)['state_dict'].items()}, 'model.safetensors')`.
 * @example
 * ```ts
 * const { model, maskSource, sparsity } = await importTorchResNet18('resnet18-pruned.safetensors');
 * try {
 *   const logits = tf.tidy(() => model.forward(images));
 * } finally {
 *   model.dispose();
 * }
 * ```
 */
export async function importTorchResNet18(
  source: string | Uint8Array,
  options: ImportTorchResNet18Options = {},
): Promise<TorchResNet18Import> {
  const file = options.name ?? (typeof source === 'string' ? source : 'safetensors bytes');
  const state = await readTorchResNet18(source, { ...options, name: file });
  const arch = options.arch ?? TORCH_RESNET18_ARCH;
  const factory = arch === 'resnet18' ? resnet18Factory : torchResNet18Factory;
  const model = options.container
    ? createModel(options.container, arch, { ...state.config })
    : factory.build({ ...state.config }, new Rng(0));
  try {
    loadModelFromCheckpoint(
      model,
      { kind: 'torch-import', meta: { arch: model.arch, config: model.config }, groups: { weights: state.weights, masks: state.masks } },
      file,
    );
  } catch (err) {
    model.dispose();
    throw err;
  }
  let pruned = 0;
  let total = 0;
  for (const name of model.prunable) {
    const m = state.masks.get(name);
    if (!m) continue;
    total += m.data.length;
    for (const v of m.data) if (v === 0) pruned++;
  }
  return {
    model,
    maskSource: state.maskSource,
    config: state.config,
    sparsity: total === 0 ? 0 : pruned / total,
    numBatchesTracked: state.numBatchesTracked,
    metadata: state.metadata,
  };
}

/** Options of {@link exportTorchResNet18} and {@link torchResNet18StateDict}. */
export interface ExportTorchResNet18Options {
  /**
   * How masks are written: `applied`: plain `<conv>.weight` with the mask applied (zeros where
   * pruned), which `load_state_dict` of the plain reference model accepts; `weight_orig`:
   * `<conv>.weight_orig` + `<conv>.weight_mask` for every conv (a mask of ones where the model
   * has none), which a model pruned with `torch.nn.utils.prune` (e.g. `prune.identity`) accepts.
   * @defaultValue 'applied'
   */
  masks?: 'applied' | 'weight_orig';
  /** The `num_batches_tracked` written for every BatchNorm (as I64). @defaultValue 0 */
  numBatchesTracked?: number;
  /** Write `normalize.mean` and `normalize.std` (CIFAR-10's), as the reference model has them. @defaultValue true */
  normalize?: boolean;
  /** Extra `__metadata__` entries (`format: 'pt'` is always written). */
  metadata?: Readonly<Record<string, string>>;
}

/**
 * A ResNet-18 model's state_dict in the reference's PyTorch names and layouts, as plain arrays.
 *
 * @param model - a `torch-resnet18` or `resnet18` model (no adapter attached)
 * @param options - how masks are written, `num_batches_tracked`, the normalisation buffers
 * @returns name → values (float32 arrays for F32, int32 arrays for I64), in state_dict order
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for another architecture, a model with an
 *   adapter attached (merge it first), or a `numBatchesTracked` that is not a non-negative integer
 * @remarks A `resnet18` model exports the same names, but PyTorch pads its stride-2 convs
 * differently from core's `resnet18` (see {@link torchResNet18Definition}): only a
 * `torch-resnet18` model gives PyTorch the same logits.
 */
export function torchResNet18StateDict(model: Model, options: ExportTorchResNet18Options = {}): Map<string, SafetensorsWritable> {
  if (model.arch !== TORCH_RESNET18_ARCH && model.arch !== 'resnet18') {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `exportTorchResNet18 exports ResNet-18 models (torch-resnet18, resnet18), not ${model.arch}.`,
      {
        details: { arch: model.arch },
      },
    );
  }
  if (model.extraParams.size > 0) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `The model carries adapter parameters (${[...model.extraParams.keys()][0]}, ...); merge the adapter into the weights before exporting.`,
      { details: { extra: [...model.extraParams.keys()] } },
    );
  }
  const count = options.numBatchesTracked ?? 0;
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `numBatchesTracked must be a non-negative integer, got ${count}.`, {
      details: { numBatchesTracked: count },
    });
  }
  const { width, numClasses } = model.config as { width: number; numClasses: number };
  const values = (name: string): Float32Array => {
    const v = model.params.get(name) ?? model.buffers.get(name);
    if (!v) throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `The model has no "${name}"; is it a ResNet-18?`, { details: { name } });
    return Float32Array.from(v.dataSync() as Float32Array);
  };
  const out = new Map<string, SafetensorsWritable>();
  for (const slot of torchResNet18Slots(width, numClasses)) {
    const shape = [...slot.torchShape];
    switch (slot.kind) {
      case 'normalize':
        if (options.normalize !== false)
          out.set(slot.torch, { shape, data: Float32Array.from(slot.torch === 'normalize.mean' ? CIFAR10_MEAN : CIFAR10_STD) });
        break;
      case 'count':
        out.set(slot.torch, { shape, data: Int32Array.of(count) });
        break;
      case 'fc':
        out.set(slot.torch, { shape, data: transpose2d(values(slot.ours), shape[1], shape[0]) });
        break;
      case 'vector':
        out.set(slot.torch, { shape, data: values(slot.ours) });
        break;
      case 'conv': {
        const hwio = [shape[2], shape[3], shape[1], shape[0]];
        const maskTensor = model.masks.get(slot.ours);
        const mask = maskTensor ? hwioToOihw(Float32Array.from(maskTensor.dataSync() as Float32Array), hwio) : undefined;
        let weight = hwioToOihw(values(slot.ours), hwio);
        // Masked weights are already zero after every update; applying the mask again makes
        // that a property of the file rather than of the model's history.
        if (mask) weight = weight.map((v, i) => v * mask[i]);
        if (options.masks === 'weight_orig') {
          out.set(`${slot.torch}_orig`, { shape, data: weight });
          out.set(`${slot.torch}_mask`, { shape, data: mask ?? new Float32Array(weight.length).fill(1) });
        } else out.set(slot.torch, { shape, data: weight });
        break;
      }
    }
  }
  return out;
}

/**
 * Export a ResNet-18 model as a safetensors state_dict that `load_state_dict` of the reference's
 * PyTorch CIFAR ResNet-18 (models/ResNet.py, at the model's width) accepts.
 *
 * @param model - a `torch-resnet18` (from {@link importTorchResNet18}) or `resnet18` model; read, not changed
 * @param file - destination path (written atomically; folders are created)
 * @param options - how masks are written (default: applied to `weight`), `num_batches_tracked`,
 *   the normalisation buffers, extra metadata
 * @throws UnlearnError what {@link torchResNet18StateDict} throws
 * @remarks Conv weights go back to `[out, in, kh, kw]`, the classifier to `[out, in]`, all F32;
 * `num_batches_tracked` is I64. Importing the file again gives bit-identical weights and masks.
 * @example
 * ```ts
 * await exportTorchResNet18(model, 'unlearned.safetensors', { numBatchesTracked: imported.numBatchesTracked });
 * // Python: model.load_state_dict(safetensors.torch.load_file('unlearned.safetensors'))
 * ```
 */
export async function exportTorchResNet18(model: Model, file: string, options: ExportTorchResNet18Options = {}): Promise<void> {
  const tensors = torchResNet18StateDict(model, options);
  await writeFileAtomic(file, encodeSafetensors(tensors, { ...options.metadata, format: 'pt' }));
}
