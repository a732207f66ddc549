import { promises as fs } from 'node:fs';
import * as path from 'node:path';

// `<target>.<pid>.tmp`, as the atomic writers name their temp files. A target that itself ends
// in `.<digits>` is left alone: names with several numeric parts before `.tmp` (say
// `.x.<pid>.<time>.<n>.tmp`) belong to other writers, whose last number is not a pid.
const TEMP_NAME = /^(.+)\.([1-9][0-9]{0,9})\.tmp$/;
const MAX_PID = 0x7fffffff;

/**
 * The pid in a temp file name written by the atomic writers, if it is one.
 * @param name - a file name (no folder)
 * @returns the writer's pid, or `undefined` when the name is not `<target>.<pid>.tmp`
 */
function tempFileOwner(name: string): number | undefined {
  const m = TEMP_NAME.exec(name);
  if (!m || /\.[0-9]+$/.test(m[1])) return undefined;
  const pid = Number(m[2]);
  return pid <= MAX_PID ? pid : undefined;
}

function isProcessAlive(pid: number): boolean {
  try {
    // Signal 0 sends nothing: it only asks whether the process exists.
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user, so it is alive. Only ESRCH means gone.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

async function unlinkIfThere(file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
    return true;
  } catch (err) {
    // Another cleaner (a parallel resume) got there first.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Remove the temp files (`<file>.<pid>.tmp`) that {@link writeCheckpoint} and
 * {@link writeFileAtomic} leave behind when their process is killed mid-write: each can be as
 * large as a full checkpoint. Call it when resuming a run in its output folder.
 *
 * @remarks A temp file is removed only when no process with its pid is running
 * (`process.kill(pid, 0)` fails with `ESRCH`): a live writer's file, including one of another
 * user's process, is never touched. Pids are those of this machine, so do not point it at a
 * folder that processes on other machines write to at the same time. Only regular files are
 * removed, and symbolic links are not followed. A recycled pid only keeps a stale file
 * (removed by a later call), it never removes a live one.
 *
 * @param dir - the folder to clean (a missing folder is not an error: nothing to remove)
 * @param options - `recursive`: also clean every sub-folder @defaultValue `{ recursive: false }`
 * @returns the paths removed, sorted
 * @throws the file system's error when `dir` or a temp file cannot be read or removed (other
 *   than its being gone already)
 * @example
 * ```ts
 * const removed = await removeStaleTempFiles(outDir, { recursive: true });
 * if (removed.length > 0) logger.info(`removed ${removed.length} temp files of killed runs`);
 * ```
 */
export async function removeStaleTempFiles(dir: string, options: { recursive?: boolean } = {}): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const removed: string[] = [];
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (options.recursive) removed.push(...(await removeStaleTempFiles(full, options)));
      continue;
    }
    if (!e.isFile()) continue;
    const pid = tempFileOwner(e.name);
    if (pid !== undefined && !isProcessAlive(pid) && (await unlinkIfThere(full))) removed.push(full);
  }
  return removed.sort();
}

/**
 * Remove the stale temp files of one target (`<file>.<pid>.tmp` of dead pids), best effort:
 * the atomic writers call it before writing `file`, whose new content supersedes any
 * half-written attempt, and a failure to clean must not fail the write.
 *
 * @param file - the target the temp files were for
 * @returns the paths removed
 */
export async function removeStaleTempFilesOf(file: string): Promise<string[]> {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const removed: string[] = [];
  try {
    for (const name of await fs.readdir(dir)) {
      if (!name.startsWith(`${base}.`)) continue;
      const pid = tempFileOwner(name);
      if (pid === undefined || name !== `${base}.${pid}.tmp` || isProcessAlive(pid)) continue;
      const full = path.join(dir, name);
      const st = await fs.lstat(full);
      if (st.isFile() && (await unlinkIfThere(full))) removed.push(full);
    }
  } catch {
    // Best effort: leftovers only waste space, and removeStaleTempFiles reports what it cannot do.
  }
  return removed;
}
