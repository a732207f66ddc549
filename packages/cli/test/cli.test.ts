import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCifar10Dir } from '@unlearnjs/core';
import { describe, expect, it } from 'vitest';
import { main, normaliseFlags, resolveMethod } from '@unlearnjs/cli';

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (s) => void (out += s), stderr: (s) => void (err += s) });
  return { code, out, err };
}

const hasData = existsSync(join(defaultCifar10Dir(), 'data_batch_1.bin'));
const tiny = ['--train_limit', '300', '--test_limit', '100', '--backend', 'wasm', '--quiet', '--seed', '3'];

describe('reference flags', () => {
  it('rewrites --snake_case flags to --kebab-case and leaves values alone', () => {
    expect(normaliseFlags(['--save_dir', 'out_dir', '--unlearn_lr=0.01', 'FT_prune', '-x'])).toEqual([
      '--save-dir',
      'out_dir',
      '--unlearn-lr=0.01',
      'FT_prune',
      '-x',
    ]);
  });

  it('maps the reference --unlearn names to plugin ids and rejects unknown ones with the list', () => {
    const known = ['ft', 'ga', 'rl', 'fisher', 'influence', 'retrain', 'l1-sparse'];
    expect(resolveMethod('FT', known)).toBe('ft');
    expect(resolveMethod('wfisher', known)).toBe('influence');
    expect(resolveMethod('fisher_new', known)).toBe('fisher');
    expect(resolveMethod('FT_prune', known)).toBe('l1-sparse');
    expect(resolveMethod('ga', known)).toBe('ga');
    expect(() => resolveMethod('SCRUB', known)).toThrow(/Unknown unlearning method "SCRUB".*GA, FT/);
  });
});

describe('unlearn --help', () => {
  it('lists every command and explains the options of each', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    for (const c of ['run', 'prune', 'forget', 'eval', 'report']) expect(top.out).toMatch(new RegExp(`\\n\\s+${c}\\b`));
    const forget = await cli(['forget', '--help']);
    expect(forget.code).toBe(0);
    for (const f of [
      '--mask',
      '--unlearn',
      '--num-indexes-to-replace',
      '--class-to-replace',
      '--unlearn-lr',
      '--unlearn-epochs',
      '--alpha',
      '--lora',
      '--plugin',
      '--backend',
    ]) {
      expect(forget.out).toContain(f);
    }
    const prune = await cli(['prune', '--help']);
    for (const f of ['--prune-type', '--rewind-epoch', '--rate', '--pruning-times', '--save-dir']) expect(prune.out).toContain(f);
  });
});

describe('bad input gets one clear line and a non-zero exit', () => {
  it('an out-of-range value', async () => {
    const r = await cli(['prune', '--rate', '1.5']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--rate must be a number in \(0, 1\], got "1.5"/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('a missing checkpoint', async () => {
    const r = await cli(['forget', '--mask', '/nonexistent/1model_SA_best', '--unlearn', 'FT', ...tiny]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unlearn: error: No checkpoint at \/nonexistent\/1model_SA_best.*\[UNLEARN_CHECKPOINT_MISSING\]/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('a wrong data folder', async () => {
    const r = await cli(['prune', '--data', '/nonexistent-cifar', '--epochs', '1', '--width', '4', '--backend', 'cpu', '--quiet']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/\[UNLEARN_DATA_MISSING\]/);
    expect(r.err).toMatch(/CIFAR10_DIR|download/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('a --wasm-threads outside 1..8, and --help documents the flag on every command', async () => {
    const r = await cli(['prune', '--data', '/nonexistent-cifar', '--wasm-threads', '9', '--backend', 'cpu', '--quiet']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--wasm-threads must be an integer in \[1, 8\]/);
    for (const c of ['run', 'prune', 'forget', 'eval']) expect((await cli([c, '--help'])).out).toMatch(/--wasm-threads <n>/);
  });

  it('an unknown third-party plugin package', async () => {
    const r = await cli(['forget', '--mask', 'x', '--unlearn', 'FT', '--plugin', 'no-such-unlearner-package', ...tiny]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/Cannot load plugin package "no-such-unlearner-package".*\[UNLEARN_UNKNOWN_PLUGIN\]/);
  });
});

describe.runIf(hasData)('the reference commands as written (tiny sizes)', () => {
  it('prunes with IMP, then forgets from the round-1 checkpoint with FT and with an unknown method', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unlearn-cli-'));
    const prune = await cli([
      'prune',
      '--data',
      defaultCifar10Dir(),
      '--dataset',
      'cifar10',
      '--arch',
      'resnet18',
      '--prune_type',
      'rewind_lt',
      '--rewind_epoch',
      '1',
      '--save_dir',
      dir,
      '--rate',
      '0.2',
      '--pruning_times',
      '2',
      '--num_workers',
      '8',
      '--width',
      '4',
      '--epochs',
      '2',
      '--lr',
      '0.05',
      '--batch_size',
      '32',
      ...tiny,
    ]);
    expect(prune.err).toMatch(/note: --num-workers: .*ignored/);
    expect(prune.code).toBe(0);
    const rounds = JSON.parse(prune.out.trim()).rounds as Array<{ round: number; sparsity: number }>;
    expect(rounds.map((r) => r.round)).toEqual([0, 1]);
    expect(rounds[0].sparsity).toBe(0);
    expect(rounds[1].sparsity).toBeCloseTo(0.2, 3);
    expect(existsSync(join(dir, '1model_SA_best.ckpt'))).toBe(true);

    const forget = await cli([
      'forget',
      '--save_dir',
      dir,
      '--mask',
      join(dir, '1model_SA_best'),
      '--unlearn',
      'FT',
      '--num_indexes_to_replace',
      '30',
      '--unlearn_lr',
      '0.01',
      '--unlearn_epochs',
      '1',
      ...tiny,
    ]);
    expect(forget.code).toBe(0);
    const res = JSON.parse(forget.out.trim());
    expect(res.method).toBe('ft');
    for (const k of ['UA', 'RA', 'TA', 'MIA-efficacy']) {
      expect(res.metrics[k]).toBeGreaterThanOrEqual(0);
      expect(res.metrics[k]).toBeLessThanOrEqual(100);
    }
    expect(res.metrics.RTE).toBeGreaterThan(0);
    const saved = JSON.parse(readFileSync(join(dir, 'ft', 'metrics.json'), 'utf8'));
    expect(saved.metrics).toEqual(res.metrics);

    const bad = await cli(['forget', '--save_dir', dir, '--mask', join(dir, '1model_SA_best'), '--unlearn', 'SCRUB', ...tiny]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/Unknown unlearning method "SCRUB"/);
  }, 600_000);
});
