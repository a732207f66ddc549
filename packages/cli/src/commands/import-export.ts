import * as path from 'node:path';
import { UnlearnError, saveModel, writeCheckpoint } from '@unlearnjs/core';
import {
  TFJS_LAYERS_ARCH,
  TORCH_RESNET18_ARCH,
  exportLayersModel,
  exportTorchResNet18,
  importLayersModel,
  readTorchResNet18,
} from '@unlearnjs/interop';
import { type Command, Option } from 'commander';
import { type CliIo, addCommonOptions } from '../common-options.js';
import { createRunContext, modelFromCheckpoint, resolveCheckpoint } from '../run-context.js';

/** The checkpoint path `--out` names (.ckpt is added when missing). */
function checkpointPath(out: string): string {
  return out.endsWith('.ckpt') ? out : `${out}.ckpt`;
}

/**
 * `unlearn import`: a PyTorch state_dict (safetensors) of the reference's CIFAR ResNet-18, or a
 * TensorFlow.js layers model (model.json + weights), to an unlearnjs checkpoint.
 * @param program - the root program
 * @param io - output streams
 */
export function addImportCommand(program: Command, io: CliIo): void {
  program
    .command('import')
    .description(
      "Import a model as an unlearnjs checkpoint: a PyTorch state_dict (safetensors) of the reference's CIFAR ResNet-18, pruned or not (arch torch-resnet18: PyTorch's padding, the same logits), or a TensorFlow.js layers model.json with its weights (arch tfjs-layers).",
    )
    .requiredOption(
      '--from <file>',
      'the .safetensors state_dict (weight_orig + weight_mask pairs, *_mask tensors, or plain weights), or a layers model.json (weight files beside it)',
    )
    .addOption(
      new Option('--format <format>', 'the format of --from (default: tfjs for a .json file, safetensors otherwise)').choices([
        'safetensors',
        'tfjs',
      ]),
    )
    .addOption(new Option('--arch <name>', 'the architecture of the state_dict (safetensors)').choices(['resnet18']).default('resnet18'))
    .option('--mask <file>', 'pruning masks in a separate safetensors file (<conv>.weight_mask)')
    .option('--no-mask-from-zeros', 'without mask tensors, keep the model dense instead of taking the zero weights as pruned')
    .requiredOption('--out <file>', 'the checkpoint to write (.ckpt is added when missing)')
    .action(async (opts) => {
      const out = checkpointPath(opts.out);
      const format = opts.format ?? (opts.from.endsWith('.json') ? 'tfjs' : 'safetensors');
      if (format === 'tfjs') {
        if (opts.mask !== undefined) {
          throw new UnlearnError(
            'UNLEARN_INVALID_OPTIONS',
            '--mask applies to safetensors imports; a layers model.json is imported dense.',
            {
              details: { mask: opts.mask },
            },
          );
        }
        const { model, finalSoftmax } = await importLayersModel(opts.from);
        try {
          await saveModel(out, model, { importedFrom: path.resolve(opts.from) });
          io.stdout(
            `${JSON.stringify({ checkpoint: out, arch: model.arch, format, params: model.numParams(), prunable: model.prunable.length, finalSoftmax })}\n`,
          );
        } finally {
          model.dispose();
        }
        return;
      }
      const state = await readTorchResNet18(opts.from, { mask: opts.mask, maskFromZeros: opts.maskFromZeros });
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
 * `unlearn export`: an unlearnjs checkpoint of a ResNet-18 to a PyTorch state_dict (safetensors),
 * or of a `tfjs-layers` model to a TensorFlow.js layers model (model.json + weights.bin).
 * @param program - the root program
 * @param io - output streams
 */
export function addExportCommand(program: Command, io: CliIo): void {
  addCommonOptions(
    program
      .command('export')
      .description(
        "Export a checkpoint: the reference's ResNet-18 (torch-resnet18) as a PyTorch state_dict that load_state_dict reads (--format safetensors), or a tfjs-layers model as a model.json + weights.bin that tf.loadLayersModel reads (--format tfjs).",
      )
      .requiredOption('--checkpoint <file>', 'the checkpoint, e.g. out/ft/unlearned.ckpt')
      .addOption(new Option('--format <format>', 'output format').choices(['safetensors', 'tfjs']).default('safetensors'))
      .addOption(
        new Option(
          '--masks <form>',
          'safetensors: applied: plain weights with the masks applied; weight_orig: weight_orig + weight_mask pairs as torch.nn.utils.prune leaves them',
        )
          .choices(['applied', 'weight_orig'])
          .default('applied'),
      )
      .requiredOption('--out <path>', 'the .safetensors file to write, or (tfjs) the folder for model.json and weights.bin'),
    2,
  ).action(async (opts) => {
    const { container } = await createRunContext({ ...opts, quiet: true, plugins: opts.plugin, stream: { write: io.stderr } });
    const file = await resolveCheckpoint(opts.checkpoint);
    const { model } = await modelFromCheckpoint(container, file);
    try {
      if (opts.format === 'tfjs') {
        if (model.arch !== TFJS_LAYERS_ARCH) {
          throw new UnlearnError(
            'UNLEARN_CHECKPOINT_INCOMPATIBLE',
            `${file} holds a ${model.arch}; only tfjs-layers models (from \`unlearn import --format tfjs\`) export as a layers model.json.`,
            { details: { file, arch: model.arch } },
          );
        }
        const written = await exportLayersModel(model, opts.out);
        io.stdout(`${JSON.stringify({ checkpoint: file, out: written.modelJson, weights: written.weights, format: opts.format })}\n`);
        return;
      }
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
