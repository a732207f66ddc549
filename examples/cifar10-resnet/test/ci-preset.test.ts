import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
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
    for (const m of ['original', 'retrain', 'ft', 'ft+lora', 'ga', 'rl', 'l1-sparse', 'fisher', 'influence']) expect(methods).toContain(m);
    expect(results.rows.filter((r) => r.sparsity === 'dense').length).toBe(results.rows.filter((r) => r.sparsity !== 'dense').length);
    expect(results.model.sparsity).toBeCloseTo(0.95, 2);
    const html = readFileSync(join(dir, 'report', 'report.html'), 'utf8');
    for (const m of ['retrain', 'influence', 'fisher']) expect(html).toContain(m);
    expect(existsSync(join(dir, 'report', 'chart-ua.svg'))).toBe(true);
    expect(io.out).toMatch(/\| retrain \|/);

    // Second run: every stage is found on disk.
    const again = { out: '', err: '' };
    const t0 = performance.now();
    const code2 = await main(['run', '--arch', 'resnet18', '--preset', 'ci', '--save-dir', dir, '--backend', 'wasm'], {
      stdout: (s) => void (again.out += s),
      stderr: (s) => void (again.err += s),
    });
    expect(code2, again.err).toBe(0);
    expect(again.err).toMatch(/train: loaded/);
    expect(again.err).toMatch(/prune: loaded/);
    expect(again.err).toMatch(/dense-ft: done earlier/);
    expect(performance.now() - t0).toBeLessThan(60_000);
  }, 900_000);
});
