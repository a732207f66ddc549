// Types for the parts of libsvm-js 0.2.1 (an emscripten build of libsvm, CommonJS) that
// svm-classifier.ts uses. The package ships no types; this file is internal and not
// re-exported.
declare module 'libsvm-js' {
  export interface LibsvmOptions {
    type?: string;
    kernel?: string;
    gamma?: number;
    cost?: number;
    tolerance?: number;
    cacheSize?: number;
    shrinking?: boolean;
    quiet?: boolean;
  }
  export interface LibsvmInstance {
    train(samples: ArrayLike<number>[], labels: ArrayLike<number>): void;
    predictOne(sample: ArrayLike<number>): number;
    getSVIndices(): number[];
    getLabels(): number[];
    free(): void;
  }
  export interface LibsvmClass {
    new (options: LibsvmOptions): LibsvmInstance;
    readonly SVM_TYPES: { readonly C_SVC: string };
    readonly KERNEL_TYPES: { readonly RBF: string };
  }
  /** module.exports is a promise of the SVM class, resolved once the wasm is instantiated. */
  const loaded: Promise<LibsvmClass>;
  export default loaded;
}
