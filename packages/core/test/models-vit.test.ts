import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core's entry point registers no gradients (the union package @tensorflow/tfjs does).
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Model, Rng, createContainer, createModel, isUnlearnError } from '@unlearnjs/core';
// The model plugins are not re-exported from the package root yet; import them from source.
import {
  CIFAR10_MEAN,
  type VitOptions,
  normalizeCifar,
  patchify,
  registerCoreModels,
  vitDefinition,
  vitOptionsSchema,
} from '@unlearnjs/core';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TINY = { dim: 8, depth: 1, heads: 2, mlpDim: 16, patchSize: 8 } as const;

/** Parameter count worked out by hand. */
function expectedVitParams(o: VitOptions): number {
  const { patchSize: p, dim: d, depth, mlpDim: m, numClasses: c } = o;
  const tokens = (32 / p) ** 2 + 1;
  const patch = p * p * 3 * d + d;
  const cls = d;
  const pos = tokens * d;
  const block = 2 * d + 4 * (d * d + d) + 2 * d + (d * m + m) + (m * d + d);
  return patch + cls + pos + depth * block + 2 * d + d * c + c;
}

function build(options: Partial<VitOptions>, seed = 1): Model {
  const c = createContainer({ seed, use: [registerCoreModels] });
  return createModel(c, 'vit', options);
}

function images(n: number, seed: number): tf.Tensor4D {
  return tf.tensor4d(new Rng(seed).uniformArray(n * 32 * 32 * 3, 0, 1), [n, 32, 32, 3]);
}

const full = (o: Partial<VitOptions>): VitOptions => ({
  patchSize: 4,
  dim: 192,
  depth: 6,
  heads: 3,
  mlpDim: 384,
  numClasses: 10,
  dropout: 0,
  prunable: 'output-mlp',
  ...o,
});

describe('vit structure and options', () => {
  it('has the hand-derived parameter count', () => {
    const count = (o: VitOptions) => vitDefinition(o).params.reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
    expect(count(full({}))).toBe(expectedVitParams(full({})));
    expect(count(full({ patchSize: 2, dim: 64, depth: 2, heads: 4, mlpDim: 100, numClasses: 100 }))).toBe(
      expectedVitParams(full({ patchSize: 2, dim: 64, depth: 2, heads: 4, mlpDim: 100, numClasses: 100 })),
    );
    const m = build(TINY);
    expect(m.numParams()).toBe(expectedVitParams(full(TINY)));
    m.dispose();
  });

  it('defaults to patch 4, dim 192, depth 6, heads 3, MLP 384; names, prunable, classifier', () => {
    const def = vitDefinition(full({}));
    const shapes = new Map(def.params.map((p) => [p.name, p.shape]));
    expect(shapes.get('patchEmbed.kernel')).toEqual([48, 192]);
    expect(shapes.get('posEmbed')).toEqual([1, 65, 192]);
    expect(shapes.get('clsToken')).toEqual([1, 1, 192]);
    expect(shapes.get('blocks.5.attn.query.kernel')).toEqual([192, 192]);
    expect(shapes.get('blocks.0.mlp.fc1.kernel')).toEqual([192, 384]);
    expect(shapes.get('blocks.0.mlp.fc2.kernel')).toEqual([384, 192]);
    expect(shapes.get('head.kernel')).toEqual([192, 10]);
    expect(def.classifier).toEqual({ kernel: 'head.kernel', bias: 'head.bias' });
    expect(def.buffers).toHaveLength(0);
  });

  it("prunes the extension's set by default: attention output and MLP kernels, never query/key/value", () => {
    const defaults = vitOptionsSchema.parse({});
    expect(defaults.prunable).toBe('output-mlp');
    const def = vitDefinition(defaults);
    const perBlock = (i: number) => [`blocks.${i}.attn.out.kernel`, `blocks.${i}.mlp.fc1.kernel`, `blocks.${i}.mlp.fc2.kernel`];
    expect([...def.prunable].sort()).toEqual([0, 1, 2, 3, 4, 5].flatMap(perBlock).sort());
    expect(def.prunable.some((n) => /attn\.(query|key|value)/.test(n))).toBe(false);
  });

  it("with prunable 'qkv-output-mlp' also prunes query/key/value, and rejects an unknown set", () => {
    const def = vitDefinition(full({ prunable: 'qkv-output-mlp' }));
    expect(def.prunable).toHaveLength(6 * 6);
    for (const n of ['query', 'key', 'value', 'out']) expect(def.prunable).toContain(`blocks.2.attn.${n}.kernel`);
    expect(def.prunable.every((n) => n.startsWith('blocks.') && n.endsWith('.kernel'))).toBe(true);
    expect(vitOptionsSchema.safeParse({ prunable: 'qkv' }).success).toBe(false);
  });

  it('refuses a mask on a query kernel unless query/key/value are prunable', () => {
    for (const prunable of ['output-mlp', 'qkv-output-mlp'] as const) {
      const m = build({ ...TINY, prunable });
      const mask = tf.zeros(m.params.get('blocks.0.attn.query.kernel')?.shape ?? []);
      try {
        const set = () => m.setMasks(new Map([['blocks.0.attn.query.kernel', mask]]));
        if (prunable === 'output-mlp') expect(set).toThrow();
        else expect(set).not.toThrow();
      } finally {
        mask.dispose();
        m.dispose();
      }
    }
  });

  it('rejects dim not divisible by heads and a patch that does not divide 32, naming the field', () => {
    const c = createContainer({ seed: 0, use: [registerCoreModels] });
    for (const [bad, field] of [
      [{ dim: 10, heads: 3 }, 'dim'],
      [{ patchSize: 5 }, 'patchSize'],
      [{ dropout: 1 }, 'dropout'],
      [{ depth: 0 }, 'depth'],
    ] as const) {
      let err: unknown;
      try {
        createModel(c, 'vit', bad);
      } catch (e) {
        err = e;
      }
      expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
      expect((err as Error).message).toContain(`${field}:`);
    }
  });

  it('patchify flattens each patch in (row, column, channel) order, patches row-major', () => {
    const n = 2;
    const h = 8;
    const w = 4;
    const c = 3;
    const p = 2;
    const data = Float32Array.from({ length: n * h * w * c }, (_, i) => i);
    const x = tf.tensor4d(data, [n, h, w, c]);
    const y = patchify(x, p);
    expect(y.shape).toEqual([n, (h / p) * (w / p), p * p * c]);
    const v = y.arraySync();
    for (let b = 0; b < n; b++)
      for (let gi = 0; gi < h / p; gi++)
        for (let gj = 0; gj < w / p; gj++)
          for (let a = 0; a < p; a++)
            for (let bb = 0; bb < p; bb++)
              for (let ch = 0; ch < c; ch++) {
                const src = ((b * h + gi * p + a) * w + gj * p + bb) * c + ch;
                expect(v[b][gi * (w / p) + gj][(a * p + bb) * c + ch]).toBe(data[src]);
              }
    tf.dispose([x, y]);
  });
});

/** A straightforward depth-1 forward (per-head column slices, stock ops) to compare against. */
function referenceForward(m: Model, x: tf.Tensor4D, o: VitOptions): tf.Tensor2D {
  return tf.tidy(() => {
    const w = (n: string) => m.params.get(n) as tf.Variable;
    const n = x.shape[0];
    const d = o.dim;
    const dh = d / o.heads;
    const ln = (t: tf.Tensor, g: string) => {
      const { mean, variance } = tf.moments(t, -1, true);
      return tf.add(tf.mul(tf.div(tf.sub(t, mean), tf.sqrt(tf.add(variance, 1e-5))), w(`${g}.gamma`)), w(`${g}.beta`));
    };
    const lin = (t: tf.Tensor, g: string) => tf.add(tf.matMul(t, w(`${g}.kernel`)), w(`${g}.bias`));
    // Patches through a stride-p conv with the embedding reshaped to HWIO: the same linear map.
    const kernel = tf.reshape(w('patchEmbed.kernel'), [o.patchSize, o.patchSize, 3, d]) as tf.Tensor4D;
    const conv = tf.conv2d(normalizeCifar(x), kernel, o.patchSize, 'valid');
    const tokens = tf.add(tf.reshape(conv, [n, -1, d]), w('patchEmbed.bias'));
    let t = tf.add(tf.concat([tf.tile(w('clsToken'), [n, 1, 1]), tokens], 1), w('posEmbed'));
    const s = t.shape[1] as number;
    const rows: tf.Tensor[] = [];
    for (let b = 0; b < n; b++) {
      const tb = tf.reshape(tf.slice(t, [b, 0, 0], [1, s, d]), [s, d]);
      const y = ln(tb, 'blocks.0.norm1');
      const q = lin(y, 'blocks.0.attn.query');
      const k = lin(y, 'blocks.0.attn.key');
      const v = lin(y, 'blocks.0.attn.value');
      const heads: tf.Tensor[] = [];
      for (let h = 0; h < o.heads; h++) {
        const cols = (z: tf.Tensor) => tf.slice(z, [0, h * dh], [s, dh]) as tf.Tensor2D;
        const a = tf.softmax(tf.div(tf.matMul(cols(q), cols(k), false, true), Math.sqrt(dh)));
        heads.push(tf.matMul(a, cols(v)));
      }
      const r1 = tf.add(tb, lin(tf.concat(heads, 1), 'blocks.0.attn.out'));
      const z = ln(r1, 'blocks.0.norm2');
      const hid = lin(z, 'blocks.0.mlp.fc1');
      const gelu = tf.mul(tf.mul(hid, 0.5), tf.add(tf.erf(tf.div(hid, Math.SQRT2)), 1));
      const r2 = tf.add(r1, lin(gelu, 'blocks.0.mlp.fc2'));
      rows.push(tf.slice(ln(r2, 'norm'), [0, 0], [1, d]));
    }
    t = tf.concat(rows, 0);
    return lin(t, 'head') as tf.Tensor2D;
  });
}

describe('vit forward', () => {
  it('equals a straightforward per-head implementation, gives [n, classes] and leaks nothing', () => {
    const o = full({ ...TINY, heads: 4, numClasses: 5 });
    const before0 = tf.memory().numTensors;
    const m = build(o, 3);
    const x = images(2, 4);
    const before = tf.memory().numTensors;
    const y = tf.tidy(() => m.forward(x));
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(y.shape).toEqual([2, 5]);
    const r = referenceForward(m, x, o);
    const yv = y.dataSync();
    const rv = r.dataSync();
    for (let i = 0; i < yv.length; i++) expect(yv[i]).toBeCloseTo(rv[i], 4);
    tf.dispose([x, y, r]);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before0);
  });

  it('same seed, same weights and outputs; another seed, different ones', () => {
    const [a, b, c] = [1, 1, 2].map((s) => build(TINY, s));
    for (const [n, v] of a.params) expect(Array.from(v.dataSync())).toEqual(Array.from((b.params.get(n) as tf.Variable).dataSync()));
    const x = images(2, 5);
    const [ya, yb, yc] = [a, b, c].map((m) => tf.tidy(() => m.forward(x)));
    expect(Array.from(ya.dataSync())).toEqual(Array.from(yb.dataSync()));
    expect(Array.from(ya.dataSync())).not.toEqual(Array.from(yc.dataSync()));
    tf.dispose([x, ya, yb, yc]);
    for (const m of [a, b, c]) m.dispose();
  });

  it('normalises inside: for an image equal to the channel mean the patch kernel does not matter', () => {
    const m = build(TINY);
    const x = tf.tidy(() => tf.mul(tf.ones([2, 32, 32, 3]), tf.tensor1d([...CIFAR10_MEAN])) as tf.Tensor4D);
    const y1 = tf.tidy(() => m.forward(x));
    const k = m.params.get('patchEmbed.kernel') as tf.Variable;
    tf.tidy(() => k.assign(tf.mul(k, -3)));
    const y2 = tf.tidy(() => m.forward(x));
    const x2 = images(2, 6);
    const z1 = tf.tidy(() => m.forward(x2));
    tf.tidy(() => k.assign(tf.div(k, -3)));
    const z2 = tf.tidy(() => m.forward(x2));
    const a = y1.dataSync();
    const b = y2.dataSync();
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i], 5);
    // ...while for another image it does.
    expect(Array.from(z1.dataSync())).not.toEqual(Array.from(z2.dataSync()));
    tf.dispose([x, x2, y1, y2, z1, z2]);
    m.dispose();
  });

  it('dropout: reproducible from the Rng, off in eval mode and at rate 0, and needs an Rng', () => {
    const m = build({ ...TINY, dropout: 0.3 });
    const x = images(2, 7);
    const run = (opts: { training?: boolean; rng?: Rng }) => tf.tidy(() => Array.from(m.forward(x, opts).dataSync()));
    expect(run({ training: true, rng: new Rng(1) })).toEqual(run({ training: true, rng: new Rng(1) }));
    expect(run({ training: true, rng: new Rng(1) })).not.toEqual(run({ training: true, rng: new Rng(2) }));
    expect(run({ training: true, rng: new Rng(1) })).not.toEqual(run({}));
    let err: unknown;
    const before = tf.memory().numTensors;
    try {
      run({ training: true });
    } catch (e) {
      err = e;
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(isUnlearnError(err, 'UNLEARN_INVALID_OPTIONS')).toBe(true);
    const plain = build(TINY);
    const a = tf.tidy(() => Array.from(plain.forward(x, { training: true }).dataSync()));
    const b = tf.tidy(() => Array.from(plain.forward(x).dataSync()));
    expect(a).toEqual(b);
    x.dispose();
    m.dispose();
    plain.dispose();
  });

  it('with masks set, computes the same as a model whose weights were zeroed by hand', () => {
    const a = build({ ...TINY, prunable: 'qkv-output-mlp' }, 3);
    const b = build({ ...TINY, prunable: 'qkv-output-mlp' }, 3);
    const rng = new Rng(10);
    const masks = new Map<string, tf.Tensor>();
    for (const n of ['blocks.0.attn.query.kernel', 'blocks.0.attn.out.kernel', 'blocks.0.mlp.fc2.kernel']) {
      const p = a.params.get(n) as tf.Variable;
      masks.set(
        n,
        tf.tensor(
          rng.uniformArray(p.size, 0, 1).map((v) => (v < 0.5 ? 0 : 1)),
          p.shape,
        ),
      );
    }
    a.setMasks(masks);
    for (const [n, mk] of masks) {
      const p = b.params.get(n) as tf.Variable;
      const mv = mk.dataSync();
      tf.tidy(() =>
        p.assign(
          tf.tensor(
            p.dataSync().map((v, i) => (mv[i] === 0 ? 0 : v)),
            p.shape,
          ),
        ),
      );
    }
    const x = images(2, 4);
    const ya = tf.tidy(() => a.forward(x));
    const yb = tf.tidy(() => b.forward(x));
    const av = ya.dataSync();
    const bv = yb.dataSync();
    for (let i = 0; i < av.length; i++) expect(av[i]).toBeCloseTo(bv[i], 5);
    tf.dispose([x, ya, yb, ...masks.values()]);
    a.dispose();
    b.dispose();
  });

  it('gradients match central differences (cpu float32, step 5e-3, relative tolerance 2e-2 + 1e-4 absolute)', () => {
    const m = build(TINY, 2);
    // At init (std 0.02) attention is almost uniform and the q/k derivatives are ~1e-4, which
    // any tolerance would pass: redraw the weights at std 0.5 so every checked derivative is
    // far from zero and the attention is sharp.
    const redraw = new Rng(31);
    for (const [n, v] of m.params)
      if (!n.endsWith('gamma')) tf.tidy(() => v.assign(tf.tensor(redraw.normalArray(v.size, 0, 0.5), v.shape)));
    const x = images(2, 9);
    const probe = tf.tensor2d(new Rng(77).normalArray(20), [2, 10]);
    const loss = () => tf.sum(tf.mul(m.forward(x), probe)) as tf.Scalar;
    const names = [
      'patchEmbed.kernel',
      'clsToken',
      'posEmbed',
      'blocks.0.attn.query.kernel',
      'blocks.0.attn.key.kernel',
      'blocks.0.attn.value.bias',
      'blocks.0.norm2.gamma',
      'blocks.0.mlp.fc1.kernel',
      'norm.beta',
      'head.kernel',
    ];
    const vars = names.map((n) => m.params.get(n) as tf.Variable);
    const { value, grads } = tf.variableGrads(loss, vars);
    value.dispose();
    const rng = new Rng(5);
    const eps = 5e-3;
    for (const [i, v] of vars.entries()) {
      const raw = rng.normalArray(v.size);
      const norm = Math.sqrt(raw.reduce((s, d) => s + d * d, 0));
      const dir = tf.tensor(
        raw.map((d) => d / norm),
        v.shape,
      );
      const analytic = tf.tidy(() => tf.sum(tf.mul(grads[v.name], dir)).dataSync()[0]);
      const orig = tf.clone(v);
      const at = (s: number) => {
        tf.tidy(() => v.assign(tf.add(orig, tf.mul(dir, s))));
        return tf.tidy(() => loss().dataSync()[0]);
      };
      const numeric = (at(eps) - at(-eps)) / (2 * eps);
      v.assign(orig);
      tf.dispose([orig, dir]);
      const scale = Math.max(Math.abs(analytic), Math.abs(numeric));
      expect(Math.abs(analytic - numeric), `${names[i]}: analytic ${analytic}, numeric ${numeric}`).toBeLessThanOrEqual(
        2e-2 * scale + 1e-4,
      );
    }
    tf.dispose([x, probe, ...Object.values(grads)]);
    m.dispose();
  });
});
