// Builds build/simd-kernels.wasm (wasm SIMD), build/simd-kernels-relaxed.wasm (wasm SIMD +
// relaxed SIMD: fused multiply-adds) and their -shared variants (shared memory, for threads) from assembly/*.ts (conv-gradients, batch-norm, sgd, gelu, layer-norm, batched-mat-mul, sparse-conv) with AssemblyScript (a dev
// dependency from the lock file). The binary is a build output, never committed: the root
// `prepare` script runs this after `pnpm install`, and `pnpm --filter @unlearnjs/backend-wasm
// build` before publishing.
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Every build imports its memory: the loader gives it a fresh one for the kernels that copy their
// operands in, or the tfjs wasm heap's own memory for the batch-norm passes (the module has no
// data segment, start function or global, so instantiating it writes nothing there). The -shared
// builds import a shared memory, so that worker threads run parts of a kernel call on the same
// operands (setSimdThreads / enableWasmThreads); their maximum is the 4 GiB of tfjs's threaded heap.
const OWN = ['--importMemory', '--initialMemory', '1'];
const SHARED = ['--importMemory', '--sharedMemory', '--initialMemory', '1', '--maximumMemory', '65536'];
const builds = [
  { file: 'simd-kernels.wasm', features: ['simd'], flags: OWN },
  { file: 'simd-kernels-relaxed.wasm', features: ['simd', 'relaxed-simd'], flags: OWN },
  { file: 'simd-kernels-shared.wasm', features: ['simd', 'threads'], flags: SHARED },
  { file: 'simd-kernels-relaxed-shared.wasm', features: ['simd', 'relaxed-simd', 'threads'], flags: SHARED },
];
mkdirSync(join(root, 'build'), { recursive: true });
for (const { file, features, flags } of builds) {
  const outFile = join(root, 'build', file);
  const { error, stderr } = await asc.main([
    join(root, 'assembly', 'conv-gradients.ts'),
    join(root, 'assembly', 'batch-norm.ts'),
    join(root, 'assembly', 'sgd.ts'),
    join(root, 'assembly', 'gelu.ts'),
    join(root, 'assembly', 'layer-norm.ts'),
    join(root, 'assembly', 'batched-mat-mul.ts'),
    join(root, 'assembly', 'sparse-conv.ts'),
    '--outFile',
    outFile,
    '-O3',
    '--runtime',
    'stub',
    '--noAssert',
    ...features.flatMap((f) => ['--enable', f]),
    ...flags,
  ]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build-simd: ${error.message}`);
    process.exit(1);
  }
  const writes = sectionsWrittenAtInstantiation(readFileSync(outFile));
  if (writes.length > 0) {
    console.error(
      `build-simd: ${file} has a ${writes.join(' and a ')} section; the kernels are instantiated on the tfjs heap's memory and must write nothing there`,
    );
    process.exit(1);
  }
  console.log(`build-simd: wrote ${outFile}`);
}

/** Names of the sections of a wasm binary that write memory when it is instantiated (data, start). */
function sectionsWrittenAtInstantiation(bytes) {
  const found = [];
  let i = 8;
  while (i < bytes.length) {
    const id = bytes[i];
    let size = 0;
    let shift = 0;
    let j = i + 1;
    for (;;) {
      const b = bytes[j++];
      size |= (b & 127) << shift;
      shift += 7;
      if ((b & 128) === 0) break;
    }
    if (id === 11) found.push('data');
    if (id === 8) found.push('start');
    i = j + size;
  }
  return found;
}
