import * as path from 'node:path';
import { UnlearnError, writeCheckpoint } from '@unlearnjs/core';
import { TORCH_RESNET18_ARCH, exportTorchResNet18, readTorchResNet18 } from '@unlearnjs/interop';
import { type Command, Option } from 'commander';
import { type CliIo, addCommonOptions } from '../common-options.js';
import { createRunContext, modelFromCheckpoint, resolveCheckpoint } from '../run-context.js';

/**
 * `unlearn import`: a PyTorch state_dict (safetensors) of the reference's CIFAR ResNet-18 to an
 * unlearnjs checkpoint.
 * @param program - the root program
 * @param io - output streams
 */
export function addImportCommand(program: Command, io: CliIo): void {
  program
    .command('import')
    .description(
      "Import a PyTorch state_dict (safetensors) of the reference's CIFAR ResNet-18, pruned or not, as an unlearnjs checkpoint (arch torch-resnet18: PyTorch's padding, the same logits).",
    )
    .requiredOption('--from <file>', 'the .safetensors state_dict (weight_orig + weight_mask pairs, *_mask tensors, or plain weights)')
    .addOption(new Option('--arch <name>', 'the architecture of the state_dict').choices(['resnet18']).default('resnet18'))
    .option('--mask <file>', 'pruning masks in a separate safetensors file (<conv>.weight_mask)')
    .option('--no-mask-from-zeros', 'without mask tensors, keep the model dense instead of taking the zero weights as pruned')
    .requiredOption('--out <file>', 'the checkpoint to write (.ckpt is added when missing)')
    .action(async (opts) => {
      const state = await readTorchResNet18(opts.from, { mask: opts.mask, maskFromZeros: opts.maskFromZeros });
      const out = opts.out.endsWith('.ckpt') ? opts.out : `${opts.out}.ckpt`;
      let pruned = 0;
      let total = 0;
      for (const m of state.masks.values()) {
        total += m.data.length;
        for (const v of m.data) if (v === 0) pruned++;
      }
      await writeCheckpoint(out, {
        kind: 'model',
        meta: { arch: state.arch, config: state.config, importedFrom: path.resolve(opts.from), maskSource: state.maskSource },
        groups: { weights: state.weights, masks: state.masks },
      });
      io.stdout(
        `${JSON.stringify({ checkpoint: out, arch: state.arch, config: state.config, maskSource: state.maskSource, sparsity: total ? pruned / total : 0 })}\n`,
      );
    });
}

/**
 * `unlearn export`: an unlearnjs checkpoint of a ResNet-18 to a PyTorch state_dict (safetensors).
 * @param program - the root program
 * @param io - output streams
 */
export function addExportCommand(program: Command, io: CliIo): void {
  addCommonOptions(
    program
      .command('export')
      .description("Export a checkpoint of the reference's ResNet-18 (torch-resnet18) as a PyTorch state_dict that load_state_dict reads.")
      .requiredOption('--checkpoint <file>', 'the checkpoint, e.g. out/ft/unlearned.ckpt')
      .addOption(new Option('--format <format>', 'output format').choices(['safetensors']).default('safetensors'))
      .addOption(
        new Option(
          '--masks <form>',
          'applied: plain weights with the masks applied; weight_orig: weight_orig + weight_mask pairs as torch.nn.utils.prune leaves them',
        )
          .choices(['applied', 'weight_orig'])
          .default('applied'),
      )
      .requiredOption('--out <file>', 'the .safetensors file to write'),
    2,
  ).action(async (opts) => {
    const { container } = await createRunContext({ ...opts, quiet: true, plugins: opts.plugin, stream: { write: io.stderr } });
    const file = await resolveCheckpoint(opts.checkpoint);
    const { model } = await modelFromCheckpoint(container, file);
    try {
      if (model.arch !== TORCH_RESNET18_ARCH) {
        // core's resnet18 pads its stride-2 convs as tfjs 'same' does (one pixel off PyTorch's
        // grid): its weights in a PyTorch model would compute other logits. Refuse, not warn.
        throw new UnlearnError(
          'UNLEARN_CHECKPOINT_INCOMPATIBLE',
          `${file} holds a ${model.arch}, which PyTorch's ResNet-18 would not compute the same way (its stride-2 convs pad differently); only torch-resnet18 models (from \`unlearn import\`, or trained with --arch torch-resnet18) can be exported.`,
          { details: { file, arch: model.arch } },
        );
      }
      await exportTorchResNet18(model, opts.out, { masks: opts.masks });
      io.stdout(`${JSON.stringify({ checkpoint: file, out: opts.out, format: opts.format, masks: opts.masks })}\n`);
    } finally {
      model.dispose();
    }
  });
}
