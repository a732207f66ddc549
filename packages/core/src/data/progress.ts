import type { ProgressReporter, ProgressTask } from '../progress/progress.js';

/** What a progress report is about: bytes fetched, archive bytes extracted, or records loaded. */
export type DataProgressStage = 'download' | 'extract' | 'load';

/**
 * Progress callback of the data layer: `done` out of `total` units (bytes or records) of the
 * current `stage`. `total` is 0 when unknown (a server that sends no length).
 */
export type DataProgressCallback = (done: number, total: number, stage?: DataProgressStage) => void;

/**
 * A progress callback that writes a one-line percentage to stderr.
 *
 * @param label - what is being done, e.g. `'cifar10 train'`
 * @returns a callback for `onProgress`; it rewrites one line on a TTY and prints every 25%
 *   otherwise, so CI logs stay short
 * @remarks The data layer uses it only when neither `onProgress` nor `quiet` is given: the
 *   caller owns the display.
 */
export function stderrProgress(label: string): DataProgressCallback {
  const tty = process.stderr.isTTY === true;
  let lastKey = '';
  return (done, total, stage) => {
    const what = stage === undefined ? label : `${label} ${stage}`;
    const step = tty ? 1 : 25;
    const pct = total > 0 ? Math.floor((100 * done) / total / step) * step : -1;
    const key = `${what}:${pct === -1 ? Math.floor(done / 10_485_760) : pct}`;
    if (key === lastKey) return;
    lastKey = key;
    const text = total > 0 ? `${what}: ${pct}% (${done}/${total})` : `${what}: ${done}`;
    const finished = total > 0 && done >= total;
    if (tty) process.stderr.write(`\r${text}${finished ? '\n' : ''}`);
    else process.stderr.write(`${text}\n`);
  };
}

/**
 * Show the data layer's progress through a run's {@link ProgressReporter} (its bars, its log
 * lines, its `--quiet`) instead of writing to stderr on its own: one task per stage.
 *
 * @param reporter - the run's reporter (e.g. `resolve(container, PROGRESS)`)
 * @param label - what is being done, e.g. `'cifar10 train'`
 * @returns a callback for `loadCifar10({ onProgress })`; each stage's task ends when it is done
 */
export function reporterProgress(reporter: ProgressReporter, label: string): DataProgressCallback {
  let task: ProgressTask | undefined;
  let stageNow: DataProgressStage | undefined;
  let last = 0;
  return (done, total, stage) => {
    if (!task || stage !== stageNow) {
      task?.end();
      const unit = stage === 'load' ? 'img' : 'B';
      task = reporter.start(stage === undefined ? label : `${label} ${stage}`, total, unit);
      stageNow = stage;
      last = 0;
    }
    if (done > last) task.tick(done - last);
    last = done;
    if (total > 0 && done >= total) {
      task.end();
      task = undefined;
    }
  };
}
