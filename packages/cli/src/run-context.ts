import * as path from 'node:path';
import {
  type BackendInfo,
  type BackendRequest,
  type DataSplits,
  type DependencyContainer,
  type Logger,
  type Model,
  type ProgressReporter,
  UnlearnError,
  createBarProgress,
  createConsoleLogger,
  createContainer,
  createModel,
  fileExists,
  initBackend,
  isUnlearnError,
  loadCifar10,
  loadModel,
  makeSplits,
  readCheckpoint,
  removeStaleTempFiles,
  reporterProgress,
  silentProgress,
} from '@unlearnjs/core';
import { wasmTrainingBackend } from '@unlearnjs/backend-wasm';
import { importTorchResNet18 } from '@unlearnjs/interop';
import { FIRST_PARTY_PLUGINS, loadPluginPackages } from './plugins.js';

/** What every command that runs models sets up: the backend, the plugins and the run container. */
export interface RunContextOptions {
  backend: BackendRequest;
  wasmThreads?: number;
  seed: number;
  /** Third-party plugin packages (`--plugin`). */
  plugins?: readonly string[];
  quiet?: boolean;
  /** Where log lines go. */
  stream?: { write(s: string): unknown };
  logger?: Logger;
  progress?: ProgressReporter;
  signal?: AbortSignal;
}

/** The run's container, logger and backend. */
export interface RunContext {
  container: DependencyContainer;
  logger: Logger;
  backend: BackendInfo;
}

/**
 * The one builder of a run's services, for every command and the pipeline: picks the backend
 * (always reported, even with `--quiet`), loads third-party plugins and makes the container.
 *
 * @param options - backend, seed, plugins, output
 * @returns the container, logger and backend
 */
export async function createRunContext(options: RunContextOptions): Promise<RunContext> {
  const logger = options.logger ?? createConsoleLogger({ quiet: options.quiet, stream: options.stream });
  const backend = await initBackend(options.backend, {
    logger: options.logger ?? createConsoleLogger({ stream: options.stream }),
    extensions: [wasmTrainingBackend],
    threads: options.wasmThreads,
  });
  const extra = await loadPluginPackages(options.plugins ?? []);
  const container = createContainer({
    seed: options.seed,
    use: [...FIRST_PARTY_PLUGINS, ...extra],
    logger,
    progress: options.progress ?? (options.quiet ? silentProgress : createBarProgress()),
    signal: options.signal,
    backend,
  });
  return { container, logger, backend };
}

/** Which data a run reads and which images it forgets. */
export interface SplitOptions {
  /** CIFAR-10 folder (or its parent). */
  dir?: string;
  download?: boolean;
  quiet?: boolean;
  trainLimit?: number;
  testLimit?: number;
  validationSize?: number;
  seed: number;
  /** Class-wise forgetting of this class, or -1 for random forgetting. */
  classToForget: number;
  /** How many to forget (of the class, or at random). */
  numToForget?: number;
  /** How messages name the folder and download options (the CLI passes its flags). */
  optionNames?: { dir?: string; download?: string };
  /**
   * How messages name the forget-set options (the CLI passes its flags, e.g.
   * `{ numToForget: '--num-indexes-to-replace' }`).
   */
  splitNames?: Readonly<Record<string, string>>;
  /** The run's progress reporter; without it the data layer reports on stderr itself. */
  progress?: ProgressReporter;
}

/**
 * Load CIFAR-10 and split it as the reference does.
 * @param o - data and forget-set options
 * @returns the splits
 */
export async function loadSplits(o: SplitOptions): Promise<DataSplits> {
  const common = { dir: o.dir, download: o.download, quiet: o.quiet, optionNames: o.optionNames };
  // Through the run's reporter when there is one: the same bars, log lines and --quiet as training.
  const onProgress = (split: string) => (o.progress ? { onProgress: reporterProgress(o.progress, `cifar10 ${split}`) } : {});
  const train = await loadCifar10({ ...common, split: 'train', limit: o.trainLimit, ...onProgress('train') });
  const test = await loadCifar10({ ...common, split: 'test', limit: o.testLimit, ...onProgress('test') });
  try {
    return makeSplits(train, test, {
      seed: o.seed,
      validationSize: o.validationSize,
      classToForget: o.classToForget,
      numToForget: o.numToForget,
    });
  } catch (err) {
    const field = isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS') ? String(err.details.field) : undefined;
    const flag = field === undefined ? undefined : o.splitNames?.[field];
    if (!flag || !isUnlearnError(err)) throw err;
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `${flag}: ${err.message.slice(field?.length).trim()}`, {
      details: { ...err.details, flag },
      cause: err,
    });
  }
}

/**
 * Find a checkpoint given as the reference names them (`out/1model_SA_best`, with or without
 * `.ckpt`).
 * @param p - the path given
 * @returns the file
 * @throws UnlearnError `UNLEARN_CHECKPOINT_MISSING`
 */
export async function resolveCheckpoint(p: string): Promise<string> {
  for (const c of [p, `${p}.ckpt`]) if (await fileExists(c)) return c;
  throw new UnlearnError(
    'UNLEARN_CHECKPOINT_MISSING',
    `No checkpoint at ${p} (nor ${p}.ckpt); run \`unlearn prune\` first or check the path.`,
    {
      details: { file: p },
    },
  );
}

/**
 * Build the checkpoint's model and load it: an unlearnjs checkpoint, or a `.safetensors`
 * state_dict of the reference's ResNet-18 (imported as `torch-resnet18`).
 * @param container - the run's container
 * @param file - the checkpoint
 * @returns the model (the caller disposes it) and the checkpoint's metadata
 */
export async function modelFromCheckpoint(
  container: DependencyContainer,
  file: string,
): Promise<{ model: Model; meta: Record<string, unknown> }> {
  if (file.endsWith('.safetensors')) {
    // A PyTorch state_dict of the reference's ResNet-18 (pruned or not): imported as it stands.
    const imported = await importTorchResNet18(file, { container });
    return { model: imported.model, meta: { arch: imported.model.arch, config: imported.config, maskSource: imported.maskSource } };
  }
  const ck = await readCheckpoint(file);
  const model = createModel(container, String(ck.meta.arch), (ck.meta.config ?? {}) as Record<string, unknown>);
  try {
    await loadModel(file, model);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, meta: ck.meta };
}

/**
 * Remove what killed runs left in an output folder (`*.<pid>.tmp` files of dead processes).
 * @param dir - the output folder
 * @param logger - says what was removed
 */
export async function cleanStaleTempFiles(dir: string, logger: Logger): Promise<void> {
  const removed = await removeStaleTempFiles(path.resolve(dir), { recursive: true });
  if (removed.length) logger.info(`removed ${removed.length} temporary file(s) a killed run left in ${dir}`);
}
