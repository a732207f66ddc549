import * as tf from '@tensorflow/tfjs-core';
import { type ImageSet, Model, type ModelDefinition, Rng, type Subset, createImageSet, subsetOf } from '@unlearnjs/core';

/** One synthetic image: its label and the constant value (0-255) of each of its 3 channels. */
export interface Pixel {
  label: number;
  rgb: [number, number, number];
}

/** An image set of constant-colour images (3 classes unless told otherwise). */
export function makeSet(pixels: readonly Pixel[], classNames: readonly string[] = ['a', 'b', 'c']): ImageSet {
  const images = new Uint8Array(pixels.length * 3072);
  pixels.forEach((p, i) => {
    for (let k = 0; k < 1024; k++) images.set(p.rgb, i * 3072 + k * 3);
  });
  return createImageSet({ images, labels: Uint8Array.from(pixels.map((p) => p.label)), classNames });
}

/** Subset of positions [from, to) of a set. */
export function range(set: ImageSet, from: number, to: number): Subset {
  return subsetOf(
    set,
    Int32Array.from({ length: to - from }, (_, i) => from + i),
  );
}

/**
 * A linear softmax over per-channel pixel means: logits = scale · mean_{h,w}(x) (3 classes,
 * identity weights), so the predicted class is the brightest channel and the confidence grows
 * with the gap between channels.
 */
export function channelModel(scale = 10): Model {
  const def: ModelDefinition = {
    arch: 'channel-linear',
    config: { scale },
    params: [
      { name: 'w', shape: [3, 3], init: 'zeros' },
      { name: 'b', shape: [3], init: 'zeros' },
    ],
    buffers: [],
    prunable: ['w'],
    classifier: { kernel: 'w', bias: 'b' },
    forward: (x, ctx) => tf.tidy(() => tf.add(tf.matMul(tf.mean(x, [1, 2]) as tf.Tensor2D, ctx.w('w') as tf.Tensor2D), ctx.w('b'))),
  };
  const model = new Model(def, new Rng(0));
  const w = tf.mul(tf.eye(3), scale);
  model.load(new Map([['w', w]]));
  w.dispose();
  return model;
}

/** An image of class `label` that the channel model predicts as `predicted`, confidently. */
export function pixel(label: number, predicted: number): Pixel {
  const rgb: [number, number, number] = [40, 40, 40];
  rgb[predicted] = 220;
  return { label, rgb };
}

/** Well-formedness check of an XML fragment: tags nest and close, text has no raw `<` or stray `&`. */
export function isWellFormedXml(text: string): boolean {
  const body = text.replace(/^<!DOCTYPE[^>]*>/i, '');
  const stack: string[] = [];
  const tokens = body.split(/(<[^>]*>)/);
  for (const t of tokens) {
    if (t.startsWith('<')) {
      if (/^<!--[\s\S]*-->$/.test(t)) continue;
      const close = /^<\/([A-Za-z][\w:-]*)\s*>$/.exec(t);
      if (close) {
        if (stack.pop() !== close[1]) return false;
        continue;
      }
      const open = /^<([A-Za-z][\w:-]*)(\s+[\w:-]+="[^"<]*")*\s*(\/?)>$/.exec(t);
      if (!open) return false;
      if (open[3] !== '/') stack.push(open[1]);
    } else if (/[<>]/.test(t) || /&(?!(amp|lt|gt|quot|#39|#\d+);)/.test(t)) {
      return false;
    }
  }
  return stack.length === 0;
}
