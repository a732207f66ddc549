"""Time to accuracy, PyTorch peer of bench/time-to-accuracy.ts: the same recipe on the same images.

The TS bench writes the train split's indices (positions in data_batch_1..5.bin, file order)
and runs this script after its own run, passing the recipe as JSON (the `standard` preset's
dense training), so the two frameworks train exactly the same images with the same schedule:

  /usr/bin/python3 bench/time-to-accuracy.py --indices runs/time-to-accuracy/train-indices.json \\
      --recipe '{"epochs":30,"batchSize":128,"lr":0.1,"momentum":0.9,"nesterov":true,
                 "weightDecay":0.0005,"schedule":{"type":"cosine"},"warmupEpochs":1,
                 "labelSmoothing":0.1,"width":16}' --threads 2 [--epochs N] [--test-limit N]

(`pnpm bench:tta --peer-only` writes the indices and runs it.) Debian's PyTorch:
`apt-get install -y python3-torch`; run with OPENBLAS_NUM_THREADS=1 (the TS bench sets it).

What matches core's train() (packages/core/src/training/train.ts) and model:
- the CIFAR ResNet-18 of the shared peers' torch_throughput.py (3x3 stem, no max-pool, widths
  w, 2w, 4w, 8w, 1x1 projection shortcuts), copied here, with the CIFAR mean/std normalisation
  inside the model as core's, He-normal (fan-in) conv init and PyTorch's default Linear init;
- SGD (momentum, Nesterov, weight decay on every parameter: PyTorch's semantics, which core's
  SgdOptimizer follows), F.cross_entropy with label_smoothing;
- the lr per epoch from core's learningRateAt: linear warm-up lr·(e+1)/(w+1) for e < w, then
  cosine over the schedule's epochs (per epoch, not per step);
- each epoch a fresh random order, every image once, the last batch smaller (no drop_last);
  random crop of the 4-pixel zero-padded 40x40 image and a horizontal flip with p 0.5, built
  in the training loop on the main thread as core's batches() does (no DataLoader workers:
  they would take cores from the training);
- evaluation on the test set after every epoch (eval mode, batches of the training batch size),
  not counted in `seconds`.

Prints one JSON line per epoch (framework, epoch, seconds = training seconds so far, wallSeconds,
testAccuracy, loss, lr, imagesPerSecond, loadavg) and a final line; progress goes to stderr.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

CIFAR_MEAN = [0.4914, 0.4822, 0.4465]
CIFAR_STD = [0.247, 0.2435, 0.2616]
TRAIN_FILES = [f'data_batch_{i}.bin' for i in range(1, 6)]
PAD = 4


class Block(nn.Module):
    def __init__(s, i, o, st):
        super().__init__()
        s.c1, s.b1 = nn.Conv2d(i, o, 3, st, 1, bias=False), nn.BatchNorm2d(o)
        s.c2, s.b2 = nn.Conv2d(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o)
        s.sc = nn.Sequential() if st == 1 and i == o else nn.Sequential(nn.Conv2d(i, o, 1, st, bias=False), nn.BatchNorm2d(o))

    def forward(s, x):
        return F.relu(s.b2(s.c2(F.relu(s.b1(s.c1(x))))) + s.sc(x))


class ResNet18(nn.Module):
    """CIFAR variant: 3x3 stride-1 stem, no max-pool, widths w, 2w, 4w, 8w; normalises its input."""

    def __init__(s, w=64):
        super().__init__()
        s.register_buffer('mean', torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1))
        s.register_buffer('std', torch.tensor(CIFAR_STD).view(1, 3, 1, 1))
        s.stem = nn.Sequential(nn.Conv2d(3, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU())
        layers, i = [], w
        for k, m in enumerate([1, 2, 4, 8]):
            layers += [Block(i, w * m, 1 if k == 0 else 2), Block(w * m, w * m, 1)]
            i = w * m
        s.layers, s.fc = nn.Sequential(*layers), nn.Linear(i, 10)
        for mod in s.modules():
            if isinstance(mod, nn.Conv2d):
                # core's 'he-normal': N(0, 2 / fan_in)
                nn.init.kaiming_normal_(mod.weight, mode='fan_in', nonlinearity='relu')

    def forward(s, x):
        x = (x - s.mean) / s.std
        return s.fc(F.adaptive_avg_pool2d(s.layers(s.stem(x)), 1).flatten(1))


def default_data_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get('CIFAR10_DIR') or os.path.join(here, '..', '..', 'shared', 'data', 'cifar10')


def read_records(path, limit=None):
    """CIFAR-10 binary records: a label byte, then 3072 bytes (R, G, B planes of 32x32)."""
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)
    if limit is not None:
        raw = raw[:limit]
    return raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0].astype(np.int64)


def load(data_dir, split, limit=None):
    if split == 'test':
        return read_records(os.path.join(data_dir, 'test_batch.bin'), limit)
    parts = [read_records(os.path.join(data_dir, f)) for f in TRAIN_FILES]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def lr_at(base, epoch, total, schedule, warmup):
    """core's learningRateAt (packages/core/src/training/schedule.ts)."""
    if warmup > 0 and epoch < warmup:
        return base * (epoch + 1) / (warmup + 1)
    kind = schedule.get('type', 'constant')
    if kind == 'constant':
        return base
    if kind == 'multistep':
        passed = sum(1 for m in schedule['milestones'] if epoch >= m)
        return base * schedule.get('gamma', 0.1) ** passed
    if kind == 'cosine':
        min_lr = schedule.get('minLr', 0.0)
        t = min(1.0, max(0.0, epoch / max(1, total)))
        return min_lr + 0.5 * (base - min_lr) * (1 + math.cos(math.pi * t))
    raise ValueError(f'unknown schedule {kind}')


def augmented_batch(padded, ids, gen):
    """Random 32x32 crops of the zero-padded 40x40 images, each flipped with p 0.5, as [0, 1] floats."""
    n = ids.shape[0]
    xb = padded[ids]  # (n, 3, 40, 40) uint8
    dy = torch.randint(0, 2 * PAD + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * PAD + 1, (n,), generator=gen)
    flip = torch.rand(n, generator=gen) < 0.5
    r = torch.arange(32)
    rows = dy[:, None] + r[None, :]
    cols = dx[:, None] + torch.where(flip[:, None], 31 - r[None, :], r[None, :])
    out = xb[torch.arange(n)[:, None, None, None], torch.arange(3)[None, :, None, None], rows[:, None, :, None], cols[:, None, None, :]]
    return out.float().div_(255)


def evaluate(model, x, y, batch):
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, x.shape[0], batch):
            logits = model(x[s:s + batch].float().div_(255))
            correct += int((logits.argmax(1) == y[s:s + batch]).sum())
    return 100.0 * correct / x.shape[0]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--indices', required=True, help='JSON file with "train": [positions in data_batch_1..5.bin]')
    p.add_argument('--data', default=default_data_dir(), help='CIFAR-10 binary folder (default CIFAR10_DIR, else ../shared/data/cifar10)')
    p.add_argument('--recipe', required=True, help='the recipe as JSON (core train() options + width)')
    p.add_argument('--epochs', type=int, help='stop after this many epochs of the schedule (default: all)')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--target', type=float, default=88.0)
    p.add_argument('--test-limit', type=int)
    a = p.parse_args()
    rc = json.loads(a.recipe)
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    note = lambda m: print(f'[bench:tta pytorch] {m}', file=sys.stderr, flush=True)

    with open(a.indices) as f:
        idx = np.asarray(json.load(f)['train'], dtype=np.int64)
    x_all, y_all = load(a.data, 'train')
    x_train = torch.from_numpy(np.ascontiguousarray(x_all[idx]))
    y_train = torch.from_numpy(y_all[idx])
    padded = F.pad(x_train, (PAD, PAD, PAD, PAD))
    x_test, y_test = (torch.from_numpy(np.ascontiguousarray(v)) for v in load(a.data, 'test', a.test_limit))
    n = x_train.shape[0]
    note(f'pytorch {torch.__version__}, {torch.get_num_threads()} threads; train {n} images, test {x_test.shape[0]}; recipe {json.dumps(rc)}')

    model = ResNet18(int(rc.get('width', 16)))
    opt = torch.optim.SGD(model.parameters(), lr=rc['lr'], momentum=rc.get('momentum', 0.9),
                          nesterov=bool(rc.get('nesterov', False)), weight_decay=rc.get('weightDecay', 5e-4))
    total = int(rc['epochs'])
    epochs = min(a.epochs or total, total)
    batch = int(rc.get('batchSize', 128))
    smoothing = float(rc.get('labelSmoothing', 0.0))
    schedule = rc.get('schedule', {'type': 'constant'})
    warmup = int(rc.get('warmupEpochs', 0))
    augment = rc.get('augment', True)

    lines, train_seconds, t0 = [], 0.0, time.perf_counter()
    for epoch in range(epochs):
        lr = lr_at(rc['lr'], epoch, total, schedule, warmup)
        for g in opt.param_groups:
            g['lr'] = lr
        model.train()
        te = last = time.perf_counter()
        order = torch.randperm(n, generator=gen)
        loss_sum, seen = 0.0, 0
        for s in range(0, n, batch):
            ids = order[s:s + batch]
            x = augmented_batch(padded, ids, gen) if augment else x_train[ids].float().div_(255)
            loss = F.cross_entropy(model(x), y_train[ids], label_smoothing=smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(loss) * ids.shape[0]
            seen += ids.shape[0]
            now = time.perf_counter()
            if now - last >= 30:
                last = now
                note(f'epoch {epoch + 1}/{epochs} {seen}/{n} img {seen / (now - te):.1f} img/s loss {loss_sum / seen:.4f}')
        seconds = time.perf_counter() - te
        train_seconds += seconds
        # In training-size batches: batches of 500-1000 ran several times slower here (Debian's 1.13).
        acc = evaluate(model, x_test, y_test, batch)
        line = {'framework': 'pytorch', 'epoch': epoch + 1, 'seconds': round(train_seconds, 2),
                'wallSeconds': round(time.perf_counter() - t0, 2), 'testAccuracy': round(acc, 2),
                'loss': round(loss_sum / seen, 4), 'lr': round(lr, 6), 'imagesPerSecond': round(n / seconds, 1),
                'loadavg': round(os.getloadavg()[0], 2)}
        lines.append(line)
        print(json.dumps(line), flush=True)
        note(f'epoch {epoch + 1}/{epochs} done in {seconds:.1f}s, test accuracy {acc:.2f}%')

    hit = next((l for l in lines if l['testAccuracy'] >= a.target), None)
    print(json.dumps({'framework': 'pytorch', 'final': True, 'peer': 'pytorch ' + torch.__version__, 'threads': a.threads,
                      'epochs': len(lines), 'trainImages': n, 'seconds': lines[-1]['seconds'] if lines else None,
                      'wallSeconds': lines[-1]['wallSeconds'] if lines else None,
                      'testAccuracy': lines[-1]['testAccuracy'] if lines else None,
                      'bestTestAccuracy': max((l['testAccuracy'] for l in lines), default=None), 'target': a.target,
                      'reachedTarget': {'epoch': hit['epoch'], 'seconds': hit['seconds']} if hit else None,
                      'meanEpochSeconds': round(train_seconds / len(lines), 2) if lines else None,
                      'loadavg': round(os.getloadavg()[0], 2)}), flush=True)


if __name__ == '__main__':
    main()
