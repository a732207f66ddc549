/** Where the official binary archive lives. */
export const CIFAR10_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';

/** MD5 of the official `cifar-10-binary.tar.gz`, as published on the CIFAR page. */
export const CIFAR10_ARCHIVE_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';

/** The folder inside the official archive that holds the binary files. */
export const CIFAR10_ARCHIVE_FOLDER = 'cifar-10-batches-bin';

/** The class-name file of the binary version. */
export const CIFAR10_META_FILE = 'batches.meta.txt';

/** The five training files, in record order (train index `i` is in file `floor(i/10000)`). */
export const CIFAR10_TRAIN_FILES: readonly string[] = Object.freeze([
  'data_batch_1.bin',
  'data_batch_2.bin',
  'data_batch_3.bin',
  'data_batch_4.bin',
  'data_batch_5.bin',
]);

/** The test file. */
export const CIFAR10_TEST_FILES: readonly string[] = Object.freeze(['test_batch.bin']);

/**
 * SHA-256 of each official file of `cifar-10-batches-bin/` (the same list as the data
 * folder's `SHA256SUMS`), checked after extraction.
 */
export const CIFAR10_FILE_SHA256: Readonly<Record<string, string>> = Object.freeze({
  'batches.meta.txt': '558e74b5e208382e186da55784b4bac2cd52e558448e1b5800990fdb28ed8033',
  'data_batch_1.bin': 'cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5',
  'data_batch_2.bin': 'a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed',
  'data_batch_3.bin': 'bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67',
  'data_batch_4.bin': '014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48',
  'data_batch_5.bin': '755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add',
  'test_batch.bin': '8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b',
});
