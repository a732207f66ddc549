import { CIFAR10_IMAGE_BYTES, type ImageSet } from './image-set.js';
import type { Subset } from './subset.js';

/**
 * Per-channel mean pixel value, in [0, 1].
 *
 * @param set - an image set, or a subset of one
 * @returns `[meanR, meanG, meanB]` over every pixel of every image (NaN for an empty set)
 * @remarks Sums are exact integers (at most 50,000·1024·255 ≈ 1.3e10 < 2^53), divided once.
 */
export function channelMeans(set: ImageSet | Subset): [number, number, number] {
  const source = 'source' in set ? set.source : set;
  const images = source.images;
  let r = 0;
  let g = 0;
  let b = 0;
  const addImage = (i: number): void => {
    // Per-image partial sums stay small integers, so they add up exactly.
    let ri = 0;
    let gi = 0;
    let bi = 0;
    const end = (i + 1) * CIFAR10_IMAGE_BYTES;
    for (let o = i * CIFAR10_IMAGE_BYTES; o < end; o += 3) {
      ri += images[o];
      gi += images[o + 1];
      bi += images[o + 2];
    }
    r += ri;
    g += gi;
    b += bi;
  };
  let n = 0;
  if ('source' in set) {
    for (const i of set.indices) addImage(i);
    n = set.indices.length;
  } else {
    for (let i = 0; i < set.size; i++) addImage(i);
    n = set.size;
  }
  const denom = n * 1024 * 255;
  return [r / denom, g / denom, b / denom];
}
