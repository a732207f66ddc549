import { UnlearnError } from '../errors/unlearn-error.js';

/** The ten CIFAR-10 class names, in label order (label `i` is `CIFAR10_CLASS_NAMES[i]`). */
export const CIFAR10_CLASS_NAMES: readonly string[] = Object.freeze([
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
]);

/** Bytes of one 32x32x3 image. */
export const CIFAR10_IMAGE_BYTES = 32 * 32 * 3;

/** Bytes of one record in the CIFAR-10 binary files: 1 label byte + 3072 pixel bytes. */
export const CIFAR10_RECORD_BYTES = 1 + CIFAR10_IMAGE_BYTES;

/**
 * A set of labelled 32x32 RGB images held as raw bytes.
 *
 * @remarks
 * `images` holds `size` images of `32*32*3` bytes each, HWC-interleaved (R, G, B of pixel
 * (y=0, x=0), then of (0, 1), ...): the byte of channel `c`, row `y`, column `x` of image `i`
 * is at `i*3072 + (y*32 + x)*3 + c`. The CIFAR-10 files are planar (all R, then all G, then
 * all B); {@link loadCifar10} converts at load time so batches can be filled with one pass.
 * Pixels stay uint8 (0-255) until a batch is built, to keep 50,000 images at ~150 MB.
 */
export type ImageSet = {
  /** `size*32*32*3` bytes, HWC interleaved RGB per image. */
  readonly images: Uint8Array;
  /** One label per image, `0 <= label < classNames.length`. */
  readonly labels: Uint8Array;
  /** Number of images. */
  readonly size: number;
  readonly height: 32;
  readonly width: 32;
  readonly channels: 3;
  /** Class names in label order. */
  readonly classNames: readonly string[];
};

/**
 * Wrap existing bytes as an {@link ImageSet} (for synthetic fixtures and other sources).
 *
 * @param data - `images` (`n*3072` bytes, HWC RGB), `labels` (`n` bytes), optional
 *   `classNames` (defaults to {@link CIFAR10_CLASS_NAMES})
 * @returns an image set that shares (does not copy) the given arrays
 * @throws UnlearnError `UNLEARN_INVALID_OPTIONS` when the lengths disagree or a label is not
 *   below the number of classes
 */
export function createImageSet(data: { images: Uint8Array; labels: Uint8Array; classNames?: readonly string[] }): ImageSet {
  const classNames = data.classNames ?? CIFAR10_CLASS_NAMES;
  const size = data.labels.length;
  if (data.images.length !== size * CIFAR10_IMAGE_BYTES) {
    throw new UnlearnError(
      'UNLEARN_INVALID_OPTIONS',
      `images has ${data.images.length} bytes but ${size} labels need ${size * CIFAR10_IMAGE_BYTES} (32*32*3 per image); pass one label per 3072-byte image.`,
      { details: { field: 'images', bytes: data.images.length, labels: size } },
    );
  }
  for (let i = 0; i < size; i++) {
    if (data.labels[i] >= classNames.length) {
      throw new UnlearnError(
        'UNLEARN_INVALID_OPTIONS',
        `labels[${i}] is ${data.labels[i]}, outside 0..${classNames.length - 1}; labels must index classNames.`,
        { details: { field: 'labels', index: i, value: data.labels[i] } },
      );
    }
  }
  return { images: data.images, labels: data.labels, size, height: 32, width: 32, channels: 3, classNames };
}
