import cliProgress from 'cli-progress';

/** Numbers shown beside a progress bar, e.g. `{ loss: 1.23, acc: 0.41 }`. */
export type ProgressMetrics = Readonly<Record<string, number | string>>;

/**
 * One long task (an epoch, a pass over the retain set) with a known amount of work.
 */
export interface ProgressTask {
  /**
   * Record `n` more units of work done and the latest metrics.
   * @param n - units done since the last call
   * @param metrics - values to show
   */
  tick(n: number, metrics?: ProgressMetrics): void;
  /** Finish the task (prints the final line). */
  end(metrics?: ProgressMetrics): void;
}

/**
 * Reports progress on long work. Resolve it from a container with `PROGRESS`.
 *
 * @remarks Every long run in unlearnjs (training, pruning rounds, unlearning, per-sample
 * gradients, evaluation) reports through this, so an app can show a bar, log lines, or nothing.
 */
export interface ProgressReporter {
  /**
   * Start a task.
   * @param label - what is being done, e.g. `train epoch 3/10`
   * @param total - units of work, e.g. images
   * @param unit - unit name used for rates, e.g. `img`
   */
  start(label: string, total: number, unit?: string): ProgressTask;
}

/** A reporter that shows nothing (CI, tests, `--quiet`). */
export const silentProgress: ProgressReporter = {
  start: () => ({ tick: () => {}, end: () => {} }),
};

function formatMetrics(m: ProgressMetrics | undefined): string {
  if (!m) return '';
  return Object.entries(m)
    .map(([k, v]) => `${k} ${typeof v === 'number' ? (Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(4)) : v}`)
    .join(' | ');
}

/**
 * Options of {@link createBarProgress}.
 */
export interface BarProgressOptions {
  /** Stream to draw on. @defaultValue process.stderr */
  stream?: NodeJS.WriteStream;
  /** Seconds between plain log lines when the stream is not a terminal. @defaultValue 10 */
  lineIntervalSeconds?: number;
}

/**
 * A reporter that draws a cli-progress bar (label, %, done/total, rate, ETA and metrics) on a
 * terminal, and prints a plain line every few seconds when output is redirected (CI logs).
 *
 * @param options - stream and log-line interval
 * @returns the reporter
 */
export function createBarProgress(options: BarProgressOptions = {}): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const interval = (options.lineIntervalSeconds ?? 10) * 1000;
  return {
    start(label, total, unit = 'it') {
      const t0 = performance.now();
      let done = 0;
      let metrics: ProgressMetrics | undefined;
      const rate = () => done / Math.max(1e-9, (performance.now() - t0) / 1000);
      if (stream.isTTY) {
        const bar = new cliProgress.SingleBar(
          {
            stream,
            format: `${label} [{bar}] {percentage}% {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted} | {metrics}`,
            hideCursor: true,
            clearOnComplete: false,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0, { rate: '0', metrics: '' });
        return {
          tick(n, m) {
            done += n;
            metrics = m ?? metrics;
            bar.update(done, { rate: rate().toFixed(1), metrics: formatMetrics(metrics) });
          },
          end(m) {
            metrics = m ?? metrics;
            bar.update(done, { rate: rate().toFixed(1), metrics: formatMetrics(metrics) });
            bar.stop();
          },
        };
      }
      let last = t0;
      const line = (final: boolean) => {
        const r = rate();
        const eta = r > 0 ? (total - done) / r : 0;
        stream.write(
          `${label} ${done}/${total} ${unit} ${r.toFixed(1)} ${unit}/s ${final ? `done in ${((performance.now() - t0) / 1000).toFixed(1)}s` : `ETA ${eta.toFixed(0)}s`} ${formatMetrics(metrics)}\n`,
        );
      };
      return {
        tick(n, m) {
          done += n;
          metrics = m ?? metrics;
          const now = performance.now();
          if (now - last >= interval) {
            last = now;
            line(false);
          }
        },
        end(m) {
          metrics = m ?? metrics;
          line(true);
        },
      };
    },
  };
}

/**
 * The progress reporter a run gets when none is given: bars on an interactive terminal, so a
 * library call that trains for a minute is not silent, and nothing elsewhere (pipes, CI, logs,
 * browsers), where bars would only add noise.
 *
 * @param stream - where bars would go @defaultValue process.stderr when there is one
 * @returns {@link createBarProgress} on a TTY stream, else {@link silentProgress}
 */
export function defaultProgress(stream: BarProgressOptions['stream'] = globalThis.process?.stderr): ProgressReporter {
  return stream?.isTTY ? createBarProgress({ stream }) : silentProgress;
}
