/**
 * What a plugin's zod schema says about one option: its default and its numeric range. The CLI
 * reads `--help` text from here, so that a range or a default lives only in the schema.
 */
export interface OptionFacts {
  /** The value used when the option is left out. */
  default?: unknown;
  /** Smallest allowed value, and whether it is allowed itself. */
  min?: { value: number; inclusive: boolean };
  /** Largest allowed value, and whether it is allowed itself. */
  max?: { value: number; inclusive: boolean };
  /** Whole numbers only. */
  integer?: boolean;
}

/** The parts of a zod 4 schema read here (its `def`, and a number's checks). */
interface SchemaNode {
  def?: {
    type?: string;
    shape?: Record<string, unknown>;
    defaultValue?: unknown;
    innerType?: unknown;
    in?: unknown;
    schema?: unknown;
    checks?: ReadonlyArray<{ _zod?: { def?: { check?: string; value?: unknown; inclusive?: boolean; format?: string } } }>;
  };
  shape?: Record<string, unknown>;
}

/** The fields of an object schema, through defaults, pipes and refinements around it. */
function shapeOf(schema: unknown): Record<string, unknown> | undefined {
  let s = schema as SchemaNode | undefined;
  for (let depth = 0; depth < 8 && s; depth++) {
    if (s.shape && typeof s.shape === 'object') return s.shape;
    s = (s.def?.in ?? s.def?.innerType ?? s.def?.schema) as SchemaNode | undefined;
  }
  return undefined;
}

/**
 * The option names an object schema declares.
 * @param schema - a plugin's `optionsSchema`
 * @returns the names, or `undefined` when the schema is not an object schema
 */
export function schemaKeys(schema: unknown): Set<string> | undefined {
  const shape = shapeOf(schema);
  return shape === undefined ? undefined : new Set(Object.keys(shape));
}

/**
 * Read the default and the range of one option from a plugin's schema.
 * @param schema - a plugin's `optionsSchema` (a zod object schema)
 * @param key - the option
 * @returns what the schema says, or `undefined` when it has no such option
 */
export function optionFacts(schema: unknown, key: string): OptionFacts | undefined {
  let node = shapeOf(schema)?.[key] as SchemaNode | undefined;
  if (node === undefined) return undefined;
  const facts: OptionFacts = {};
  for (let depth = 0; depth < 8 && node?.def; depth++) {
    const def = node.def;
    if (def.type === 'default') {
      if (!('default' in facts)) facts.default = def.defaultValue;
      node = def.innerType as SchemaNode;
    } else if (def.type === 'optional' || def.type === 'nullable') {
      node = def.innerType as SchemaNode;
    } else if (def.type === 'pipe') {
      node = def.in as SchemaNode;
    } else {
      if (def.type === 'number') {
        for (const c of def.checks ?? []) {
          const d = c._zod?.def;
          if (d?.check === 'number_format' && (d.format === 'safeint' || d.format === 'int32')) facts.integer = true;
          if (d?.check === 'greater_than' && typeof d.value === 'number') facts.min = { value: d.value, inclusive: d.inclusive === true };
          if (d?.check === 'less_than' && typeof d.value === 'number') facts.max = { value: d.value, inclusive: d.inclusive === true };
        }
      }
      break;
    }
  }
  return facts;
}

const shown = (v: unknown): string => (typeof v === 'object' ? JSON.stringify(v) : String(v));

/**
 * A few words for `--help`: `default 0.9, in [0, 1]`, `an integer >= 1`, …
 * @param facts - from {@link optionFacts}
 * @param options - `withDefault: false` leaves the default out (the command sets its own)
 * @returns the words, empty when the schema says nothing
 */
export function describeFacts(facts: OptionFacts | undefined, options: { withDefault?: boolean } = {}): string {
  if (facts === undefined) return '';
  const parts: string[] = [];
  if (options.withDefault !== false && facts.default !== undefined) parts.push(`default ${shown(facts.default)}`);
  const kind = facts.integer ? 'an integer ' : '';
  const { min, max } = facts;
  const huge = (n: number) => Math.abs(n) >= Number.MAX_SAFE_INTEGER;
  if (min && max && !huge(max.value)) {
    parts.push(`${kind}in ${min.inclusive ? '[' : '('}${min.value}, ${max.value}${max.inclusive ? ']' : ')'}`);
  } else if (min) {
    parts.push(`${kind}${min.inclusive ? '>=' : '>'} ${min.value}`);
  } else if (max && !huge(max.value)) {
    parts.push(`${kind}${max.inclusive ? '<=' : '<'} ${max.value}`);
  }
  return parts.join(', ');
}

/**
 * Help text of a flag that sets a plugin option: the text, then what the schema says.
 * @param text - what the flag does
 * @param schema - the plugin's `optionsSchema`
 * @param key - the option the flag sets
 * @param options - `withDefault: false` when the command has a default of its own
 * @returns e.g. `SGD momentum (default 0.9, in [0, 1])`
 */
export function optionHelp(text: string, schema: unknown, key: string, options: { withDefault?: boolean } = {}): string {
  const facts = describeFacts(optionFacts(schema, key), options);
  return facts === '' ? text : `${text} (${facts})`;
}
