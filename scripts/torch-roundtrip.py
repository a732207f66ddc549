#!/usr/bin/env python3
"""A PyTorch ResNet-18 through unlearnjs and back: the check a user of the reference code makes.

1. PyTorch trains the reference CIFAR ResNet-18 (OPTML-Group/Unlearn-Sparse's architecture, width
   64) on the `quick` preset's data (the first 3,000 CIFAR-10 train images), prunes it with
   torch.nn.utils.prune.global_unstructured (L1, 50%) and saves its state_dict while pruned
   (`weight_orig` + `weight_mask`) as safetensors.
2. unlearnjs imports it (`unlearn import`), forgets class 0 with FT (`unlearn forget --unlearn FT`)
   on the same data, and exports it (`unlearn export --format safetensors`).
3. PyTorch loads the export with load_state_dict(strict=True) into the plain reference model and
   measures test accuracy on class 0 and on the other classes, before and after; it checks that
   every pruned weight is still exactly zero.

Run from the repository root with Debian's PyTorch (apt-get install python3-torch):
    /usr/bin/python3 scripts/torch-roundtrip.py [--epochs 2] [--out runs/torch-roundtrip]
CIFAR-10 is read from $CIFAR10_DIR (else ../shared/data/cifar10). Not run by CI.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.prune as prune

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location('torch_fixtures', os.path.join(ROOT, 'scripts', 'make-torch-fixtures.py'))
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)


def read_cifar(path, limit):
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)[:limit]
    x = torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0)
    y = torch.from_numpy(raw[:, 0].astype(np.int64))
    return x, y


def load_data(data_dir, train_limit, test_limit):
    xs, ys = [], []
    for i in range(1, 6):
        x, y = read_cifar(os.path.join(data_dir, f'data_batch_{i}.bin'), train_limit - sum(len(t) for t in ys))
        xs.append(x)
        ys.append(y)
        if sum(len(t) for t in ys) >= train_limit:
            break
    test = read_cifar(os.path.join(data_dir, 'test_batch.bin'), test_limit)
    return (torch.cat(xs), torch.cat(ys)), test


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(x[i : i + 250]).argmax(1) for i in range(0, len(x), 250)])
    return 100.0 * (pred == y).float().mean().item() if len(y) else float('nan')


def class_split_accuracy(model, test, c=0):
    x, y = test
    return accuracy(model, x[y == c], y[y == c]), accuracy(model, x[y != c], y[y != c])


def run(cmd):
    print('$', ' '.join(cmd), flush=True)
    t0 = time.time()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    sys.stderr.write(res.stderr[-3000:])
    if res.returncode != 0:
        print(res.stdout)
        raise SystemExit(f'command failed ({res.returncode})')
    return res.stdout, time.time() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--out', default=os.path.join(ROOT, 'runs', 'torch-roundtrip'))
    p.add_argument('--data', default=os.environ.get('CIFAR10_DIR', os.path.join(ROOT, '..', 'shared', 'data', 'cifar10')))
    args = p.parse_args()
    data_dir = args.data
    if os.path.isdir(os.path.join(data_dir, 'cifar-10-batches-bin')):
        data_dir = os.path.join(data_dir, 'cifar-10-batches-bin')
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(2)
    (x, y), test = load_data(data_dir, 3000, 1000)

    # 1. PyTorch: train, prune as the reference does, save while pruned.
    model = fx.ResNet18(64, 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    t0 = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = perm[i : i + 64]
            xb = x[idx]
            xb = torch.where(torch.rand(len(idx), 1, 1, 1) < 0.5, xb.flip(3), xb)  # horizontal flips
            loss = F.cross_entropy(model(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        print(f'torch: epoch {epoch + 1}/{args.epochs}, loss {loss.item():.3f} ({time.time() - t0:.0f} s)', flush=True)
    prune.global_unstructured([(m, 'weight') for _, m in fx.convs(model)], pruning_method=prune.L1Unstructured, amount=0.5)
    before = class_split_accuracy(model, test)
    src = os.path.join(args.out, 'resnet18-pruned.safetensors')
    fx.write_safetensors(src, model.state_dict())
    masks = {name: m.weight_mask.clone() for name, m in fx.convs(model)}
    print(f'torch: test accuracy class 0 {before[0]:.1f}%, other classes {before[1]:.1f}% (50% of conv weights pruned)')

    # 2. unlearnjs: import, forget class 0 with FT, export.
    ckpt = os.path.join(args.out, 'imported.ckpt')
    unlearn = ['node', 'packages/cli/bin/unlearn.js']
    out, s_import = run(unlearn + ['import', '--from', src, '--arch', 'resnet18', '--out', ckpt])
    print(out.strip())
    common = ['--data', args.data, '--train-limit', '3000', '--test-limit', '1000', '--quiet']
    out, s_forget = run(unlearn + ['forget', '--mask', ckpt, '--unlearn', 'FT', '--unlearn-epochs', '1', '--unlearn-lr', '0.01',
                                   '--batch-size', '64', '--class-to-replace', '0', '--save-dir', os.path.join(args.out, 'forget')] + common)
    print(out.strip())
    unlearned = os.path.join(args.out, 'forget', 'ft', 'unlearned.ckpt')
    exported = os.path.join(args.out, 'unlearned.safetensors')
    out, s_export = run(unlearn + ['export', '--checkpoint', unlearned, '--format', 'safetensors', '--out', exported])
    print(out.strip())

    # 3. PyTorch again: the plain reference model loads it strictly; masks held.
    back = fx.ResNet18(64, 10)
    state, _ = fx.read_safetensors(exported)
    back.load_state_dict(state, strict=True)
    after = class_split_accuracy(back, test)
    zeros_ok = all(bool((dict(back.named_modules())[name].weight[mask == 0] == 0).all()) for name, mask in masks.items())
    summary = {
        'torch_before': {'class0': before[0], 'others': before[1]},
        'torch_after_unlearnjs_ft': {'class0': after[0], 'others': after[1]},
        'pruned_weights_still_zero': zeros_ok,
        'seconds': {'import': round(s_import, 1), 'forget': round(s_forget, 1), 'export': round(s_export, 1)},
    }
    print(json.dumps(summary))
    if not zeros_ok:
        raise SystemExit('a pruned weight is not zero after the round trip')


if __name__ == '__main__':
    main()
