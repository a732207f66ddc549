/**
 * How the reference's PyTorch ResNet-18 state_dict names map onto core's `resnet18` names.
 * @internal
 */

/** How a tensor is laid out on each side. */
export type SlotKind = 'conv' | 'fc' | 'vector' | 'count' | 'normalize';

/** One tensor of the reference state_dict and where it lives in our model. */
export interface Slot {
  /** The PyTorch name, e.g. `layer2.0.conv1.weight`. */
  readonly torch: string;
  /** Our name, e.g. `stage2.block0.conv1.kernel`; empty for `num_batches_tracked` and `normalize.*`. */
  readonly ours: string;
  readonly kind: SlotKind;
  /** The shape PyTorch stores (`[out, in, kh, kw]` for convs, `[out, in]` for the classifier). */
  readonly torchShape: readonly number[];
}

/** Which name the reference's projection shortcut has: `downsample` (models/ResNet.py) or `shortcut`. */
export type ShortcutName = 'downsample' | 'shortcut';

const BN_FIELDS: ReadonlyArray<[string, string]> = [
  ['weight', 'gamma'],
  ['bias', 'beta'],
  ['running_mean', 'runningMean'],
  ['running_var', 'runningVar'],
];

function batchNormSlots(torch: string, ours: string, c: number, out: Slot[]): void {
  for (const [t, o] of BN_FIELDS) out.push({ torch: `${torch}.${t}`, ours: `${ours}.${o}`, kind: 'vector', torchShape: [c] });
  out.push({ torch: `${torch}.num_batches_tracked`, ours: '', kind: 'count', torchShape: [] });
}

/**
 * Every tensor of the reference's CIFAR ResNet-18 state_dict at a width, in state_dict order.
 *
 * @param width - the stem's channels (the reference's `inplanes`, 64)
 * @param numClasses - classifier outputs
 * @param shortcut - the name of each projection shortcut, by block prefix (`layer2.0`);
 *   `downsample` where not given
 * @returns the slots
 * @internal
 */
export function torchResNet18Slots(width: number, numClasses: number, shortcut: ReadonlyMap<string, ShortcutName> = new Map()): Slot[] {
  const out: Slot[] = [
    { torch: 'normalize.mean', ours: '', kind: 'normalize', torchShape: [3] },
    { torch: 'normalize.std', ours: '', kind: 'normalize', torchShape: [3] },
    { torch: 'conv1.weight', ours: 'stem.conv.kernel', kind: 'conv', torchShape: [width, 3, 3, 3] },
  ];
  batchNormSlots('bn1', 'stem.bn', width, out);
  let cin = width;
  for (let s = 0; s < 4; s++) {
    const cout = width * 2 ** s;
    for (let b = 0; b < 2; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      const t = `layer${s + 1}.${b}`;
      const o = `stage${s + 1}.block${b}`;
      out.push({ torch: `${t}.conv1.weight`, ours: `${o}.conv1.kernel`, kind: 'conv', torchShape: [cout, cin, 3, 3] });
      batchNormSlots(`${t}.bn1`, `${o}.bn1`, cout, out);
      out.push({ torch: `${t}.conv2.weight`, ours: `${o}.conv2.kernel`, kind: 'conv', torchShape: [cout, cout, 3, 3] });
      batchNormSlots(`${t}.bn2`, `${o}.bn2`, cout, out);
      if (stride !== 1 || cin !== cout) {
        const sc = `${t}.${shortcut.get(t) ?? 'downsample'}`;
        out.push({ torch: `${sc}.0.weight`, ours: `${o}.shortcut.conv.kernel`, kind: 'conv', torchShape: [cout, cin, 1, 1] });
        batchNormSlots(`${sc}.1`, `${o}.shortcut.bn`, cout, out);
      }
      cin = cout;
    }
  }
  out.push({ torch: 'fc.weight', ours: 'fc.kernel', kind: 'fc', torchShape: [numClasses, cin] });
  out.push({ torch: 'fc.bias', ours: 'fc.bias', kind: 'vector', torchShape: [numClasses] });
  return out;
}

/**
 * PyTorch's conv weight `[out, in, kh, kw]` as a tfjs kernel `[kh, kw, in, out]`.
 * @internal
 */
export function oihwToHwio(src: Float32Array, shape: readonly number[]): Float32Array {
  const [o, i, h, w] = shape;
  const out = new Float32Array(src.length);
  for (let a = 0; a < o; a++) {
    for (let b = 0; b < i; b++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) out[((y * w + x) * i + b) * o + a] = src[((a * i + b) * h + y) * w + x];
      }
    }
  }
  return out;
}

/**
 * A tfjs kernel `[kh, kw, in, out]` as PyTorch's conv weight `[out, in, kh, kw]`.
 * @internal
 */
export function hwioToOihw(src: Float32Array, shape: readonly number[]): Float32Array {
  const [h, w, i, o] = shape;
  const out = new Float32Array(src.length);
  for (let a = 0; a < o; a++) {
    for (let b = 0; b < i; b++) {
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) out[((a * i + b) * h + y) * w + x] = src[((y * w + x) * i + b) * o + a];
      }
    }
  }
  return out;
}

/**
 * The transpose of a row-major `[rows, cols]` matrix.
 * @internal
 */
export function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c];
  return out;
}
