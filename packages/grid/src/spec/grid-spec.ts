import { UnlearnError } from '@unlearnjs/core';
import { z } from 'zod';
import type { GridMethod, Scenario } from '../types.js';
import { scenarioLabel, sparsityLabel } from './cell-ids.js';

/**
 * Grid, model and method ids: they become Redis keys, folder names and cell ids, so only
 * path-safe characters, and lowercase only, because a case-insensitive file system (macOS,
 * Windows) would put `FT` and `ft` in one folder.
 */
const ID_PATTERN = /^[a-z0-9][a-z0-9._-]*$/;
/** Method labels may also hold `+` (`ft+lora`), which is path-safe too. */
const LABEL_PATTERN = /^[a-z0-9][a-z0-9._+-]*$/;
const ID_MAX = 64;
const ID_RULE = 'lowercase letters, digits, ".", "_" or "-", starting with a letter or digit, at most 64 characters';

/** The method the expansion adds to every (model, seed, scenario, sparsity): the model before unlearning. */
export const ORIGINAL_METHOD = 'original';

/** A method of a resolved grid spec: a {@link GridMethod} with its (unique) label. */
export interface GridSpecMethod extends GridMethod {
  /**
   * Names the method in cell ids, report rows and charts; unique in the grid.
   * @defaultValue `method`, plus `+lora` when `lora` is true
   */
  label: string;
}

/** Limits on the data each cell loads, to make a grid cheaper (all images when absent). */
export interface GridSpecData {
  /** Train images to load (the first ones of the split). */
  trainLimit?: number;
  /** Test images to load (the first ones of the split). */
  testLimit?: number;
}

/** A fully resolved grid spec, as {@link parseGridSpec} returns it: every default filled in. */
export interface GridSpec {
  /** The grid's name, used in Redis keys and folder names. @defaultValue `'grid'` */
  name: string;
  /**
   * The recipe every cell runs (the scale of training, pruning and unlearning): the CLI knows
   * `ci`, `quick`, `standard` and `paper`; the grid package passes it on unread. @defaultValue `'quick'`
   */
  preset: string;
  /** Model plugin ids. @defaultValue `['resnet18']` */
  models: string[];
  /** Seeds, one trial each; the report's mean ± std is over these. */
  seeds: number[];
  /** Forgetting scenarios. */
  scenarios: Scenario[];
  /** 0 (the dense model) and target sparsities in (0, 1). @defaultValue `[0, 0.95]` */
  sparsities: number[];
  /** Methods, in report order. */
  methods: GridSpecMethod[];
  /** Data limits. */
  data?: GridSpecData;
}

/** Options of {@link parseGridSpec}. */
export interface ParseGridSpecOptions {
  /** Where the spec came from (a file name, `--grid flags`), for error messages. */
  source?: string;
  /** Defaults a preset supplies: the methods to run when the spec lists none. */
  defaults?: { methods?: readonly GridMethod[] };
  /**
   * How errors name what is wrong: by key path (`seeds[2]`, the default) or by the CLI flag
   * that {@link gridSpecFromFlags} read it from (`--seeds, value 3`).
   * @defaultValue `'key'`
   */
  keyStyle?: 'key' | 'flag';
}

const integer = z.int({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be an integer') });
const nonNegativeInt = integer.min(0, { error: 'must be ≥ 0' });
const positiveInt = integer.min(1, { error: 'must be ≥ 1' });
const id = (what: string) =>
  z
    .string({ error: `must be a ${what} id (a string)` })
    .max(ID_MAX, { error: `must be a ${what} id: ${ID_RULE}` })
    .regex(ID_PATTERN, { error: `must be a ${what} id: ${ID_RULE}` });

const classScenarioSchema = z.strictObject({ class: nonNegativeInt, count: positiveInt.optional() });
const randomScenarioSchema = z.strictObject({ random: positiveInt });
const SCENARIO_KEYS = { class: ['class', 'count'], random: ['random'] } as const;
const SCENARIO_SHORTHAND = /^(?:class:(\d+)(?::(\d+))?|random:(\d+))$/;
const SCENARIO_FORMS = '{ class: C }, { class: C, count: N } or { random: N }, or a string "class:C", "class:C:N" or "random:N"';

/** A scenario: an object, or the `class:0` / `class:0:100` / `random:450` shorthand of the CLI. */
const scenarioSchema = z.unknown().transform((value, ctx): Scenario => {
  let input = value;
  const shorthand = typeof value === 'string' ? value : undefined;
  if (shorthand !== undefined) {
    const m = SCENARIO_SHORTHAND.exec(shorthand.trim());
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `must be ${SCENARIO_FORMS} (got ${JSON.stringify(shorthand)})` });
      return z.NEVER;
    }
    input = m[3] !== undefined ? { random: Number(m[3]) } : { class: Number(m[1]), ...(m[2] === undefined ? {} : { count: Number(m[2]) }) };
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    ctx.addIssue({ code: 'custom', message: `must be ${SCENARIO_FORMS}${gotSuffix(input)}` });
    return z.NEVER;
  }
  // Dispatch on the key rather than a z.union, whose error would list both forms' complaints.
  const kind = 'random' in input ? 'random' : 'class';
  const parsed = (kind === 'random' ? randomScenarioSchema : classScenarioSchema).safeParse(input);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    let message = issue.code === 'unrecognized_keys' ? unknownKeysMessage(issue.keys, SCENARIO_KEYS[kind]) : issue.message;
    if (issue.code !== 'unrecognized_keys') message += gotSuffix(valueAt(input, issue.path));
    // A shorthand string has no keys to point at: name the part of the string instead.
    if (shorthand !== undefined)
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(shorthand)}: ${issue.path.join('.')} ${message}` });
    else ctx.addIssue({ code: 'custom', message, path: issue.path });
  }
  return z.NEVER;
});

const METHOD_KEYS = ['method', 'options', 'lora', 'label'] as const;
const METHOD_SHORTHAND = /^([a-z0-9][a-z0-9._-]*)(\+lora)?$/;
const LABEL_RULE = `lowercase letters, digits, ".", "_", "+" or "-", starting with a letter or digit, at most ${ID_MAX} characters`;

/** A method: an object, or the `ft` / `ft+lora` shorthand of the CLI. */
const methodSchema = z.preprocess(
  (value) => {
    if (typeof value !== 'string') return value;
    const m = METHOD_SHORTHAND.exec(value.trim());
    return m ? { method: m[1], ...(m[2] ? { lora: true } : {}) } : value;
  },
  z
    .strictObject(
      {
        method: id('method').refine((m) => m !== ORIGINAL_METHOD, {
          error: `"${ORIGINAL_METHOD}" is added to every scenario by the grid itself; remove it`,
        }),
        options: z.record(z.string(), z.unknown(), { error: "must be an object of the method's options" }).optional(),
        lora: z.boolean({ error: 'must be true or false' }).optional(),
        label: z
          .string({ error: 'must be a string' })
          .max(ID_MAX, { error: `must be ${LABEL_RULE}` })
          .regex(LABEL_PATTERN, { error: `must be ${LABEL_RULE}` })
          .refine((l) => l !== ORIGINAL_METHOD, {
            error: `"${ORIGINAL_METHOD}" is the label of the rows before unlearning; choose another`,
          })
          .optional(),
      },
      { error: 'must be a method id ("ft", "ft+lora") or an object { method, options?, lora?, label? }' },
    )
    .transform(
      (m): GridSpecMethod => ({
        method: m.method,
        ...(m.options === undefined ? {} : { options: m.options }),
        ...(m.lora ? { lora: true } : {}),
        label: m.label ?? `${m.method}${m.lora ? '+lora' : ''}`,
      }),
    ),
);

const sparsitySchema = z
  .number({ error: 'must be a number in [0, 1) (0 is the dense model)' })
  .min(0, { error: 'must be in [0, 1) (0 is the dense model)' })
  .lt(1, { error: 'must be in [0, 1) (0 is the dense model)' });

const DATA_KEYS = ['trainLimit', 'testLimit'] as const;
const TOP_KEYS = ['name', 'preset', 'models', 'seeds', 'scenarios', 'sparsities', 'methods', 'data'] as const;

/**
 * Stands for another key in a message (`duplicates seeds[0]`), which {@link parseGridSpec}
 * names in the caller's style: a flag user never typed `seeds[0]`.
 */
const REF = '%REF%';

/** Reports each repeated entry of a list, pointing at the repeat and naming the first. */
function refineUnique<T>(
  ctx: z.RefinementCtx,
  key: string,
  items: readonly T[],
  keyOf: (item: T) => string,
  show: (item: T) => string,
): void {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    const k = keyOf(item);
    const j = first.get(k);
    if (j === undefined) first.set(k, i);
    else
      ctx.addIssue({
        code: 'custom',
        path: [key, i],
        params: { ref: [key, j] },
        message: `duplicates ${REF} (${show(item)}); list each once`,
      });
  });
}

/**
 * Schema of a grid spec (after the caller's default methods are filled in): accepts the file
 * and shorthand forms and outputs a resolved {@link GridSpec}. Prefer {@link parseGridSpec},
 * whose errors name the key.
 */
export const gridSpecSchema: z.ZodType<GridSpec> = z
  .strictObject(
    {
      name: id('grid name').default('grid'),
      preset: z
        .string({ error: 'must be a preset name (ci, quick, standard, paper, ...)' })
        .trim()
        .min(1, { error: 'must not be empty' })
        .default('quick'),
      models: z
        .array(id('model'), { error: 'must be a list of model ids' })
        .min(1, { error: 'must list at least one model' })
        .default(['resnet18']),
      seeds: z
        .array(nonNegativeInt, {
          error: (iss) => (iss.input === undefined ? 'is required: list the seeds, e.g. [1, 2, 3]' : 'must be a list of integers'),
        })
        .min(1, { error: 'must list at least one seed' }),
      scenarios: z
        .array(scenarioSchema, {
          error: (iss) =>
            iss.input === undefined
              ? 'is required: list the forgetting scenarios, e.g. ["class:0", "random:450"]'
              : 'must be a list of scenarios',
        })
        .min(1, { error: 'must list at least one scenario' }),
      sparsities: z
        .array(sparsitySchema, { error: 'must be a list of numbers in [0, 1)' })
        .min(1, { error: 'must list at least one sparsity' })
        .default([0, 0.95]),
      methods: z
        .array(methodSchema, {
          error: (iss) =>
            iss.input === undefined
              ? 'is required (no default methods were given): list the methods, e.g. ["retrain", "ft", "ft+lora"]'
              : 'must be a list of methods',
        })
        .min(1, { error: 'must list at least one method' }),
      data: z
        .strictObject(
          { trainLimit: positiveInt.optional(), testLimit: positiveInt.optional() },
          { error: 'must be an object { trainLimit?, testLimit? }' },
        )
        .optional(),
    },
    { error: 'must be an object' },
  )
  .superRefine((spec, ctx) => {
    refineUnique(ctx, 'models', spec.models, String, (m) => JSON.stringify(m));
    refineUnique(ctx, 'seeds', spec.seeds, String, String);
    refineUnique(ctx, 'scenarios', spec.scenarios, scenarioLabel, scenarioLabel);
    // Sparsities are told apart by their label in ids, not by value: 0.95 and 0.9500000001
    // would write the same artifacts.
    const byLabel = new Map<string, number>();
    spec.sparsities.forEach((s, i) => {
      const label = sparsityLabel(s);
      const j = byLabel.get(label);
      if (j !== undefined) {
        const same = spec.sparsities[j] === s;
        ctx.addIssue({
          code: 'custom',
          path: ['sparsities', i],
          params: { ref: ['sparsities', j] },
          message: same
            ? `duplicates ${REF} (${s}); list each once`
            : `${s} and ${REF} (${spec.sparsities[j]}) both become "${label}" in cell ids; make them differ within 6 significant digits`,
        });
      } else if (s > 0 && Number(label.slice(1)) >= 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['sparsities', i],
          message: `${s} rounds to 1 in cell ids ("${label}"); use at most 6 significant digits`,
        });
      } else byLabel.set(label, i);
    });
    const byMethodLabel = new Map<string, number>();
    spec.methods.forEach((m, i) => {
      const j = byMethodLabel.get(m.label);
      if (j === undefined) byMethodLabel.set(m.label, i);
      else
        ctx.addIssue({
          code: 'custom',
          path: ['methods', i],
          params: { ref: ['methods', j] },
          message: `has the same label "${m.label}" as ${REF}; give one of them a distinct "label" (the same method with different options needs one each)`,
        });
    });
  }) as z.ZodType<GridSpec>;

/**
 * Validate a grid spec (from a file, a preset or {@link gridSpecFromFlags}) and fill in its
 * defaults.
 *
 * @param raw - the spec as parsed from JSON/YAML or built from flags
 * @param options - the source (for messages), the default methods, and how errors name keys
 * @returns the resolved spec: defaults filled in, shorthands expanded, each method labelled
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` whose message names every wrong key
 *   (`seeds[2]: must be an integer (got 1.5)`) and the source; `details.key` is the first
 *   wrong key, `details.source` the source, `details.issues` all of them. Unknown keys are
 *   errors, so a typo is never silently ignored.
 * @example
 * ```ts
 * const spec = parseGridSpec({ seeds: [1, 2, 3], scenarios: ['class:0', 'random:450'] }, {
 *   defaults: { methods: [{ method: 'retrain' }, { method: 'ft' }, { method: 'ft', lora: true }] },
 * });
 * spec.methods.map((m) => m.label); // ['retrain', 'ft', 'ft+lora']
 * ```
 */
export function parseGridSpec(raw: unknown, options: ParseGridSpecOptions = {}): GridSpec {
  const { source, defaults, keyStyle = 'key' } = options;
  let input = raw;
  if (isPlainObject(raw) && raw.methods === undefined && defaults?.methods !== undefined) input = { ...raw, methods: defaults.methods };
  const parsed = gridSpecSchema.safeParse(input);
  if (parsed.success) return parsed.data;

  const nameKey = keyStyle === 'flag' ? flagName : keyPath;
  const issues = parsed.error.issues.map((issue) => {
    const key = nameKey(issue.path);
    let message: string;
    if (issue.code === 'unrecognized_keys') message = unknownKeysMessage(issue.keys, allowedKeysAt(issue.path));
    else if (issue.code === 'custom') {
      const ref = (issue.params as { ref?: PropertyKey[] } | undefined)?.ref;
      message = ref === undefined ? issue.message : issue.message.replace(REF, nameKey(ref));
    } else message = `${issue.message}${gotSuffix(valueAt(input, issue.path))}`;
    return { key, message };
  });
  const where = source === undefined ? '' : ` in ${source}`;
  throw new UnlearnError(
    'UNLEARN_INVALID_OPTIONS',
    `Invalid grid spec${where}: ${issues.map((i) => `${i.key}: ${i.message}`).join('; ')}. Fix ${issues.length === 1 ? 'it' : 'them'} and run again.`,
    { details: { key: issues[0].key, source, issues } },
  );
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `['scenarios', 0, 'class']` → `scenarios[0].class`. */
function keyPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'grid spec';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

const FLAG_OF: Record<string, string> = {
  name: '--name',
  preset: '--preset',
  models: '--models',
  seeds: '--seeds',
  scenarios: '--scenarios',
  sparsities: '--sparsities',
  methods: '--methods',
  'data.trainLimit': '--train-limit',
  'data.testLimit': '--test-limit',
};

/** `['seeds', 2]` → `--seeds, value 3`: the user typed a comma-separated list, not an array. */
function flagName(path: readonly PropertyKey[]): string {
  const flag = FLAG_OF[path[0] === 'data' ? `data.${String(path[1])}` : String(path[0])];
  if (flag === undefined) return keyPath(path);
  return typeof path[1] === 'number' ? `${flag}, value ${path[1] + 1}` : flag;
}

function allowedKeysAt(path: readonly PropertyKey[]): readonly string[] {
  if (path.length === 0) return TOP_KEYS;
  if (path[0] === 'data') return DATA_KEYS;
  if (path[0] === 'methods') return METHOD_KEYS;
  return [];
}

function unknownKeysMessage(keys: readonly string[], allowed: readonly string[]): string {
  const list = keys.map((k) => JSON.stringify(k)).join(', ');
  return `unknown key${keys.length === 1 ? '' : 's'} ${list}${allowed.length > 0 ? ` (allowed: ${allowed.join(', ')})` : ''}`;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** ` (got 1.5)`, or nothing for a missing value; long values are cut, so one bad key cannot flood the message. */
function gotSuffix(value: unknown): string {
  if (value === undefined) return '';
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return ` (got ${text.length > 60 ? `${text.slice(0, 57)}...` : text})`;
}
