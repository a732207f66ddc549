// Builds build/simd-kernels.wasm (wasm SIMD) and build/simd-kernels-relaxed.wasm (wasm SIMD +
// relaxed SIMD: fused multiply-adds) from assembly/conv-gradients.ts with AssemblyScript (a dev
// dependency from the lock file). The binary is a build output, never committed: the root
// `prepare` script runs this after `pnpm install`, and `pnpm --filter @unlearnjs/backend-wasm
// build` before publishing.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import asc from 'assemblyscript/asc';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const builds = [
  { file: 'simd-kernels.wasm', features: ['simd'] },
  { file: 'simd-kernels-relaxed.wasm', features: ['simd', 'relaxed-simd'] },
];
mkdirSync(join(root, 'build'), { recursive: true });
for (const { file, features } of builds) {
  const outFile = join(root, 'build', file);
  const { error, stderr } = await asc.main([
    join(root, 'assembly', 'conv-gradients.ts'),
    '--outFile',
    outFile,
    '-O3',
    '--runtime',
    'stub',
    '--noAssert',
    ...features.flatMap((f) => ['--enable', f]),
  ]);
  if (error) {
    console.error(stderr.toString());
    console.error(`build-simd: ${error.message}`);
    process.exit(1);
  }
  console.log(`build-simd: wrote ${outFile}`);
}
