/**
 * CIFAR-10 data layer: loading, downloading, splits, batching and augmentation.
 * @packageDocumentation
 */
export {
  CIFAR10_CLASS_NAMES,
  CIFAR10_IMAGE_BYTES,
  CIFAR10_RECORD_BYTES,
  createImageSet,
  type ImageSet,
} from './image-set.js';
export {
  CIFAR10_ARCHIVE_FOLDER,
  CIFAR10_ARCHIVE_MD5,
  CIFAR10_FILE_SHA256,
  CIFAR10_META_FILE,
  CIFAR10_TEST_FILES,
  CIFAR10_TRAIN_FILES,
  CIFAR10_URL,
} from './cifar10-files.js';
export { defaultCifar10Dir } from './default-cifar10-dir.js';
export { type DataProgressCallback, type DataProgressStage, reporterProgress, stderrProgress } from './progress.js';
export {
  CIFAR10_ARCHIVE_NAME,
  type Cifar10Checksums,
  type Cifar10OptionNames,
  type DownloadCifar10Options,
  downloadCifar10,
} from './download-cifar10.js';
export { type LoadCifar10Options, loadCifar10 } from './load-cifar10.js';
export {
  type Subset,
  fullSubset,
  subsetOf,
  subsetSize,
  subsetLabels,
  takeFirst,
  takePerClass,
} from './subset.js';
export { type DataSplits, type MakeSplitsOptions, makeSplits } from './make-splits.js';
export { AUGMENT_PADDING, type Batch, type BatchesOptions, batches, numBatches, toTensor } from './batches.js';
export { channelMeans } from './channel-means.js';
