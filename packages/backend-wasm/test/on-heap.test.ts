import { describe, expect, it } from 'vitest';
import type { WasmBackendLike } from '../src/kernels/kernel-scope.js';
import { HeapScratch } from '../src/kernels/on-heap.js';

/** A backend whose malloc hands out the given addresses and records frees. */
function fakeBackend(addresses: number[]) {
  const freed: number[] = [];
  const backend = {
    wasm: {
      _malloc: () => addresses.shift() ?? 0,
      _free: (at: number) => freed.push(at),
      HEAPU8: new Uint8Array(64),
    },
  } as unknown as WasmBackendLike;
  return { backend, freed };
}

describe('HeapScratch (kernel scratch on the tfjs heap)', () => {
  it('aligns to 16 bytes also past 2^31, where JS bit operations would go negative', () => {
    const { backend, freed } = fakeBackend([2 ** 31 + 3, 3_000_000_001, 48]);
    const s = new HeapScratch(backend);
    expect(s.alloc(10)).toBe(2 ** 31 + 16);
    expect(s.alloc(10)).toBe(3_000_000_016);
    expect(s.alloc(10)).toBe(48);
    s.free();
    expect(freed).toEqual([2 ** 31 + 3, 3_000_000_001, 48]);
  });

  it('refuses with WASM_OUT_OF_MEMORY when malloc fails, and frees what it had', () => {
    const { backend, freed } = fakeBackend([1024]);
    const s = new HeapScratch(backend);
    s.alloc(4);
    expect(() => s.alloc(1 << 28)).toThrow(expect.objectContaining({ code: 'WASM_OUT_OF_MEMORY' }));
    s.free();
    expect(freed).toEqual([1024]);
  });
});
