import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The folder that holds (or will hold) the CIFAR-10 binary files.
 *
 * @returns `process.env.CIFAR10_DIR` when set; else the first existing folder of
 *   `../shared/data/cifar10`, `../../shared/data/cifar10`, `../../../shared/data/cifar10`
 *   (relative to `process.cwd()`, so a checkout next to a shared data folder finds it from
 *   the repository root or a package folder); else `~/.cache/unlearnjs/cifar10`
 */
export function defaultCifar10Dir(): string {
  const env = process.env.CIFAR10_DIR;
  if (env !== undefined && env !== '') return resolve(env);
  for (const rel of ['../shared/data/cifar10', '../../shared/data/cifar10', '../../../shared/data/cifar10']) {
    const dir = resolve(process.cwd(), rel);
    if (existsSync(dir)) return dir;
  }
  return join(homedir(), '.cache', 'unlearnjs', 'cifar10');
}
