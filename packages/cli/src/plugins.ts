import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type DependencyContainer, type RegisterFunction, UnlearnError, registerCoreModels } from '@unlearnjs/core';
import { registerEvalMia } from '@unlearnjs/eval-mia';
import { registerInterop } from '@unlearnjs/interop';
import { registerLora } from '@unlearnjs/lora';
import { registerPruningImp } from '@unlearnjs/pruning-imp';
import { registerFisher } from '@unlearnjs/unlearn-fisher';
import { registerFt } from '@unlearnjs/unlearn-ft';
import { registerGa } from '@unlearnjs/unlearn-ga';
import { registerInfluence } from '@unlearnjs/unlearn-influence';
import { registerL1Sparse } from '@unlearnjs/unlearn-l1-sparse';
import { registerRetrain } from '@unlearnjs/unlearn-retrain';
import { registerRl } from '@unlearnjs/unlearn-rl';
import { registerSalun } from '@unlearnjs/unlearn-salun';
import { registerScrub } from '@unlearnjs/unlearn-scrub';

/** Every first-party register function, in the order the CLI applies them. */
export const FIRST_PARTY_PLUGINS: readonly RegisterFunction[] = [
  registerCoreModels,
  registerInterop,
  registerPruningImp,
  registerFt,
  registerGa,
  registerRl,
  registerL1Sparse,
  registerRetrain,
  registerFisher,
  registerInfluence,
  registerSalun,
  registerScrub,
  registerLora,
  registerEvalMia,
];

/**
 * Load third-party plugin packages by name: each must export a register function
 * (`register`, `default`, or any export whose name starts with `register`).
 *
 * @param names - package names or paths, as given to `--plugin`
 * @param importModule - loader (tests inject one) @defaultValue dynamic import
 * @returns their register functions
 * @throws UnlearnError `UNLEARN_UNKNOWN_PLUGIN` when a package cannot be loaded or exports none
 */
export async function loadPluginPackages(
  names: readonly string[],
  importModule: (s: string) => Promise<Record<string, unknown>> = (s) => import(/* @vite-ignore */ toSpecifier(s)),
): Promise<RegisterFunction[]> {
  const out: RegisterFunction[] = [];
  for (const name of names) {
    let mod: Record<string, unknown>;
    try {
      mod = await importModule(name);
    } catch (cause) {
      throw new UnlearnError('UNLEARN_UNKNOWN_PLUGIN', `Cannot load plugin package "${name}": is it installed (npm install ${name})?`, {
        details: { package: name },
        cause,
      });
    }
    const fns = Object.entries(mod).filter(
      ([k, v]) => typeof v === 'function' && (k === 'default' || k === 'register' || k.startsWith('register')),
    );
    if (fns.length === 0) {
      throw new UnlearnError(
        'UNLEARN_UNKNOWN_PLUGIN',
        `Plugin package "${name}" exports no register function (export a function named registerX(container)).`,
        {
          details: { package: name },
        },
      );
    }
    for (const [, fn] of fns) out.push(fn as (c: DependencyContainer) => void);
  }
  return out;
}

/** Paths (`./x`, `../x`, `/x`) are resolved against the current folder; package names as they are. */
function toSpecifier(name: string): string {
  return name.startsWith('.') || path.isAbsolute(name) ? pathToFileURL(path.resolve(name)).href : name;
}
