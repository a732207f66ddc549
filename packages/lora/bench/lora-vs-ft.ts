/**
 * FT vs FT + LoRA on a small CIFAR ResNet-18: trainable parameters and the time of one
 * training step (forward, backward, SGD update) at batch 32.
 *
 * Run: `cd packages/lora && pnpm bench [width] [steps] [wasm|cpu]` (defaults 16, 3, wasm).
 * The wasm backend needs `registerWasmTrainingKernels()` for conv gradients; the cpu backend's
 * conv filter gradient is ~50x slower (about 20 s a step at width 16). About a minute on wasm;
 * not part of the test suite.
 */
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { registerWasmTrainingKernels } from '@unlearnjs/backend-wasm';
import { type Model, Rng, SgdOptimizer, createContainer, createModel, ensureGradients, registerCoreModels } from '@unlearnjs/core';
import { attachLora } from '../src/index.js';

const width = Number(process.argv[2] ?? 16);
const steps = Number(process.argv[3] ?? 3);
const backend = process.argv[4] ?? 'wasm';
const batchSize = 32;

function step(model: Model, optimizer: SgdOptimizer, x: tf.Tensor4D, y: tf.Tensor1D, rng: Rng): void {
  const vars = model.trainableVariables();
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.forward(x, { training: true, rng });
    const logp = tf.logSoftmax(logits);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(y, 10), logp), 1))) as tf.Scalar;
  }, [...vars.values()]);
  const named: Record<string, tf.Tensor> = {};
  for (const [n, v] of vars) if (grads[v.name]) named[n] = grads[v.name];
  optimizer.step(vars, named, 0.01, model.masks);
  value.dataSync();
  value.dispose();
  for (const g of Object.values(grads)) g.dispose();
}

function measure(label: string, model: Model): void {
  let trainable = 0;
  for (const v of model.trainableVariables().values()) trainable += v.size;
  const rng = new Rng(1);
  const x = tf.randomUniform([batchSize, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const y = tf.tensor1d(
    Array.from({ length: batchSize }, (_, i) => i % 10),
    'int32',
  );
  const optimizer = new SgdOptimizer({ momentum: 0.9, weightDecay: 5e-4 });
  step(model, optimizer, x, y, rng); // warm-up: kernel set-up, momentum buffers
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step(model, optimizer, x, y, rng);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  console.log(
    `${label.padEnd(24)} trainable ${String(trainable).padStart(9)}  step median ${(times[Math.floor(times.length / 2)] / 1000).toFixed(2)} s  (min ${(times[0] / 1000).toFixed(2)} s)`,
  );
  optimizer.dispose();
  tf.dispose([x, y]);
}

async function main(): Promise<void> {
  await tf.setBackend(backend);
  await tf.ready();
  if (backend === 'wasm') registerWasmTrainingKernels();
  ensureGradients();
  const container = createContainer({ seed: 0, use: [registerCoreModels] });
  console.log(`ResNet-18 width ${width}, batch ${batchSize}, backend ${tf.getBackend()}, ${steps} timed steps each`);
  const model = createModel(container, 'resnet18', { width });
  console.log(`total parameters ${model.numParams()}`);
  measure('FT', model);
  for (const rank of [64, 8]) {
    const lora = attachLora(model, { rank }, new Rng(2));
    measure(`FT + LoRA r=${rank}`, model);
    lora.detach();
  }
  model.dispose();
}

await main();
