import type { DependencyContainer } from 'tsyringe';
import type { Adapter, Evaluator, ModelFactory, Pruner, Unlearner } from '../plugins/kinds.js';

/** The API version plugins are written against. Bumped only on breaking interface changes. */
export const API_VERSION = 1;

/** What a plugin provides. */
export type PluginKind = 'model' | 'pruner' | 'unlearner' | 'adapter' | 'evaluator';

/** The list of plugin kinds. */
export const PLUGIN_KINDS: readonly PluginKind[] = ['model', 'pruner', 'unlearner', 'adapter', 'evaluator'];

/** What `create` returns for each kind. */
export interface PluginInstanceByKind {
  model: ModelFactory<any>;
  pruner: Pruner<any>;
  unlearner: Unlearner<any>;
  adapter: Adapter<any>;
  evaluator: Evaluator<any>;
}

/**
 * A plugin: a typed value describing one capability. Importing a package registers nothing;
 * its `registerX(container)` function calls {@link registerPlugin} with descriptors like this.
 *
 * @example
 * ```ts
 * export const gaPlugin: Plugin<'unlearner'> = {
 *   kind: 'unlearner', name: 'ga', apiVersion: API_VERSION,
 *   create: () => new GradientAscentUnlearner(),
 * };
 * ```
 */
export interface Plugin<K extends PluginKind = PluginKind> {
  /** Which interface the plugin implements. */
  readonly kind: K;
  /** Stable kebab-case id, unique per kind (`ft`, `ga`, `omp`, `svc-mia`). */
  readonly name: string;
  /** The {@link API_VERSION} the plugin was written for. */
  readonly apiVersion: number;
  /** One line for `--help` and listings. */
  readonly description?: string;
  /**
   * Build the instance. Called once per {@link createPlugin}.
   * @param container - the run's container (resolve services from it if needed)
   */
  create(container: DependencyContainer): PluginInstanceByKind[K];
}
