#!/usr/bin/env python3
"""Make the PyTorch fixtures that @unlearnjs/interop's tests compare against.

Builds the reference CIFAR ResNet-18 (OPTML-Group/Unlearn-Sparse, models/ResNet.py: 3x3 stem,
no max-pool, BasicBlocks with a `downsample` projection, input normalisation inside the model
as the buffers `normalize.mean`/`normalize.std`) at a small width, gives it seeded weights and
BatchNorm statistics, prunes every conv weight with torch.nn.utils.prune.global_unstructured
(L1Unstructured, amount 0.5, as the reference's pruner does) and writes into
packages/interop/test/fixtures/:

- resnet18-w4-pruned.safetensors: the state_dict saved while pruned (conv `weight_orig` +
  `weight_mask`, F32; `num_batches_tracked` I64), as the reference's checkpoints hold it.
- resnet18-w4-plain-f16.safetensors: the same model after prune.remove (plain `weight` with
  exact zeros), every float tensor stored as F16.
- resnet18-w4-io.safetensors: 4 input images in [0, 1] (NCHW), the logits PyTorch computes for
  them in eval mode and in train mode (pruned model), the BatchNorm running statistics after
  that train-mode forward, and the eval logits of the F16 plain model.
- dtypes.safetensors: a few values PyTorch encodes as F16, BF16, F64, I64, I32, U8 and BOOL.

Then (unless --no-export-check) it exports the imported fixture back with unlearnjs
(packages/interop/scripts/export-torch-fixture.ts, through tsx), loads the exported files into
the reference architecture with load_state_dict(strict=True), and compares the logits.

Run from the repository root with Debian's PyTorch (apt-get install python3-torch):
    /usr/bin/python3 scripts/make-torch-fixtures.py
No `safetensors` Python package is needed: the format is written and read here directly.
CI does not run this script; the fixtures it writes are committed.
"""

import argparse
import copy
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.utils.prune as prune

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, 'packages', 'interop', 'test', 'fixtures')
WIDTH = 4
NUM_CLASSES = 10
CIFAR_MEAN = [0.4914, 0.4822, 0.4465]
CIFAR_STD = [0.2470, 0.2435, 0.2616]

# ---------------------------------------------------------------- the reference architecture


class Normalize(nn.Module):
    """(x - mean) / std per channel, with mean and std as buffers (they are in the state_dict)."""

    def __init__(self):
        super().__init__()
        self.register_buffer('mean', torch.tensor(CIFAR_MEAN))
        self.register_buffer('std', torch.tensor(CIFAR_STD))

    def forward(self, x):
        return x.sub(self.mean[None, :, None, None]).div(self.std[None, :, None, None])


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, downsample):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """The reference's CIFAR ResNet-18 with its 64 input planes made a parameter (`width`)."""

    def __init__(self, width=64, num_classes=10):
        super().__init__()
        self.normalize = Normalize()
        self.conv1 = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity()
        cin = width
        for stage in range(4):
            cout = width * 2**stage
            stride = 1 if stage == 0 else 2
            blocks = []
            for b in range(2):
                s = stride if b == 0 else 1
                down = None
                if s != 1 or cin != cout:
                    down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=s, bias=False), nn.BatchNorm2d(cout))
                blocks.append(BasicBlock(cin, cout, s, down))
                cin = cout
            setattr(self, f'layer{stage + 1}', nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(self.normalize(x)))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def convs(model):
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def batch_norms(model):
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]


# ---------------------------------------------------------------- safetensors, by the spec

DTYPES = {
    torch.float32: ('F32', np.float32),
    torch.float16: ('F16', np.float16),
    torch.float64: ('F64', np.float64),
    torch.int64: ('I64', np.int64),
    torch.int32: ('I32', np.int32),
    torch.uint8: ('U8', np.uint8),
    torch.bool: ('BOOL', np.bool_),
}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return 'BF16', t.view(torch.int16).numpy().astype('<i2').tobytes()
    name, np_type = DTYPES[t.dtype]
    return name, t.numpy().astype(np.dtype(np_type).newbyteorder('<')).tobytes()


def write_safetensors(path, tensors, metadata=None):
    """8-byte LE header length, JSON header padded with spaces to 8 bytes, then the data."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header['__metadata__'] = metadata
    for name, t in tensors.items():
        dtype, data = tensor_bytes(t)
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def read_safetensors(path):
    np_types = {'F32': '<f4', 'F16': '<f2', 'F64': '<f8', 'I64': '<i8', 'I32': '<i4', 'U8': 'u1', 'BOOL': '?'}
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8 : 8 + n])
    metadata = header.pop('__metadata__', {})
    out = {}
    for name, e in header.items():
        begin, end = e['data_offsets']
        data = np.frombuffer(raw[8 + n + begin : 8 + n + end], dtype=np_types[e['dtype']]).reshape(e['shape'])
        out[name] = torch.from_numpy(data.copy())
    return out, metadata


# ---------------------------------------------------------------- fixtures


def make_model():
    torch.manual_seed(18)
    model = ResNet18(WIDTH, NUM_CLASSES)
    # Non-trivial BatchNorm: affine parameters away from (1, 0), and running statistics from a
    # few training-mode passes over random images (so that num_batches_tracked is 3).
    with torch.no_grad():
        for _, bn in batch_norms(model):
            bn.weight.copy_(1 + 0.2 * torch.randn_like(bn.weight))
            bn.bias.copy_(0.1 * torch.randn_like(bn.bias))
        model.train()
        for _ in range(3):
            model(torch.rand(16, 3, 32, 32))
    model.eval()
    return model


def effective_weight(conv):
    return conv.weight_orig * conv.weight_mask if hasattr(conv, 'weight_orig') else conv.weight


def relative_difference(a, b):
    """max |a - b| / max |b|: the largest error relative to the logits' scale."""
    return float((a - b).abs().max() / b.abs().max())


def make_fixtures():
    os.makedirs(FIXTURES, exist_ok=True)
    model = make_model()
    prune.global_unstructured([(m, 'weight') for _, m in convs(model)], pruning_method=prune.L1Unstructured, amount=0.5)
    pruned_state = model.state_dict()
    assert all(f'{n}.weight_orig' in pruned_state and f'{n}.weight_mask' in pruned_state for n, _ in convs(model))
    write_safetensors(os.path.join(FIXTURES, 'resnet18-w4-pruned.safetensors'), pruned_state, {'format': 'pt'})

    torch.manual_seed(1)
    inputs = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        model.eval()
        logits_eval = model(inputs)
        trained = copy.deepcopy(model)
        trained.train()
        logits_train = trained(inputs)
    io = {'inputs': inputs, 'logits_eval': logits_eval, 'logits_train': logits_train}
    for name, bn in batch_norms(trained):
        io[f'after_train.{name}.running_mean'] = bn.running_mean
        io[f'after_train.{name}.running_var'] = bn.running_var
        io[f'after_train.{name}.num_batches_tracked'] = bn.num_batches_tracked

    plain = copy.deepcopy(model)
    for _, m in convs(plain):
        prune.remove(m, 'weight')
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in plain.state_dict().items()}
    write_safetensors(os.path.join(FIXTURES, 'resnet18-w4-plain-f16.safetensors'), half, {'format': 'pt'})
    # The F16 weights in float32 arithmetic; the normalisation constants are CIFAR-10's (the
    # importer checks the F16 ones against them, and its models normalise with the exact values).
    from_half = ResNet18(WIDTH, NUM_CLASSES)
    from_half.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in half.items() if not k.startswith('normalize.')}, strict=False)
    from_half.eval()
    with torch.no_grad():
        io['plain_logits_eval'] = from_half(inputs)
    write_safetensors(os.path.join(FIXTURES, 'resnet18-w4-io.safetensors'), io)

    dtypes = {
        'f16': torch.tensor([1.0, -2.0, 65504.0, 2.0**-24, 1.0 / 3.0, -0.0, float('inf'), 0.1], dtype=torch.float16),
        'bf16': torch.tensor([1.0, 3.140625, -0.5, 1.0 / 3.0, 2.0**-133, -float('inf')], dtype=torch.bfloat16),
        'f64': torch.tensor([[np.pi, 1.0 / 3.0], [1e-40, -1e39]], dtype=torch.float64),
        'i64': torch.tensor([0, -1, 2**31 - 1, -(2**31)], dtype=torch.int64),
        'i32': torch.tensor([7, -8], dtype=torch.int32),
        'u8': torch.tensor([0, 1, 255], dtype=torch.uint8),
        'bool': torch.tensor([True, False, True]),
        'scalar': torch.tensor(2.5),
    }
    write_safetensors(os.path.join(FIXTURES, 'dtypes.safetensors'), dtypes, {'writer': 'make-torch-fixtures.py'})

    sparsity = sum(float((m.weight_mask == 0).sum()) for _, m in convs(model)) / sum(m.weight_mask.numel() for _, m in convs(model))
    print(f'fixtures in {os.path.relpath(FIXTURES, ROOT)}: width {WIDTH}, conv sparsity {sparsity:.3f}')
    for name in sorted(os.listdir(FIXTURES)):
        print(f'  {name}: {os.path.getsize(os.path.join(FIXTURES, name))} bytes')
    return model, inputs, logits_eval, logits_train, trained


def check_export(model, inputs, logits_eval, logits_train, trained_ref):
    """Export the pruned fixture with unlearnjs and load the result into the reference model."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for form in ('applied', 'weight_orig'):
            out = os.path.join(tmp, f'exported-{form}.safetensors')
            subprocess.run(
                ['npx', 'tsx', '--conditions=@unlearnjs/source', 'scripts/export-torch-fixture.ts', 'test/fixtures/resnet18-w4-pruned.safetensors', out, form],
                cwd=os.path.join(ROOT, 'packages', 'interop'),
                check=True,
            )
            state, metadata = read_safetensors(out)
            fresh = ResNet18(WIDTH, NUM_CLASSES)
            if form == 'weight_orig':
                for _, m in convs(fresh):
                    prune.identity(m, 'weight')
            fresh.load_state_dict(state, strict=True)
            fresh.eval()
            # A pruned module recomputes `weight` only in its next forward: compare orig * mask.
            effective_ok = all(torch.equal(effective_weight(dict(fresh.named_modules())[n]), effective_weight(m)) for n, m in convs(model))
            masks_ok = form != 'weight_orig' or all(torch.equal(dict(fresh.named_modules())[n].weight_mask, m.weight_mask) for n, m in convs(model))
            with torch.no_grad():
                eval_diff = relative_difference(fresh(inputs), logits_eval)
                fresh.train()
                train_diff = relative_difference(fresh(inputs), logits_train)
            stats_ok = all(
                torch.allclose(a.running_mean, b.running_mean, rtol=1e-5, atol=1e-6) and torch.allclose(a.running_var, b.running_var, rtol=1e-5, atol=1e-6)
                for (_, a), (_, b) in zip(batch_norms(fresh), batch_norms(trained_ref))
            )
            ok = effective_ok and masks_ok and stats_ok and eval_diff < 1e-4 and train_diff < 1e-4
            print(
                f'export ({form}) -> torch load_state_dict(strict=True): effective weights identical {effective_ok}, '
                f'masks identical {masks_ok}, max relative logit difference eval {eval_diff:.2e} train {train_diff:.2e}, '
                f'running stats after train forward match {stats_ok}, metadata {metadata}'
            )
            results.append(ok)
    return all(results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--no-export-check', action='store_true', help='only write the fixtures')
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, inputs, logits_eval, logits_train, trained = make_fixtures()
    if not args.no_export_check and not check_export(model, inputs, logits_eval, logits_train, trained):
        print('export check FAILED', file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main()
