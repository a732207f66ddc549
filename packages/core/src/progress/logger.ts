/**
 * Where unlearnjs writes human-readable messages. Resolve it from a container with `LOGGER`.
 */
export interface Logger {
  /** Something a user running the job wants to see (stage started, backend chosen). */
  info(message: string): void;
  /** Something surprising that does not make results wrong. */
  warn(message: string): void;
  /** Detail for debugging; off unless `verbose`. */
  debug(message: string): void;
}

/**
 * Options of {@link createConsoleLogger}.
 */
export interface ConsoleLoggerOptions {
  /** Print nothing but warnings. @defaultValue false */
  quiet?: boolean;
  /** Also print debug messages. @defaultValue false */
  verbose?: boolean;
  /** Stream to write to. @defaultValue process.stderr */
  stream?: { write(s: string): unknown };
}

/**
 * A logger that writes lines to stderr (stdout stays free for results).
 *
 * @param options - quiet/verbose and the stream
 * @returns the logger
 */
export function createConsoleLogger(options: ConsoleLoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  return {
    info: (m) => {
      if (!options.quiet) stream.write(`${m}\n`);
    },
    warn: (m) => {
      stream.write(`warning: ${m}\n`);
    },
    debug: (m) => {
      if (options.verbose) stream.write(`debug: ${m}\n`);
    },
  };
}

/**
 * A logger that keeps every message in memory (for tests and for reports).
 *
 * @returns the logger and the lines it received, each prefixed with its level
 */
export function createMemoryLogger(): Logger & { readonly lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => void lines.push(`info: ${m}`),
    warn: (m) => void lines.push(`warn: ${m}`),
    debug: (m) => void lines.push(`debug: ${m}`),
  };
}
