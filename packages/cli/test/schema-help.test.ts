import { trainOptionsSchema } from '@unlearnjs/core';
import { loraOptionsSchema } from '@unlearnjs/lora';
import { impOptionsSchema, ompOptionsSchema } from '@unlearnjs/pruning-imp';
import { describe, expect, it } from 'vitest';
import { describeFacts, optionFacts, optionHelp, schemaKeys } from '../src/schema-help.js';

type Schema = { safeParse(v: unknown): { success: boolean; data?: unknown } };
// A value alone is judged by the issues it causes on its own key (train's schema also requires epochs and lr).
const accepts = (schema: Schema, key: string, value: unknown) => {
  const r = schema.safeParse({ epochs: 1, lr: 0.1, [key]: value }) as {
    success: boolean;
    error?: { issues: Array<{ path: PropertyKey[] }> };
  };
  const own = schema.safeParse({ [key]: value }) as typeof r;
  const issues = [...(r.error?.issues ?? []), ...(own.error?.issues ?? [])];
  return !issues.some((i) => i.path[0] === key);
};

describe('option facts read from a plugin schema (what --help shows)', () => {
  const schemas: Record<string, Schema> = {
    imp: impOptionsSchema,
    omp: ompOptionsSchema,
    lora: loraOptionsSchema,
    train: trainOptionsSchema,
  };
  const cases = [
    { plugin: 'imp', key: 'rate' },
    { plugin: 'imp', key: 'pruningTimes' },
    { plugin: 'imp', key: 'epochs' },
    { plugin: 'imp', key: 'lr' },
    { plugin: 'imp', key: 'momentum' },
    { plugin: 'omp', key: 'rate' },
    { plugin: 'lora', key: 'rank' },
    { plugin: 'train', key: 'weightDecay' },
  ];

  it.each(cases)('$plugin $key: the default is what the schema fills in, and the range is the one it enforces', ({ plugin, key }) => {
    const schema = schemas[plugin];
    const facts = optionFacts(schema, key);
    expect(facts).toBeDefined();
    // train's schema requires epochs and lr; the plugins' schemas fill everything in.
    const parsed = schema.safeParse({});
    const filled = ((parsed.success ? parsed : schema.safeParse({ epochs: 1, lr: 0.1 })).data ?? {}) as Record<string, unknown>;
    expect(Object.keys(filled).length).toBeGreaterThan(0);
    if (facts?.default !== undefined) expect(filled[key]).toEqual(facts.default);
    const { min, max } = facts ?? {};
    if (min) {
      expect(accepts(schema, key, min.value)).toBe(min.inclusive);
      expect(accepts(schema, key, min.value - 1e-9)).toBe(false);
    }
    if (max && max.value < Number.MAX_SAFE_INTEGER) {
      expect(accepts(schema, key, max.value)).toBe(max.inclusive);
      expect(accepts(schema, key, max.value + 1e-9)).toBe(false);
    }
    if (facts?.integer && min && max) expect(accepts(schema, key, Math.floor((min.value + max.value) / 2) + 0.5)).toBe(false);
  });

  it('describes a range and a default in a few words, and says nothing of an unknown option', () => {
    expect(describeFacts({ default: 0.9, min: { value: 0, inclusive: true }, max: { value: 1, inclusive: true } })).toBe(
      'default 0.9, in [0, 1]',
    );
    expect(describeFacts({ min: { value: 0, inclusive: false }, max: { value: 1, inclusive: false } })).toBe('in (0, 1)');
    expect(describeFacts({ integer: true, min: { value: 1, inclusive: true } })).toBe('an integer >= 1');
    expect(describeFacts({ default: 3, integer: true }, { withDefault: false })).toBe('');
    expect(optionFacts(impOptionsSchema, 'no-such-option')).toBeUndefined();
    expect(optionHelp('rounds', impOptionsSchema, 'no-such-option')).toBe('rounds');
    expect(schemaKeys(impOptionsSchema)?.has('rewindEpoch')).toBe(true);
  });
});
