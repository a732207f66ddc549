/**
 * The `unlearn` command-line tool and the train → prune → unlearn → evaluate → report pipeline
 * that the examples run.
 * @packageDocumentation
 */
export { createProgram, main, type CliIo } from './cli.js';
export { runPipeline, runPipelineShard, type PipelineResult, type RunPipelineOptions } from './pipeline/run-pipeline.js';
export type { PipelineConfig, MethodSpec } from './pipeline/pipeline-config.js';
export { presetConfig, type PresetName } from './pipeline/presets.js';
export { FIRST_PARTY_PLUGINS, loadPluginPackages } from './plugins.js';
export {
  REFERENCE_METHODS,
  REFERENCE_DEFAULTS,
  REFERENCE_FLAGS,
  type ReferenceFlag,
  normaliseFlags,
  resolveMethod,
} from './reference-args.js';
