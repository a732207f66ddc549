import 'reflect-metadata';
import { type DependencyContainer, container as globalContainer, instanceCachingFactory } from 'tsyringe';
import { UnlearnError } from '../errors/unlearn-error.js';
import { type Logger, createConsoleLogger } from '../progress/logger.js';
import { type ProgressReporter, defaultProgress } from '../progress/progress.js';
import { Rng } from '../random/rng.js';
import type { BackendInfo } from '../backend/init-backend.js';
import type { RunServices } from '../plugins/services.js';
import type { Adapter, Evaluator, ModelFactory, Pruner, Unlearner } from '../plugins/kinds.js';
import type {
  AdapterOptionsByName,
  EvaluatorOptionsByName,
  ModelOptionsByName,
  PrunerOptionsByName,
  UnlearnerOptionsByName,
} from './options-by-name.js';
import { API_VERSION, PLUGIN_KINDS, type Plugin, type PluginInstanceByKind, type PluginKind } from './plugin.js';
import { type Token, defineToken } from './token.js';
import { ABORT_SIGNAL, BACKEND_INFO, LOGGER, PROGRESS, RNG, RUN_SEED } from './tokens.js';

export type { DependencyContainer } from 'tsyringe';

/** A function that registers a package's plugins, e.g. `registerGa`. */
export type RegisterFunction = (container: DependencyContainer) => void;

/** Options of {@link createContainer}. */
export interface CreateContainerOptions {
  /** The run's seed: every random choice derives from it. @defaultValue 0 */
  seed?: number;
  /** Register functions to apply, e.g. `[registerCoreModels, registerFt, registerGa]`. */
  use?: readonly RegisterFunction[];
  /** @defaultValue a console logger on stderr */
  logger?: Logger;
  /** @defaultValue bars on an interactive terminal, silent elsewhere ({@link defaultProgress}) */
  progress?: ProgressReporter;
  /** @defaultValue a signal that never aborts */
  signal?: AbortSignal;
  /** What {@link initBackend} chose, for plugins that adapt to it (resolve {@link BACKEND_INFO}). */
  backend?: BackendInfo;
}

/**
 * The one registry of plugins: tsyringe multi-registrations of the descriptors under this token
 * (`resolveAll` lists them). See docs/decisions/0008-plugins-in-tsyringe-multi-registrations.md.
 */
const PLUGINS = defineToken<Plugin>('PLUGINS');
/** Marks a container made by {@link createContainer} (the only kind plugins may be registered on). */
const RUN_CONTAINER = defineToken<true>('RUN_CONTAINER');

/**
 * Resolve a typed token from a container.
 * @param container - the run's container
 * @param token - the token
 * @returns the registered value
 */
export function resolve<T>(container: DependencyContainer, token: Token<T>): T {
  return container.resolve<T>(token);
}

/**
 * Create the container of one run: a child of tsyringe's global container holding the seed,
 * logger, progress reporter, abort signal, a plugin registry of its own, and whatever the
 * `use` functions register.
 *
 * @param options - seed, register functions and services
 * @returns the container (one per run; tests make their own and never touch the global one)
 *
 * @example
 * ```ts
 * const container = createContainer({ seed: 1, use: [registerCoreModels, registerFt] });
 * const ft = createPlugin(container, 'unlearner', 'ft');
 * ```
 */
export function createContainer(options: CreateContainerOptions = {}): DependencyContainer {
  const c = globalContainer.createChildContainer();
  const seed = options.seed ?? 0;
  c.register(RUN_SEED, { useValue: seed });
  // The root generator derives from the seed token, once per container.
  c.register(RNG, { useFactory: instanceCachingFactory((d) => new Rng(d.resolve(RUN_SEED))) });
  c.register(LOGGER, { useValue: options.logger ?? createConsoleLogger() });
  c.register(PROGRESS, { useValue: options.progress ?? defaultProgress() });
  c.register(ABORT_SIGNAL, { useValue: options.signal ?? new AbortController().signal });
  c.register(RUN_CONTAINER, { useValue: true });
  if (options.backend) c.register(BACKEND_INFO, { useValue: options.backend });
  for (const use of options.use ?? []) use(c);
  return c;
}

/**
 * The registered descriptors of a run container.
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` for a container not made by createContainer
 */
function registered(container: DependencyContainer): Plugin[] {
  if (!container.isRegistered(RUN_CONTAINER, false)) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      container === globalContainer
        ? 'Plugins are registered on a run container, not on the global one: call createContainer() first.'
        : 'This container was not made by createContainer(): plugins live on a run container, which holds the seed, logger, progress and signal they use. Call createContainer({ use: [...] }).',
    );
  }
  return container.isRegistered(PLUGINS, false) ? container.resolveAll(PLUGINS) : [];
}

const key = (kind: PluginKind, name: string) => `${kind}:${name}`;
const NAME_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/**
 * Register a plugin on a run container.
 *
 * @param container - from {@link createContainer}
 * @param plugin - the descriptor
 * @throws UnlearnError `UNLEARN_INCOMPATIBLE_API` when `apiVersion` differs from {@link API_VERSION};
 *   `UNLEARN_DUPLICATE_PLUGIN` when another plugin of the same kind has the name (re-registering the
 *   same object is a no-op); `UNLEARN_INVALID_OPTIONS` for a name that is not kebab-case
 */
export function registerPlugin<K extends PluginKind>(container: DependencyContainer, plugin: Plugin<K>): void {
  const plugins = registered(container);
  if (!PLUGIN_KINDS.includes(plugin.kind)) {
    throw new UnlearnError('UNLEARN_INVALID_OPTIONS', `Unknown plugin kind "${String(plugin.kind)}".`, {
      details: { kind: plugin.kind },
    });
  }
  if (typeof plugin.name !== 'string' || !NAME_PATTERN.test(plugin.name)) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `Plugin name "${String(plugin.name)}" is not a kebab-case id (lowercase letters, digits and dashes).`,
      { details: { name: plugin.name } },
    );
  }
  if (plugin.apiVersion !== API_VERSION) {
    throw new UnlearnError(
      'UNLEARN_INCOMPATIBLE_API',
      `Plugin ${plugin.kind} "${plugin.name}" targets API version ${plugin.apiVersion}, but this @unlearnjs/core implements ${API_VERSION}; install versions that match.`,
      { details: { kind: plugin.kind, name: plugin.name, apiVersion: plugin.apiVersion, expected: API_VERSION } },
    );
  }
  const existing = plugins.find((p) => key(p.kind, p.name) === key(plugin.kind, plugin.name));
  if (existing === plugin) return;
  if (existing) {
    throw new UnlearnError(
      'UNLEARN_DUPLICATE_PLUGIN',
      `A different ${plugin.kind} named "${plugin.name}" is already registered; choose another name.`,
      { details: { kind: plugin.kind, name: plugin.name } },
    );
  }
  container.register(PLUGINS, { useValue: plugin as Plugin });
}

/**
 * List registered plugins.
 * @param container - the run's container
 * @param kind - only this kind
 * @returns descriptors, sorted by kind then name
 */
export function listPlugins(container: DependencyContainer, kind?: PluginKind): Plugin[] {
  return registered(container)
    .filter((p) => kind === undefined || p.kind === kind)
    .sort((a, b) => (a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind.localeCompare(b.kind)));
}

/**
 * Create an instance of a registered plugin.
 * @param container - the run's container
 * @param kind - plugin kind
 * @param name - plugin id
 * @returns a new instance
 * @throws UnlearnError `UNLEARN_UNKNOWN_PLUGIN`, listing what is registered for that kind
 */
export function createPlugin<K extends PluginKind>(container: DependencyContainer, kind: K, name: string): PluginInstanceByKind[K] {
  const plugin = registered(container).find((p) => p.kind === kind && p.name === name);
  if (!plugin) {
    const known = listPlugins(container, kind).map((p) => p.name);
    throw new UnlearnError(
      'UNLEARN_UNKNOWN_PLUGIN',
      `No ${kind} named "${name}" is registered. Registered ${kind}s: ${known.length ? known.join(', ') : '(none)'}. Did you pass its register function to createContainer({ use: [...] })?`,
      { details: { kind, name, registered: known } },
    );
  }
  // create() gets the run's container: a plugin resolves the services it needs from it.
  return plugin.create(container) as PluginInstanceByKind[K];
}

/** Options type of plugin `N` in a by-name map `M` (`unknown` for names not in the map). */
export type KnownOptions<M, N extends string> = N extends keyof M ? M[N] : unknown;

/** Typed {@link createPlugin} for unlearners: options typed by name through module augmentation. */
export function createUnlearner<N extends string>(c: DependencyContainer, name: N): Unlearner<KnownOptions<UnlearnerOptionsByName, N>> {
  return createPlugin(c, 'unlearner', name);
}
/** Typed {@link createPlugin} for pruners. */
export function createPruner<N extends string>(c: DependencyContainer, name: N): Pruner<KnownOptions<PrunerOptionsByName, N>> {
  return createPlugin(c, 'pruner', name);
}
/** Typed {@link createPlugin} for adapters. */
export function createAdapter<N extends string>(c: DependencyContainer, name: N): Adapter<KnownOptions<AdapterOptionsByName, N>> {
  return createPlugin(c, 'adapter', name);
}
/** Typed {@link createPlugin} for evaluators. */
export function createEvaluator<N extends string>(c: DependencyContainer, name: N): Evaluator<KnownOptions<EvaluatorOptionsByName, N>> {
  return createPlugin(c, 'evaluator', name);
}
/** Typed {@link createPlugin} for model factories. */
export function createModelFactory<N extends string>(c: DependencyContainer, name: N): ModelFactory<KnownOptions<ModelOptionsByName, N>> {
  return createPlugin(c, 'model', name);
}

/**
 * The services for one plugin call: the container's logger, progress and signal, an Rng
 * forked from the run's root generator under `label` (so each call gets its own stream), and
 * the backend when the container has one ({@link BACKEND_INFO}).
 * @param container - the run's container
 * @param label - names the call, e.g. `unlearn:ga`
 */
export function runServices(container: DependencyContainer, label: string): RunServices {
  return {
    logger: resolve(container, LOGGER),
    progress: resolve(container, PROGRESS),
    signal: resolve(container, ABORT_SIGNAL),
    rng: resolve(container, RNG).fork(label),
    ...(container.isRegistered(BACKEND_INFO, true) ? { backend: resolve(container, BACKEND_INFO) } : {}),
  };
}
