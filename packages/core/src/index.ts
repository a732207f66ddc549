/**
 * Core of unlearnjs: the plugin registry (on tsyringe), the shared plugin interfaces, errors,
 * seeded randomness, backends, CIFAR-10 data, models, masked training and checkpoints.
 *
 * @remarks Importing this module registers nothing and picks no backend: apps call
 * {@link initBackend} and {@link createContainer}.
 * @packageDocumentation
 */
export { UnlearnError, isUnlearnError, type UnlearnErrorCode } from './errors/unlearn-error.js';
export { Rng, type RngState } from './random/rng.js';
export { type Token, defineToken } from './registry/token.js';
export { RUN_SEED, RNG, LOGGER, PROGRESS, ABORT_SIGNAL, BACKEND_INFO } from './registry/tokens.js';
export {
  API_VERSION,
  PLUGIN_KINDS,
  definePlugin,
  type Plugin,
  type PluginKind,
  type PluginInstanceByKind,
  type TypedPlugin,
  type InstanceOptions,
  type PluginOptions,
  type OptionsByNameOf,
} from './registry/plugin.js';
export type {
  UnlearnerOptionsByName,
  PrunerOptionsByName,
  AdapterOptionsByName,
  EvaluatorOptionsByName,
  ModelOptionsByName,
  OptionsFor,
} from './registry/options-by-name.js';
export { parseOptions } from './registry/parse-options.js';
export {
  type DependencyContainer,
  type RegisterFunction,
  type CreateContainerOptions,
  type KnownOptions,
  createContainer,
  registerPlugin,
  listPlugins,
  createPlugin,
  createUnlearner,
  createPruner,
  createAdapter,
  createEvaluator,
  createModelFactory,
  runServices,
  resolve,
} from './registry/container.js';
export type { RunServices } from './plugins/services.js';
export type * from './plugins/kinds.js';
export {
  createModel,
  runUnlearner,
  runPruner,
  runEvaluator,
  attachAdapter,
  type RunUnlearnerArgs,
} from './plugins/run.js';
export { type Logger, type ConsoleLoggerOptions, createConsoleLogger, createMemoryLogger } from './progress/logger.js';
export {
  type ProgressReporter,
  type ProgressTask,
  type ProgressMetrics,
  type BarProgressOptions,
  silentProgress,
  createBarProgress,
  defaultProgress,
} from './progress/progress.js';
export { Model } from './models/model.js';
export type {
  ModelDefinition,
  ParamSpec,
  ForwardContext,
  ForwardOptions,
  NamedTensors,
  WeightTransform,
  LinearOp,
  LinearOpOptions,
  LinearOverride,
} from './models/model-definition.js';
export * from './data/index.js';
export * from './models/index.js';
export {
  initBackend,
  BACKEND_ORDER,
  type BackendRequest,
  type BackendName,
  type BackendAttempt,
  type BackendInfo,
  type InitBackendOptions,
} from './backend/init-backend.js';
export type { BackendExtension, MemoryLimit, FailedStep } from './backend/backend-extension.js';
export {
  CHECKPOINT_FORMAT_VERSION,
  writeCheckpoint,
  readCheckpoint,
  fileExists,
  writeFileAtomic,
  type CheckpointData,
  type StoredArray,
} from './checkpoint/checkpoint-file.js';
export { removeStaleTempFiles } from './checkpoint/remove-stale-temp-files.js';
export {
  saveModel,
  loadModel,
  loadModelFromCheckpoint,
  modelToCheckpoint,
  tensorsToArrays,
  arraysToTensors,
} from './checkpoint/model-checkpoint.js';
export { throwIfAborted } from './training/abort.js';
export { ensureGradients } from './training/gradients.js';
export { predictProbabilities, evaluateAccuracy, type PredictOptions, type Predictions } from './training/predict.js';
export { learningRateAt, scheduleSchema, REFERENCE_RECIPE, type Schedule } from './training/schedule.js';
export { FUSED_SGD_KERNEL } from './backend/fused-kernels.js';
export { SgdOptimizer, type SgdOptions } from './training/sgd.js';
export {
  train,
  crossEntropy,
  trainOptionsSchema,
  SGD_FIELDS,
  type TrainOptions,
  type TrainPass,
  type TrainConfig,
  type TrainReport,
  type LossArgs,
  type LossFunction,
} from './training/train.js';
export * from './training/gradient-tools.js';
export * from './training/per-sample-gradients.js';
export {
  classifierOutputs,
  concatSubsets,
  randomLabelPasses,
  requireLabelClassCount,
  requireLabelsBelow,
  uniformRandomLabels,
} from './training/random-labels.js';
export { sgdUnlearnOptionFields, type SgdUnlearnDefaults, type SgdUnlearnOptions } from './training/sgd-unlearn-options.js';
export {
  requireUnlearnData,
  trainUnlearner,
  type TrainUnlearnerOptions,
  type UnlearnSetName,
} from './training/train-unlearner.js';
export { planTrainingMemory, type MemoryPlan } from './training/memory-plan.js';
