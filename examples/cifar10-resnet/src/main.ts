/**
 * CIFAR-10 + resnet18, the whole pipeline of "Model Sparsity Can Simplify Machine Unlearning":
 * train → prune (OMP 95%) → unlearn with every method on the dense and the sparse model, with
 * and without LoRA → evaluate (UA, MIA-efficacy, RA, TA, RTE) → results table, charts, HTML.
 *
 *   pnpm start --preset ci|quick|standard|paper [--backend auto|wasm|cpu|webgpu|tensorflow] [--save-dir DIR]
 *
 * `standard` trains on the full data for 30 epochs (the recipe `pnpm bench:tta` times against
 * PyTorch); on a 2-core CPU add `--wasm-threads 2` and expect about 9 hours.
 *
 * Every stage checkpoints under the output folder: run it again to resume.
 */
import * as path from 'node:path';
import { main } from '@unlearnjs/cli';

const args = process.argv.slice(2).filter((a) => a !== '--');
// `pnpm resnet` runs this from the example's folder; write runs/ where the user typed the command.
if (!args.includes('--save-dir') && !args.includes('--save_dir')) {
  const preset = args.includes('--preset') ? args[args.indexOf('--preset') + 1] : 'quick';
  args.push('--save-dir', path.resolve(process.env.INIT_CWD ?? process.cwd(), 'runs', `resnet18-${preset}`));
}
process.exitCode = await main(['run', '--arch', 'resnet18', ...args]);
