import type * as tf from '@tensorflow/tfjs-core';
import { type PruneContext, type PruneReport, type PruneRound, saveModel, writeFileAtomic } from '@unlearnjs/core';
import { PRUNE_ROUND_KIND, pruneCheckpointFiles } from './lottery-rounds.js';
import { setMasksMerged } from './mask-arrays.js';
import { formatSparsity, sparsityReport } from './sparsity-report.js';

/**
 * Set the masks of a data-free pruner on the model and report it as round 1 (round 0 being
 * the model as given), writing `round-1.ckpt` and `sparsity-round-1.json` when there is a
 * checkpoint folder.
 *
 * @param ctx - the pruner's context
 * @param pruner - pruner id
 * @param masks - new masks (the caller keeps ownership and disposes them)
 * @param t0 - `performance.now()` at the start of the call
 * @returns the report
 * @internal
 */
export async function finishOneShot(
  ctx: PruneContext<unknown>,
  pruner: string,
  masks: ReadonlyMap<string, tf.Tensor>,
  t0: number,
): Promise<PruneReport> {
  const { model, checkpointDir, services } = ctx;
  setMasksMerged(model, masks);
  const sparsity = sparsityReport(model);
  const round: PruneRound = { round: 1, sparsity, seconds: (performance.now() - t0) / 1000 };
  if (checkpointDir) {
    const files = pruneCheckpointFiles(checkpointDir);
    round.checkpoint = files.round(1);
    await writeFileAtomic(files.sparsity(1), `${JSON.stringify({ pruner, ...round }, null, 2)}\n`);
    await saveModel(files.round(1), model, { pruner, ...round }, PRUNE_ROUND_KIND);
  }
  services.logger.info(`${pruner}: ${formatSparsity(sparsity, { layers: false })}`);
  return { pruner, rounds: [round], sparsity, seconds: (performance.now() - t0) / 1000 };
}
