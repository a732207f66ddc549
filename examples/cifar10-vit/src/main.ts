/**
 * CIFAR-10 + vit, the whole pipeline of "Model Sparsity Can Simplify Machine Unlearning":
 * train → prune (OMP 95%) → unlearn with every method on the dense and the sparse model, with
 * and without LoRA → evaluate (UA, MIA-efficacy, RA, TA, RTE) → results table, charts, HTML.
 *
 *   pnpm start --preset ci|quick|paper [--backend auto|wasm|cpu|webgpu|tensorflow] [--save-dir DIR]
 *
 * (`standard` is a ResNet-18 recipe: the ViT refuses it.)
 *
 * Every stage checkpoints under the output folder: run it again to resume.
 */
import * as path from 'node:path';
import { main } from '@unlearnjs/cli';

const args = process.argv.slice(2).filter((a) => a !== '--');
// `pnpm vit` runs this from the example's folder; write runs/ where the user typed the command.
if (!args.includes('--save-dir') && !args.includes('--save_dir')) {
  const preset = args.includes('--preset') ? args[args.indexOf('--preset') + 1] : 'quick';
  args.push('--save-dir', path.resolve(process.env.INIT_CWD ?? process.cwd(), 'runs', `vit-${preset}`));
}
process.exitCode = await main(['run', '--arch', 'vit', ...args]);
