import type { DependencyContainer } from 'tsyringe';
import type { Adapter, Evaluator, ModelFactory, OptionsSchema, Pruner, Unlearner } from '../plugins/kinds.js';

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
 * Write descriptors with {@link definePlugin}, which types them by their id and options.
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

/**
 * A descriptor typed by its id `N` and the instance `I` it creates (whose `name` is `N`): what
 * {@link definePlugin} returns. Its options type is {@link PluginOptions}, and
 * {@link OptionsByNameOf} turns it into the entry of its kind's by-name options map.
 */
export interface TypedPlugin<K extends PluginKind, N extends string, I extends PluginInstanceByKind[K]> extends Plugin<K> {
  readonly name: N;
  create(container: DependencyContainer): I & { readonly name: N };
}

/** The options type of a plugin instance: what its `optionsSchema` outputs. */
export type InstanceOptions<I> = I extends { readonly optionsSchema: OptionsSchema<infer O> } ? O : never;

/** The options type of a descriptor made by {@link definePlugin}. */
export type PluginOptions<P> = P extends TypedPlugin<PluginKind, string, infer I> ? InstanceOptions<I> : never;

/**
 * The entries descriptors add to their kind's by-name options map, keyed by their ids. Extend the
 * map with it in a module augmentation beside the descriptors, so that the id is written once
 * (in the descriptor) and the compiler derives the rest.
 *
 * @example
 * ```ts
 * declare module '@unlearnjs/core' {
 *   interface UnlearnerOptionsByName extends OptionsByNameOf<typeof gaPlugin> {}
 * }
 * ```
 */
export type OptionsByNameOf<P extends TypedPlugin<PluginKind, string, any>> = {
  [Q in P as Q['name']]: PluginOptions<Q>;
};

/**
 * Write a plugin descriptor, typed by its id and options: the compiler checks that the instance
 * `create` returns implements the kind's interface and carries the same `name`, and infers the
 * options type from the instance's `optionsSchema`.
 *
 * @param plugin - the descriptor (`kind`, `name`, `apiVersion`, `description`, `create`)
 * @returns the same value, typed as a {@link TypedPlugin}
 *
 * @example
 * ```ts
 * export const gaPlugin = definePlugin({
 *   kind: 'unlearner',
 *   name: 'ga',
 *   apiVersion: API_VERSION,
 *   create: () => new GaUnlearner(), // its `name` must be 'ga'
 * });
 * declare module '@unlearnjs/core' {
 *   interface UnlearnerOptionsByName extends OptionsByNameOf<typeof gaPlugin> {}
 * }
 * ```
 */
export function definePlugin<
  K extends PluginKind,
  const N extends string,
  I extends PluginInstanceByKind[K] & { readonly name: NoInfer<N> },
>(plugin: {
  readonly kind: K;
  readonly name: N;
  readonly apiVersion: number;
  readonly description?: string;
  create(container: DependencyContainer): I;
}): TypedPlugin<K, N, I> {
  return plugin;
}
