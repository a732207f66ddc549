import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '@unlearnjs/cli';
import { defaultCifar10Dir } from '@unlearnjs/core';
import { validateResults } from '@unlearnjs/eval-mia';
import { describe, expect, it } from 'vitest';

const hasData = existsSync(join(defaultCifar10Dir(), 'data_batch_1.bin'));

// The `ci` preset runs every stage (train, OMP 95%, every unlearner on the dense and the sparse
// model, FT with LoRA, evaluation, report) on a tiny ResNet-18, then a re-run resumes.
describe.runIf(hasData)('examples/cifar10-resnet, ci preset', () => {
  it('runs the whole pipeline, writes the report, and resumes instead of recomputing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearn-example-'));
    const io = { out: '', err: '' };
    const sink = { stdout: (s: string) => void (io.out += s), stderr: (s: string) => void (io.err += s) };
    const code = await main(['run', '--arch', 'resnet18', '--preset', 'ci', '--save-dir', dir, '--backend', 'wasm', '--quiet'], sink);
    expect(code, io.err).toBe(0);
    expect(io.err).toMatch(/backend: wasm/);

    const results = validateResults(readFileSync(join(dir, 'report', 'results.json'), 'utf8'));
    const methods = new Set(results.rows.map((r) => `${r.method}${r.lora ? '+lora' : ''}`));
    for (const m of ['original', 'retrain', 'ft', 'ft+lora', 'ga', 'rl', 'l1-sparse', 'fisher', 'influence', 'salun', 'scrub'])
      expect(methods).toContain(m);
    expect(results.rows.filter((r) => r.sparsity === 'dense').length).toBe(results.rows.filter((r) => r.sparsity !== 'dense').length);
    expect(results.model.sparsity).toBeCloseTo(0.95, 2);
    const html = readFileSync(join(dir, 'report', 'report.html'), 'utf8');
    for (const m of ['retrain', 'influence', 'fisher']) expect(html).toContain(m);
    expect(existsSync(join(dir, 'report', 'chart-ua.svg'))).toBe(true);
    expect(io.out).toMatch(/\| retrain \|/);

    // A class-wise forget set: the held-out set of TA and the MIA is the test set without class 0.
    expect(results.forget?.heldOut).toMatch(/^the test set without class 0/);

    // What a crash or a careless edit leaves: a truncated row, an empty row, a row holding a
    // NaN, and a killed writer's temporary file. None may be taken as a finished row.
    const first = JSON.parse(readFileSync(join(dir, 'rows', 'dense-ga.json'), 'utf8'));
    writeFileSync(join(dir, 'rows', 'dense-ga.json'), readFileSync(join(dir, 'rows', 'dense-ga.json'), 'utf8').slice(0, 40));
    writeFileSync(join(dir, 'rows', 'sparse-ft.json'), '');
    writeFileSync(
      join(dir, 'rows', 'dense-rl.json'),
      readFileSync(join(dir, 'rows', 'dense-rl.json'), 'utf8').replace(/"UA": [^,]*/, '"UA": NaN'),
    );
    const stale = join(dir, 'models', 'dense.ckpt.999999999.tmp');
    writeFileSync(stale, 'partial');

    // Second run: every stage is found on disk; the unusable rows are computed again.
    const again = { out: '', err: '' };
    const t0 = performance.now();
    // --jobs 1: row workers write to the real stderr, and this run's messages are checked below.
    const code2 = await main(['run', '--arch', 'resnet18', '--preset', 'ci', '--save-dir', dir, '--backend', 'wasm', '--jobs', '1'], {
      stdout: (s) => void (again.out += s),
      stderr: (s) => void (again.err += s),
    });
    expect(code2, again.err).toBe(0);
    expect(again.err).toMatch(/train: found/);
    expect(again.err).toMatch(/prune: loaded .* \(sparsity 95\.0%, from its masks\)/);
    expect(again.err).toMatch(/dense-ft: done earlier/);
    for (const row of ['dense-ga', 'sparse-ft', 'dense-rl'])
      expect(again.err).toMatch(new RegExp(`${row}: .* cannot be used \\(.*\\); computing the row again`));
    expect(existsSync(stale)).toBe(false);
    const resumed = validateResults(readFileSync(join(dir, 'report', 'results.json'), 'utf8'));
    expect(resumed.rows.length).toBe(results.rows.length);
    // Same seed, same row: the recomputed GA row has the metrics of the first run.
    const ga = JSON.parse(readFileSync(join(dir, 'rows', 'dense-ga.json'), 'utf8'));
    for (const m of ['UA', 'RA', 'TA', 'MIA-efficacy']) expect(ga.metrics[m]).toBe(first.metrics[m]);
    expect(performance.now() - t0).toBeLessThan(120_000);
  }, 900_000);
});
