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
    expect(resolveMethod('SalUn', [...known, 'salun'])).toBe('salun');
    expect(resolveMethod('SCRUB', [...known, 'scrub'])).toBe('scrub');
    expect(() => resolveMethod('NegGrad', known)).toThrow(/Unknown unlearning method "NegGrad".*GA, FT/);
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
    const r = await cli(['prune', '--rate', '1.5', '--backend', 'cpu', '--data', '/nonexistent-cifar']);
    expect(r.code).toBe(2);
    // The pruner's schema owns the range; it is checked before any data is read (the folder
    // does not exist) and the message names the flag.
    expect(r.err).toMatch(/--rate: .*\(got 1\.5\).*\[UNLEARN_INVALID_OPTIONS\]/);
    expect(r.err).not.toMatch(/UNLEARN_DATA_MISSING/);
    for (const rate of ['1', '0']) {
      expect((await cli(['prune', '--rate', rate, '--backend', 'cpu', '--data', '/nonexistent-cifar'])).err).toMatch(/--rate: /);
    }
    // Integer flags parse as numbers only: the schemas (pruner and model) own the ranges too.
    for (const flags of [
      ['--pruning-times', '0'],
      ['--epochs', '1.5'],
      ['--width', '3'],
    ]) {
      const bad = await cli(['prune', ...flags, '--backend', 'cpu', '--data', '/nonexistent-cifar']);
      expect(bad.code).toBe(2);
      expect(bad.err).toMatch(new RegExp(`${flags[0]}: .*\\[UNLEARN_INVALID_OPTIONS\\]`));
    }
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('a missing checkpoint', async () => {
    const r = await cli(['forget', '--mask', '/nonexistent/1model_SA_best', '--unlearn', 'FT', ...tiny]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unlearn: error: No checkpoint at \/nonexistent\/1model_SA_best.*\[UNLEARN_CHECKPOINT_MISSING\]/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('a wrong data folder', async () => {
    const r = await cli([
      'prune',
      '--data',
      '/nonexistent-cifar',
      '--epochs',
      '1',
      '--rewind-epoch',
      '0',
      '--width',
      '4',
      '--backend',
      'cpu',
      '--quiet',
    ]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/\[UNLEARN_DATA_MISSING\]/);
    // The CLI speaks its own flags, not the library's option names.
    expect(r.err).toMatch(/--data|--download/);
    expect(r.err).not.toMatch(/download: true|\bdir\b:/);
    // The same from `run`, which goes through the pipeline.
    const run = await cli([
      'run',
      '--preset',
      'ci',
      '--data',
      '/nonexistent-cifar',
      '--save-dir',
      mkdtempSync(join(tmpdir(), 'unlearn-run-')),
      '--backend',
      'cpu',
      '--quiet',
    ]);
    expect(run.code).toBe(2);
    expect(run.err).toMatch(/--data .*\[UNLEARN_DATA_MISSING\]/);
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
      '5',
      '--unlearn_lr',
      '0.01',
      '--unlearn_epochs',
      '1',
      // Flags a reference sweep passes to every method: used where FT has the knob, noted otherwise.
      '--alpha',
      '0.5',
      '--momentum',
      '0.8',
      '--resume',
      '--arch',
      'resnet18',
      '--train_seed',
      '4',
      '--decreasing_lr',
      '91,136',
      ...tiny,
    ]);
    expect(forget.err).toMatch(/note: --alpha: the ft method has no "alpha" option/);
    expect(forget.err).toMatch(/note: --resume: /);
    expect(forget.err).toMatch(/note: --train-seed: /);
    expect(forget.err).toMatch(/note: --decreasing-lr: the ft method has no "milestones" option/);
    expect(forget.err).not.toMatch(/note: --momentum/);
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
    // The reference's defaults: --class_to_replace 0, so --num_indexes_to_replace 5 forgets 5
    // images *of class 0* (replace_class), and the momentum flag reached the unlearner.
    expect(saved.forgetSet).toMatchObject({ classToForget: 0, numToForget: 5, size: 5, seed: 3 });
    expect(saved.options).toMatchObject({ lr: 0.01, epochs: 1, momentum: 0.8 });
    // Only part of class 0 is forgotten: TA and the MIA keep class 0 in the test set, as the reference.
    expect(res.heldOut).toMatch(/^the whole test set/);

    // eval measures the forget set the model was unlearned on, and refuses flags that draw another.
    const evalSame = await cli([
      'eval',
      '--checkpoint',
      join(dir, 'ft', 'unlearned.ckpt'),
      ...tiny.filter((a) => a !== '3' && a !== '--seed'),
    ]);
    expect(evalSame.err).toBe(evalSame.err.replace(/UNLEARN_/g, ''));
    expect(evalSame.code).toBe(0);
    const measured = JSON.parse(evalSame.out.trim());
    expect(measured.forgetSet.sha256).toBe(saved.forgetSet.sha256);
    expect(measured.metrics.UA).toBe(res.metrics.UA);
    const evalOther = await cli(['eval', '--checkpoint', join(dir, 'ft', 'unlearned.ckpt'), '--class_to_replace', '1', ...tiny]);
    expect(evalOther.code).toBe(2);
    expect(evalOther.err).toMatch(/--class-to-replace 0 --num-indexes-to-replace 5.*\[UNLEARN_FORGET_SET_MISMATCH\]/);

    // The methods beyond the paper, by their reference-style names.
    for (const [name, id] of [
      ['SalUn', 'salun'],
      ['SCRUB', 'scrub'],
    ]) {
      const r = await cli([
        'forget',
        '--save_dir',
        dir,
        '--mask',
        join(dir, '1model_SA_best'),
        '--unlearn',
        name,
        '--unlearn_epochs',
        '1',
        ...tiny,
      ]);
      expect(r.code, r.err).toBe(0);
      const out = JSON.parse(r.out.trim());
      expect(out.method).toBe(id);
      expect(out.metrics.RTE).toBeGreaterThan(0);
    }

    // --arch that contradicts the checkpoint, and a misspelt flag, still fail.
    const wrongArch = await cli(['forget', '--save_dir', dir, '--mask', join(dir, '1model_SA_best'), '--arch', 'vit', ...tiny]);
    expect(wrongArch.err).toMatch(/\[UNLEARN_CHECKPOINT_INCOMPATIBLE\]/);
    const typo = await cli(['forget', '--save_dir', dir, '--mask', join(dir, '1model_SA_best'), '--unlearn_lrr', '0.1', ...tiny]);
    expect(typo.code).not.toBe(0);
    expect(typo.err).toMatch(/unknown option '--unlearn-lrr'/);

    const bad = await cli(['forget', '--save_dir', dir, '--mask', join(dir, '1model_SA_best'), '--unlearn', 'NegGrad', ...tiny]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/Unknown unlearning method "NegGrad"/);
  }, 600_000);
});
