// tsyringe needs the Reflect polyfill loaded before it; core loads it too, but this file imports
// tsyringe directly (to get the global container), so it comes first here.
import 'reflect-metadata';
import { container as globalContainer } from 'tsyringe';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  API_VERSION,
  BACKEND_INFO,
  type BackendInfo,
  type DependencyContainer,
  type Model,
  type ModelOptionsByName,
  type OptionsByNameOf,
  type OptionsFor,
  type Plugin,
  type ResNet18Options,
  RNG,
  RUN_SEED,
  Rng,
  type UnlearnData,
  type Unlearner,
  type UnlearnerOptionsByName,
  UnlearnError,
  type UnlearnErrorCode,
  type VitOptions,
  createContainer,
  createPlugin,
  createUnlearner,
  definePlugin,
  isUnlearnError,
  listPlugins,
  parseOptions,
  registerPlugin,
  resnet18Factory,
  resnet18ModelPlugin,
  resolve,
  runServices,
  runUnlearner,
  type vitModelPlugin,
} from '@unlearnjs/core';

/** Options of the typed test unlearner `reg-typed`. */
interface RegTypedOptions {
  rate: number;
  epochs: number;
}

declare module '@unlearnjs/core' {
  interface UnlearnerOptionsByName {
    'reg-typed': RegTypedOptions;
  }
}

const noopSchema = z.object({ rate: z.number().min(0).max(1).default(0.5) });

function unlearnerPlugin(name: string, extra: Partial<Plugin<'unlearner'>> = {}): Plugin<'unlearner'> {
  return {
    kind: 'unlearner',
    name,
    apiVersion: API_VERSION,
    create: () => ({
      name,
      optionsSchema: noopSchema,
      unlearn: async () => ({ method: name, seconds: 0, epochs: [], extra: {} }),
    }),
    ...extra,
  };
}

const quiet = () => createContainer({ seed: 1, logger: { info() {}, warn() {}, debug() {} } });

describe('registerPlugin / listPlugins / createPlugin', () => {
  it('registers plugins, lists them sorted by kind then name, and creates instances', () => {
    const c = quiet();
    const b = unlearnerPlugin('beta');
    const a = unlearnerPlugin('alpha');
    const evaluator: Plugin<'evaluator'> = {
      kind: 'evaluator',
      name: 'zeta',
      apiVersion: API_VERSION,
      create: () => ({ name: 'zeta', optionsSchema: z.object({}), evaluate: async () => ({ evaluator: 'zeta', metrics: {} }) }),
    };
    registerPlugin(c, b);
    registerPlugin(c, a);
    registerPlugin(c, evaluator);
    expect(listPlugins(c)).toEqual([evaluator, a, b]);
    expect(listPlugins(c, 'unlearner')).toEqual([a, b]);
    expect(listPlugins(c, 'pruner')).toEqual([]);
    const u = createPlugin(c, 'unlearner', 'alpha');
    expect(u.name).toBe('alpha');
    expect(typeof u.unlearn).toBe('function');
  });

  it('calls create once per createPlugin, with the run container', () => {
    const c = quiet();
    const seen: DependencyContainer[] = [];
    registerPlugin(
      c,
      unlearnerPlugin('counted', {
        create: (container) => {
          seen.push(container);
          return {
            name: 'counted',
            optionsSchema: noopSchema,
            unlearn: async () => ({ method: 'counted', seconds: 0, epochs: [], extra: {} }),
          };
        },
      }),
    );
    const first = createPlugin(c, 'unlearner', 'counted');
    const second = createPlugin(c, 'unlearner', 'counted');
    expect(first).not.toBe(second);
    expect(seen.length).toBe(2);
    // The factory can resolve the run's services from the container it is given.
    expect(resolve(seen[0], RUN_SEED)).toBe(1);
  });

  it('applies the `use` register functions of createContainer', () => {
    const plugin = unlearnerPlugin('from-use');
    const c = createContainer({ seed: 3, use: [(container) => registerPlugin(container, plugin)] });
    expect(listPlugins(c, 'unlearner')).toEqual([plugin]);
    expect(resolve(c, RUN_SEED)).toBe(3);
  });

  it('names the registered plugins of that kind when a name is unknown', async () => {
    const c = quiet();
    registerPlugin(c, unlearnerPlugin('ga'));
    registerPlugin(c, unlearnerPlugin('ft'));
    const err = await expectUnlearnError(() => createPlugin(c, 'unlearner', 'gaa'), 'UNLEARN_UNKNOWN_PLUGIN');
    expect(err.message).toContain('"gaa"');
    expect(err.message).toContain('ft, ga');
    expect(err.details.registered).toEqual(['ft', 'ga']);
    const none = await expectUnlearnError(() => createPlugin(c, 'pruner', 'omp'), 'UNLEARN_UNKNOWN_PLUGIN');
    expect(none.message).toContain('(none)');
  });

  it('refuses a different plugin with the same kind and name; the same object again is a no-op', async () => {
    const c = quiet();
    const ga = unlearnerPlugin('ga');
    registerPlugin(c, ga);
    registerPlugin(c, ga);
    expect(listPlugins(c, 'unlearner')).toEqual([ga]);
    const err = await expectUnlearnError(() => registerPlugin(c, unlearnerPlugin('ga')), 'UNLEARN_DUPLICATE_PLUGIN');
    expect(err.details).toMatchObject({ kind: 'unlearner', name: 'ga' });
    expect(createPlugin(c, 'unlearner', 'ga').name).toBe('ga');
    // Names are unique per kind only.
    const evaluator: Plugin<'evaluator'> = {
      kind: 'evaluator',
      name: 'ga',
      apiVersion: API_VERSION,
      create: () => ({ name: 'ga', optionsSchema: z.object({}), evaluate: async () => ({ evaluator: 'ga', metrics: {} }) }),
    };
    registerPlugin(c, evaluator);
    expect(listPlugins(c).length).toBe(2);
  });

  it('refuses a plugin written for another API version', async () => {
    const c = quiet();
    const err = await expectUnlearnError(
      () => registerPlugin(c, unlearnerPlugin('future', { apiVersion: API_VERSION + 1 })),
      'UNLEARN_INCOMPATIBLE_API',
    );
    expect(err.message).toContain(String(API_VERSION + 1));
    expect(err.message).toContain(String(API_VERSION));
    expect(listPlugins(c)).toEqual([]);
  });

  it.each([['Ga'], ['snake_case'], ['with space'], ['-lead'], ['trail-'], ['double--dash'], [''], ['ga.v2']])(
    'rejects the name %j',
    async (name) => {
      const c = quiet();
      const err = await expectUnlearnError(() => registerPlugin(c, unlearnerPlugin(name)), 'UNLEARN_INVALID_OPTIONS');
      expect(err.message).toContain('kebab-case');
      expect(listPlugins(c)).toEqual([]);
    },
  );

  it('accepts kebab-case names with digits', () => {
    const c = quiet();
    for (const name of ['svc-mia', 'l1-sparse', 'ft2', 'a-1-b']) registerPlugin(c, unlearnerPlugin(name));
    expect(listPlugins(c).map((p) => p.name)).toEqual(['a-1-b', 'ft2', 'l1-sparse', 'svc-mia']);
  });

  it('refuses an unknown kind', async () => {
    const c = quiet();
    const bogus = { ...unlearnerPlugin('x'), kind: 'optimizer' } as unknown as Plugin;
    await expectUnlearnError(() => registerPlugin(c, bogus), 'UNLEARN_INVALID_OPTIONS');
  });
});

describe('containers', () => {
  it('isolates run containers: a plugin registered on one is unknown on another', async () => {
    const a = quiet();
    const b = quiet();
    registerPlugin(a, unlearnerPlugin('only-a'));
    expect(listPlugins(b)).toEqual([]);
    await expectUnlearnError(() => createPlugin(b, 'unlearner', 'only-a'), 'UNLEARN_UNKNOWN_PLUGIN');
    // The same name may then be registered on b with a different object.
    registerPlugin(b, unlearnerPlugin('only-a'));
    expect(createPlugin(b, 'unlearner', 'only-a').name).toBe('only-a');
  });

  it('refuses the global container', async () => {
    const err = await expectUnlearnError(() => registerPlugin(globalContainer, unlearnerPlugin('g')), 'UNLEARN_INVALID_OPTIONS');
    expect(err.message).toContain('createContainer');
    await expectUnlearnError(() => listPlugins(globalContainer), 'UNLEARN_INVALID_OPTIONS');
    await expectUnlearnError(() => createPlugin(globalContainer, 'unlearner', 'g'), 'UNLEARN_INVALID_OPTIONS');
  });

  it('refuses a container not made by createContainer (a tsyringe child, or a child of a run container)', async () => {
    const foreign = globalContainer.createChildContainer();
    const err = await expectUnlearnError(() => registerPlugin(foreign, unlearnerPlugin('f')), 'UNLEARN_INVALID_OPTIONS');
    expect(err.message).toMatch(/not made by createContainer/);
    await expectUnlearnError(() => listPlugins(foreign), 'UNLEARN_INVALID_OPTIONS');
    // A child of a run container is not one either (it would hide the run's plugins).
    await expectUnlearnError(() => listPlugins(createContainer().createChildContainer()), 'UNLEARN_INVALID_OPTIONS');
  });

  it('keeps the plugins in tsyringe itself: resolveAll on the run container lists the descriptors', () => {
    const c = createContainer();
    const a = unlearnerPlugin('via-tsyringe');
    registerPlugin(c, a);
    expect(c.resolveAll(Symbol.for('@unlearnjs/core:PLUGINS'))).toEqual([a]);
  });

  it('derives the run Rng from RUN_SEED, and makes the backend info resolvable and part of the run services', () => {
    const backend: BackendInfo = { name: 'cpu', detail: 'cpu', attempts: [] };
    const c = createContainer({ seed: 9, backend });
    expect(resolve(c, RUN_SEED)).toBe(9);
    expect(resolve(c, RNG).nextUint32()).toBe(new Rng(9).nextUint32());
    expect(resolve(c, RNG)).toBe(resolve(c, RNG));
    expect(resolve(c, BACKEND_INFO)).toBe(backend);
    expect(runServices(c, 'train').backend).toBe(backend);
    expect(createContainer().isRegistered(BACKEND_INFO)).toBe(false);
    expect(runServices(createContainer(), 'train').backend).toBeUndefined();
  });

  it('recognises an UnlearnError thrown by another copy of core by its code, not its class', () => {
    class OtherCopyError extends Error {
      readonly code = 'UNLEARN_EMPTY_DATA';
      readonly details = {};
      constructor() {
        super('from another copy');
        this.name = 'UnlearnError';
      }
    }
    expect(isUnlearnError(new OtherCopyError())).toBe(true);
    expect(isUnlearnError(new OtherCopyError(), 'UNLEARN_EMPTY_DATA')).toBe(true);
    expect(isUnlearnError(new OtherCopyError(), 'UNLEARN_ABORTED')).toBe(false);
    expect(isUnlearnError(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(false);
    expect(isUnlearnError({ name: 'UnlearnError', code: 'UNLEARN_X' })).toBe(false);
  });

  it('gives each plugin call a seeded Rng: same seed and label, same stream', () => {
    const draw = (seed: number, label: string) => {
      const rng = runServices(createContainer({ seed }), label).rng;
      return [rng.nextUint32(), rng.nextUint32(), rng.nextUint32()];
    };
    expect(draw(5, 'unlearn:ga')).toEqual(draw(5, 'unlearn:ga'));
    expect(draw(5, 'unlearn:ga')).not.toEqual(draw(6, 'unlearn:ga'));
    expect(draw(5, 'unlearn:ga')).not.toEqual(draw(5, 'unlearn:ft'));
  });
});

describe('parseOptions', () => {
  const schema = z.object({
    lr: z.number().positive().max(10),
    epochs: z.number().int().min(1).max(100).default(5),
    schedule: z.object({ type: z.enum(['constant', 'cosine']) }).default({ type: 'constant' }),
  });

  it('returns parsed options with defaults filled in', () => {
    expect(parseOptions(schema, { lr: 0.1 }, 'unlearner "x"')).toEqual({ lr: 0.1, epochs: 5, schedule: { type: 'constant' } });
    expect(parseOptions(z.object({ a: z.number().default(1) }), undefined, 'x')).toEqual({ a: 1 });
  });

  it('names the field, the allowed range and the given value', async () => {
    const tooBig = await expectUnlearnError(() => parseOptions(schema, { lr: 20 }, 'unlearner "x"'), 'UNLEARN_INVALID_OPTIONS');
    expect(tooBig.message).toContain('unlearner "x"');
    expect(tooBig.message).toMatch(/lr: .*10/);
    expect(tooBig.message).toContain('(got 20)');

    const low = await expectUnlearnError(() => parseOptions(schema, { lr: 1, epochs: 0 }, 'unlearner "x"'), 'UNLEARN_INVALID_OPTIONS');
    expect(low.message).toMatch(/epochs: .*1/);
    expect(low.message).toContain('(got 0)');

    const nested = await expectUnlearnError(
      () => parseOptions(schema, { lr: 1, schedule: { type: 'step' } }, 'unlearner "x"'),
      'UNLEARN_INVALID_OPTIONS',
    );
    expect(nested.message).toContain('schedule.type');
    expect(nested.message).toMatch(/constant.*cosine/);
    expect(nested.message).toContain('(got "step")');
  });

  it('reports every bad field, in details too', async () => {
    const err = await expectUnlearnError(() => parseOptions(schema, { lr: -1, epochs: 2.5 }, 'w'), 'UNLEARN_INVALID_OPTIONS');
    const issues = err.details.issues as Array<{ path: string; given: unknown }>;
    expect(issues.map((i) => [i.path, i.given])).toEqual([
      ['lr', -1],
      ['epochs', 2.5],
    ]);
    expect(err.message).toContain('lr:');
    expect(err.message).toContain('epochs:');
    expect(err).toBeInstanceOf(UnlearnError);
  });

  it('reports a missing required field by name', async () => {
    const err = await expectUnlearnError(() => parseOptions(schema, {}, 'w'), 'UNLEARN_INVALID_OPTIONS');
    expect(err.message).toContain('lr:');
  });
});

describe('typed options by module augmentation', () => {
  it('types createUnlearner and runUnlearner options by plugin name', () => {
    expectTypeOf<UnlearnerOptionsByName['reg-typed']>().toEqualTypeOf<RegTypedOptions>();
    expectTypeOf<OptionsFor<UnlearnerOptionsByName, 'reg-typed'>>().toEqualTypeOf<Partial<RegTypedOptions>>();
    expectTypeOf<OptionsFor<UnlearnerOptionsByName, 'not-augmented'>>().toEqualTypeOf<Record<string, unknown>>();
    expectTypeOf(createUnlearner<'reg-typed'>).returns.toEqualTypeOf<Unlearner<RegTypedOptions>>();
    expectTypeOf(createUnlearner<'not-augmented'>).returns.toEqualTypeOf<Unlearner<unknown>>();

    // Compile-time only: never called.
    const typed = (c: DependencyContainer, model: Model, data: UnlearnData) => {
      void runUnlearner(c, 'reg-typed', { model, data, options: { rate: 0.5 } });
      // @ts-expect-error rate is a number for 'reg-typed'
      void runUnlearner(c, 'reg-typed', { model, data, options: { rate: 'high' } });
      // @ts-expect-error 'reg-typed' has no option "rat"
      void runUnlearner(c, 'reg-typed', { model, data, options: { rat: 0.5 } });
      // Unknown names take loose options.
      void runUnlearner(c, 'anything', { model, data, options: { whatever: true } });
    };
    expect(typeof typed).toBe('function');
  });

  it("derives several descriptors' entries from their types (core's own models)", () => {
    expectTypeOf<OptionsByNameOf<typeof resnet18ModelPlugin | typeof vitModelPlugin>>().toEqualTypeOf<{
      resnet18: ResNet18Options;
      vit: VitOptions;
    }>();
    expectTypeOf<ModelOptionsByName['resnet18']>().toEqualTypeOf<ResNet18Options>();
    expectTypeOf(resnet18ModelPlugin.name).toEqualTypeOf<'resnet18'>();
    // A descriptor whose factory calls itself something else does not compile.
    const misnamed = () =>
      // @ts-expect-error resnet18Factory's name is 'resnet18'
      definePlugin({ kind: 'model', name: 'resnet-18', apiVersion: API_VERSION, create: () => resnet18Factory });
    expect(typeof misnamed).toBe('function');
  });
});

// Local copy of @unlearnjs/testing's helper: core cannot depend on the testing package (it
// depends on core).
async function expectUnlearnError(fn: () => unknown, code: UnlearnErrorCode): Promise<UnlearnError> {
  let thrown: unknown;
  try {
    await fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(UnlearnError);
  expect((thrown as UnlearnError).code).toBe(code);
  return thrown as UnlearnError;
}
