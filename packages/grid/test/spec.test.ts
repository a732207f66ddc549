import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isUnlearnError } from '@unlearnjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cellArtifactKey, scenarioLabel, sparsityLabel } from '../src/spec/cell-ids.js';
import { countGrid, describeGrid, expandGrid, rowCellLabel } from '../src/spec/expand-grid.js';
import { type GridSpec, parseGridSpec } from '../src/spec/grid-spec.js';
import { gridSpecFromFlags } from '../src/spec/grid-spec-from-flags.js';
import { GRID_SPEC_MAX_BYTES, readGridSpecFile } from '../src/spec/read-grid-spec-file.js';

const BASE = { seeds: [1], scenarios: ['class:0'], methods: ['ft'] };

/** The UnlearnError `fn` throws (synchronously or not), failing the test when it throws none or another kind. */
async function errorOf(fn: () => unknown): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  try {
    await fn();
  } catch (err) {
    if (!isUnlearnError(err)) throw err;
    return err as unknown as { code: string; message: string; details: Record<string, unknown> };
  }
  throw new Error('expected an UnlearnError, none was thrown');
}

describe('parseGridSpec', () => {
  it('fills in the defaults', () => {
    const spec = parseGridSpec(
      { seeds: [1, 2], scenarios: [{ class: 0 }] },
      { defaults: { methods: [{ method: 'retrain' }, { method: 'ft', lora: true }] } },
    );
    expect(spec).toEqual({
      name: 'grid',
      preset: 'quick',
      models: ['resnet18'],
      seeds: [1, 2],
      scenarios: [{ class: 0 }],
      sparsities: [0, 0.95],
      methods: [
        { method: 'retrain', label: 'retrain' },
        { method: 'ft', lora: true, label: 'ft+lora' },
      ],
    });
  });

  it('prefers the spec methods over the default ones', () => {
    const spec = parseGridSpec({ ...BASE, methods: ['ga'] }, { defaults: { methods: [{ method: 'ft' }] } });
    expect(spec.methods).toEqual([{ method: 'ga', label: 'ga' }]);
  });

  it('expands the scenario and method shorthands', () => {
    const spec = parseGridSpec({ ...BASE, scenarios: ['class:0', 'class:3:100', 'random:450'], methods: ['ft', 'ft+lora', 'l1-sparse'] });
    expect(spec.scenarios).toEqual([{ class: 0 }, { class: 3, count: 100 }, { random: 450 }]);
    expect(spec.methods).toEqual([
      { method: 'ft', label: 'ft' },
      { method: 'ft', lora: true, label: 'ft+lora' },
      { method: 'l1-sparse', label: 'l1-sparse' },
    ]);
  });

  it('keeps method options and a given label', () => {
    const spec = parseGridSpec({
      ...BASE,
      methods: [
        { method: 'ga', options: { lr: 1e-4 }, label: 'ga-slow' },
        { method: 'ga', options: { lr: 1e-3 } },
      ],
    });
    expect(spec.methods).toEqual([
      { method: 'ga', options: { lr: 1e-4 }, label: 'ga-slow' },
      { method: 'ga', options: { lr: 1e-3 }, label: 'ga' },
    ]);
  });

  it('accepts its own output (a resolved spec is a valid spec)', () => {
    const spec = parseGridSpec({ ...BASE, data: { trainLimit: 500 }, methods: ['retrain', 'ft+lora'] });
    expect(parseGridSpec(JSON.parse(JSON.stringify(spec)))).toEqual(spec);
  });

  it.each([
    [{ ...BASE, seeds: [1, 2, 1.5] }, 'seeds[2]', 'must be an integer'],
    [{ ...BASE, seeds: [1, -2] }, 'seeds[1]', '≥ 0'],
    [{ ...BASE, seeds: [] }, 'seeds', 'at least one seed'],
    [{ ...BASE, seeds: [3, 4, 3] }, 'seeds[2]', 'duplicates seeds[0]'],
    [{ scenarios: ['class:0'], methods: ['ft'] }, 'seeds', 'required'],
    [{ ...BASE, scenarios: [{ class: -1 }] }, 'scenarios[0].class', '≥ 0'],
    [{ ...BASE, scenarios: [{ class: 0, count: 0 }] }, 'scenarios[0].count', '≥ 1'],
    [{ ...BASE, scenarios: [{ random: 0 }] }, 'scenarios[0].random', '≥ 1'],
    [{ ...BASE, scenarios: [{ class: 0 }, 'class:0'] }, 'scenarios[1]', 'duplicates scenarios[0]'],
    [{ ...BASE, scenarios: ['class:0', 'clas:1'] }, 'scenarios[1]', '"clas:1"'],
    [{ ...BASE, scenarios: ['class:0:0'] }, 'scenarios[0]', 'count'],
    [{ ...BASE, scenarios: [7] }, 'scenarios[0]', 'must be'],
    [{ ...BASE, scenarios: [{ klass: 0 }] }, 'scenarios[0].class', 'is required'],
    [{ ...BASE, scenarios: [{ class: 0, klass: 0 }] }, 'scenarios[0]', 'unknown key "klass" (allowed: class, count)'],
    [{ ...BASE, sparsities: [0, 1] }, 'sparsities[1]', '[0, 1)'],
    [{ ...BASE, sparsities: [-0.1] }, 'sparsities[0]', '[0, 1)'],
    [{ ...BASE, sparsities: [0.95, 0.95] }, 'sparsities[1]', 'duplicates sparsities[0]'],
    [{ ...BASE, sparsities: [0.95, 0.9500000001] }, 'sparsities[1]', 'p0.95'],
    [{ ...BASE, sparsities: [0.99999999] }, 'sparsities[0]', 'rounds to 1'],
    [{ ...BASE, models: [] }, 'models', 'at least one model'],
    [{ ...BASE, models: ['ResNet18'] }, 'models[0]', 'lowercase'],
    [{ ...BASE, models: ['resnet18', 'resnet18'] }, 'models[1]', 'duplicates models[0]'],
    [{ ...BASE, name: 'my grid' }, 'name', 'lowercase'],
    [{ ...BASE, name: '../x' }, 'name', 'lowercase'],
    [{ ...BASE, preset: '' }, 'preset', 'empty'],
    [{ ...BASE, methods: [] }, 'methods', 'at least one method'],
    [{ ...BASE, methods: ['ft lora'] }, 'methods[0]', 'method id'],
    [{ ...BASE, methods: ['original'] }, 'methods[0].method', 'added to every scenario'],
    [{ ...BASE, methods: [{ method: 'ft', lora: 'yes' }] }, 'methods[0].lora', 'true or false'],
    [{ ...BASE, methods: [{ method: 'ft', label: 'a/b' }] }, 'methods[0].label', 'lowercase'],
    [{ ...BASE, methods: [{ method: 'ft', option: {} }] }, 'methods[0]', '"option"'],
    [{ ...BASE, data: { trainLimit: 0 } }, 'data.trainLimit', '≥ 1'],
    [{ ...BASE, data: { trainlimit: 10 } }, 'data', '"trainlimit"'],
    [{ ...BASE, seed: [1] }, 'grid spec', 'unknown key "seed"'],
    [[1, 2], 'grid spec', 'must be an object'],
  ])('names the key of a wrong spec %#', async (raw, key, text) => {
    const err = await errorOf(() => parseGridSpec(raw, { source: 'grid.yaml' }));
    expect(err.code).toBe('UNLEARN_INVALID_OPTIONS');
    expect(err.message).toContain(`${key}: `);
    expect(err.message).toContain(text);
    expect(err.message).toContain('grid.yaml');
    expect(err.details).toMatchObject({ key, source: 'grid.yaml' });
  });

  it('lists the allowed keys with an unknown one', async () => {
    const err = await errorOf(() => parseGridSpec({ ...BASE, sparsity: [0] }));
    expect(err.message).toMatch(/unknown key "sparsity" \(allowed: .*sparsities/);
  });

  it('names methods when neither the spec nor the defaults give any', async () => {
    const err = await errorOf(() => parseGridSpec({ seeds: [1], scenarios: ['class:0'] }));
    expect(err.details.key).toBe('methods');
    expect(err.message).toContain('methods: is required');
  });

  it('names both indices of two methods with the same label', async () => {
    const err = await errorOf(() =>
      parseGridSpec({ ...BASE, methods: ['retrain', { method: 'ga', options: { lr: 1 } }, 'ft', { method: 'ga' }] }),
    );
    expect(err.details.key).toBe('methods[3]');
    expect(err.message).toContain('methods[3]: has the same label "ga" as methods[1]');
    expect(err.message).toContain('"ga"');
  });

  it('tells ft from ft+lora by label', () => {
    expect(parseGridSpec({ ...BASE, methods: ['ft', { method: 'ft', lora: true }] }).methods.map((m) => m.label)).toEqual([
      'ft',
      'ft+lora',
    ]);
  });

  it('reports every wrong key, not only the first', async () => {
    const err = await errorOf(() => parseGridSpec({ seeds: ['a'], scenarios: ['x'], methods: ['ft'] }));
    expect(err.message).toContain('seeds[0]');
    expect(err.message).toContain('scenarios[0]');
    expect((err.details.issues as unknown[]).length).toBe(2);
  });
});

describe('gridSpecFromFlags', () => {
  it('turns comma-separated flags into a spec', () => {
    const raw = gridSpecFromFlags({
      name: 'g1',
      models: 'resnet18',
      seeds: '1, 2,3',
      scenarios: 'class:0,random:300',
      sparsities: '0,0.95',
      methods: 'retrain,ft,ft+lora',
      trainLimit: '500',
      testLimit: 100,
    });
    const spec = parseGridSpec(raw);
    expect(spec).toMatchObject({
      name: 'g1',
      seeds: [1, 2, 3],
      scenarios: [{ class: 0 }, { random: 300 }],
      sparsities: [0, 0.95],
      data: { trainLimit: 500, testLimit: 100 },
    });
    expect(spec.methods.map((m) => m.label)).toEqual(['retrain', 'ft', 'ft+lora']);
  });

  it('leaves out flags not given, so the defaults apply', () => {
    expect(gridSpecFromFlags({ seeds: '1' })).toEqual({ seeds: [1] });
  });

  it.each([
    [{ seeds: '1,x' }, '--seeds'],
    [{ seeds: '1,,2' }, '--seeds'],
    [{ seeds: '-1' }, '--seeds'],
    [{ sparsities: '0,abc' }, '--sparsities'],
    [{ trainLimit: 'ten' }, '--train-limit'],
    [{ methods: 'ft,' }, '--methods'],
  ])('names the flag of a malformed value %#', async (flags, flag) => {
    const err = await errorOf(() => gridSpecFromFlags(flags));
    expect(err.code).toBe('UNLEARN_INVALID_OPTIONS');
    expect(err.message.startsWith(`${flag}: `)).toBe(true);
    expect(err.details.key).toBe(flag);
  });

  it.each([
    [{ seeds: '1,2,1', scenarios: 'class:0', methods: 'ft' }, '--seeds, value 3'],
    [{ seeds: '1', scenarios: 'class:0,kind:2', methods: 'ft' }, '--scenarios, value 2'],
    [{ seeds: '1', scenarios: 'class:0', sparsities: '0,1.5', methods: 'ft' }, '--sparsities, value 2'],
    [{ seeds: '1', scenarios: 'class:0', methods: 'ft,ft' }, '--methods, value 2'],
    [{ seeds: '1', scenarios: 'class:0', methods: 'ft', trainLimit: '0' }, '--train-limit'],
    [{ seeds: '1', scenarios: 'class:0', methods: 'ft', name: 'A' }, '--name'],
  ])('names the flag of a rule broken %#', async (flags, flag) => {
    const err = await errorOf(() => parseGridSpec(gridSpecFromFlags(flags), { source: 'the command line', keyStyle: 'flag' }));
    expect(err.message).toContain(`${flag}: `);
    expect(err.message).not.toMatch(/\b(seeds|scenarios|sparsities|methods)\[/);
    expect(err.details.key).toBe(flag);
  });
});

describe('readGridSpecFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'unlearnjs-grid-spec-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const write = async (name: string, text: string) => {
    const file = path.join(dir, name);
    await writeFile(file, text);
    return file;
  };
  const expected = {
    name: 'paper',
    seeds: [1, 2, 3],
    scenarios: [{ class: 0 }, { random: 450 }],
    sparsities: [0, 0.95],
    methods: [
      { method: 'retrain', label: 'retrain' },
      { method: 'ft', lora: true, label: 'ft+lora' },
    ],
  };

  it('reads YAML (.yaml and .yml)', async () => {
    const text =
      'name: paper\nseeds: [1, 2, 3]\nscenarios:\n  - class:0\n  - random: 450\nmethods:\n  - retrain\n  - method: ft\n    lora: true\n';
    expect(await readGridSpecFile(await write('g.yaml', text))).toMatchObject(expected);
    expect(await readGridSpecFile(await write('g.yml', text))).toMatchObject(expected);
  });

  it('reads JSON', async () => {
    const text = JSON.stringify({ name: 'paper', seeds: [1, 2, 3], scenarios: ['class:0', 'random:450'], methods: ['retrain', 'ft+lora'] });
    expect(await readGridSpecFile(await write('g.json', text))).toMatchObject(expected);
  });

  it('uses the default methods', async () => {
    const spec = await readGridSpecFile(await write('d.yaml', 'seeds: [1]\nscenarios: [class:0]\n'), {
      defaults: { methods: [{ method: 'ga' }] },
    });
    expect(spec.methods).toEqual([{ method: 'ga', label: 'ga' }]);
  });

  it('names the file and the key of a wrong spec', async () => {
    const file = await write('bad.yaml', 'seeds: [1, 2.5]\nscenarios: [class:0]\nmethods: [ft]\n');
    const err = await errorOf(() => readGridSpecFile(file));
    expect(err.code).toBe('UNLEARN_INVALID_OPTIONS');
    expect(err.message).toContain(file);
    expect(err.message).toContain('seeds[1]: must be an integer');
    expect(err.details).toMatchObject({ key: 'seeds[1]', source: file });
  });

  it('names the file and line of a YAML syntax error', async () => {
    const file = await write('syntax.yaml', 'seeds: [1, 2]\nscenarios: [class:0\nmethods: [ft]\n');
    const err = await errorOf(() => readGridSpecFile(file));
    expect(err.code).toBe('UNLEARN_INVALID_OPTIONS');
    expect(err.message).toContain(file);
    expect(err.message).toMatch(/line \d+/);
    expect(err.details.line).toEqual(expect.any(Number));
  });

  it('names the file and line of a JSON syntax error', async () => {
    const file = await write('syntax.json', '{\n  "seeds": [1, 2],\n}\n');
    const err = await errorOf(() => readGridSpecFile(file));
    expect(err.message).toContain(file);
    expect(err.message).toContain('line 3');
    expect(err.details.line).toBe(3);
  });

  it('names the file of a JSON syntax error the parser gives no position for', async () => {
    const file = await write('token.json', '{\n  "seeds": [1, 2],\n  "scenarios": ["class:0",]\n}\n');
    const err = await errorOf(() => readGridSpecFile(file));
    expect(err.code).toBe('UNLEARN_INVALID_OPTIONS');
    expect(err.message).toContain(`${file} is not valid JSON`);
  });

  it('names a missing file', async () => {
    const file = path.join(dir, 'none.yaml');
    const err = await errorOf(() => readGridSpecFile(file));
    expect(err.code).toBe('UNLEARN_INVALID_OPTIONS');
    expect(err.message).toContain(file);
  });

  it('refuses another extension', async () => {
    const file = await write('g.toml', 'seeds = [1]\n');
    const err = await errorOf(() => readGridSpecFile(file));
    expect(err.message).toContain('.toml');
  });

  it('refuses a file over 1 MiB without parsing it', async () => {
    const file = await write('big.json', `{"seeds": [1]${' '.repeat(GRID_SPEC_MAX_BYTES)}}`);
    const err = await errorOf(() => readGridSpecFile(file));
    expect(err.message).toContain('at most');
    expect(err.message).toContain(file);
  });
});

describe('expandGrid', () => {
  const spec: GridSpec = parseGridSpec({
    models: ['resnet18', 'vit'],
    seeds: [1, 2, 3],
    scenarios: ['class:0', 'random:450'],
    sparsities: [0, 0.95],
    methods: ['retrain', 'ft', 'ft+lora'],
  });
  const cells = expandGrid(spec);

  it('shares work: one dense model per (model, seed), one pruned model per sparsity', () => {
    const count = (k: string) => cells.filter((c) => c.kind === k).length;
    expect(count('dense')).toBe(2 * 3);
    expect(count('prune')).toBe(2 * 3 * 1);
    expect(count('row')).toBe(2 * 3 * 2 * 2 * (3 + 1));
    expect(countGrid(spec)).toEqual({ dense: 6, prune: 6, rows: 96, total: 108 });
    expect(describeGrid(spec)).toContain('6 dense, 6 prune, 96 rows');
  });

  it('lists cells in dependency order', () => {
    const seen = new Set<string>();
    for (const c of cells) {
      for (const need of c.needs) expect(seen.has(need), `${c.id} needs ${need}`).toBe(true);
      seen.add(c.id);
    }
  });

  it('gives unique, stable, path-safe ids', () => {
    const ids = cells.map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(expandGrid(parseGridSpec(JSON.parse(JSON.stringify(spec)))).map((c) => c.id)).toEqual(ids);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9._+-]+(\/[a-z0-9._+-]+)*$/);
    expect(ids).toContain('dense/resnet18/s1');
    expect(ids).toContain('prune/resnet18/s1/p0.95');
    expect(ids).toContain('row/resnet18/s1/class0/p0.95/ft+lora');
    expect(ids).toContain('row/vit/s3/random450/dense/original');
  });

  it('makes each row start from its dense or pruned model, with one original row per group', () => {
    const rows = cells.filter((c) => c.kind === 'row');
    for (const r of rows) {
      expect(r.needs).toEqual([
        r.sparsity === 0 ? `dense/${r.model}/s${r.seed}` : `prune/${r.model}/s${r.seed}/${sparsityLabel(r.sparsity)}`,
      ]);
    }
    const originals = rows.filter((r) => r.method === 'original');
    expect(originals).toHaveLength(2 * 3 * 2 * 2);
    const lora = rows.find((r) => r.id === 'row/resnet18/s1/class0/p0.95/ft+lora');
    expect(lora).toMatchObject({ method: 'ft', lora: true, sparsity: 0.95, scenario: { class: 0 } });
    if (lora?.kind === 'row') expect(rowCellLabel(lora)).toBe('ft+lora');
  });

  it('names artifacts after their cell', () => {
    expect(cellArtifactKey(cells[0])).toBe('dense/resnet18/s1.ckpt');
    const prune = cells.find((c) => c.kind === 'prune');
    expect(prune && cellArtifactKey(prune)).toBe('prune/resnet18/s1/p0.95.ckpt');
    const row = cells.find((c) => c.kind === 'row');
    expect(row && cellArtifactKey(row)).toBe(`${row?.id}.json`);
  });
});

describe('labels', () => {
  it('labels scenarios', () => {
    expect(scenarioLabel({ class: 0 })).toBe('class0');
    expect(scenarioLabel({ class: 0, count: 100 })).toBe('class0-n100');
    expect(scenarioLabel({ random: 450 })).toBe('random450');
  });

  it('formats any sparsity stably', () => {
    expect(sparsityLabel(0)).toBe('dense');
    expect(sparsityLabel(0.95)).toBe('p0.95');
    expect(sparsityLabel(0.5)).toBe('p0.5');
    expect(sparsityLabel(0.999)).toBe('p0.999');
    expect(sparsityLabel(0.1 + 0.2)).toBe('p0.3');
    expect(sparsityLabel(1 - 0.05)).toBe('p0.95');
    expect(sparsityLabel(1e-7)).toMatch(/^p[0-9.e-]+$/);
  });
});
