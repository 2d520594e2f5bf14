#!/usr/bin/python3
"""A small multi-scale CNN for presentation-attack detection, measured leave-one-source-out.

    /usr/bin/python3 training/liveness/train.py --cache data/liveness-training [--scales 1,2] [--colour rgb|ycc|hsvycc]
        [--adv 0.3] [--aug basic|strong] [--epochs 8] [--size 64] [--norm image|fixed] [--tag NAME] [--only f1,f2]
    /usr/bin/python3 training/liveness/train.py --cache data/liveness-training --export models/liveness/NAME.onnx [same options]

Reads the crops written by extract-crops.ts (CACHE/crops.tsv and CACHE/crops-s*.u8; context scale
1 = the face box, 2 and 3 = the box × 2 and × 3, 0 = the whole image). For every fold (see
protocol.py) trains a fresh model on every source but the fold's and scores the fold's images;
thresholds for a held-out source come from the other sources' out-of-fold scores. Writes
CACHE/oof-scores[-TAG].tsv and CACHE/report[-TAG].json|md (figures only, no pixels). CPU, torch 1.13
(Debian's python3-torch).

With --export, trains one model on every source instead, and writes it as ONNX with its
preprocessing inside (input per scale: N×3×96×96 RGB 0..255, the crop exactly as extract-crops.ts
and the product cut it; output: N live probabilities, the mirror-averaged score of the evaluation)
plus NAME.json (scales, crop size, thresholds from the LOSO report given by --thresholds-from).
"""
import argparse
import json
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from protocol import Data, evaluate, loso, summary_line, write  # noqa: E402


class GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lam):
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        return -ctx.lam * g, None


class Branch(nn.Module):
    """A small convolutional trunk for one context scale."""

    def __init__(self, width=16, cin=3):
        super().__init__()
        w = width

        def block(i, o, stride=1):
            return nn.Sequential(nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

        self.net = nn.Sequential(block(cin, w, 2), block(w, 2 * w), nn.MaxPool2d(2), block(2 * w, 4 * w), nn.MaxPool2d(2),
                                 block(4 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out = 4 * w

    def forward(self, x):
        return self.net(x)


class TwoScaleNet(nn.Module):
    """One branch per context scale, features concatenated, one logit (bona fide); optionally a
    source-classifier head behind a gradient reversal (domain-adversarial training)."""

    def __init__(self, n_scales=2, width=16, cin=3, n_domains=0):
        super().__init__()
        self.branches = nn.ModuleList([Branch(width, cin) for _ in range(n_scales)])
        self.drop = nn.Dropout(0.3)
        d = sum(b.out for b in self.branches)
        self.head = nn.Linear(d, 1)
        self.domain = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, n_domains)) if n_domains else None

    def features(self, xs):
        return torch.cat([b(x) for b, x in zip(self.branches, xs)], 1)

    def forward(self, xs):
        return self.head(self.drop(self.features(xs))).squeeze(1)


def resize_matrix(n_in, n_out):
    """The 1-D antialiased bilinear resize of F.interpolate as a matrix (n_out × n_in): the 2-D
    resize is A · X · Aᵀ, which ONNX runs as two MatMuls."""
    eye = torch.eye(n_in).reshape(n_in, 1, 1, n_in)
    out = F.interpolate(eye, size=(1, n_out), mode='bilinear', align_corners=False, antialias=True)
    return out.reshape(n_in, n_out).t().contiguous()


def colour_channels(x, colour):
    """x: N×3×H×W RGB 0..1 -> the input channels: RGB, + YCbCr ('ycc'), + HSV and YCbCr ('hsvycc')."""
    if colour == 'rgb':
        return x
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 0.5 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 0.5 + 0.5 * r - 0.418688 * g - 0.081312 * b
    chans = [x, y, cb, cr]
    if colour == 'hsvycc':
        mx = torch.max(torch.max(r, g), b)
        mn = torch.min(torch.min(r, g), b)
        d = mx - mn
        s = d / (mx + 1e-3)
        dd = d + 1e-3
        h = torch.where(mx == r, (g - b) / dd, torch.where(mx == g, (b - r) / dd + 2, (r - g) / dd + 4)) / 6
        chans = [x, h, s, mx, y, cb, cr]
    return torch.cat(chans, 1)


def preprocess(x, A, norm, colour):
    """x: N×3×S×S RGB 0..255 (the cached crop) -> the network's input at the model size."""
    x = x / 255.0
    if A is not None:
        x = torch.matmul(torch.matmul(A, x), A.t())
    x = colour_channels(x, colour)
    if norm == 'image':
        n, c = x.shape[:2]
        flat = x.reshape(n, c, -1)
        mean = flat.mean(2, keepdim=True)
        std = torch.sqrt(((flat - mean) ** 2).sum(2, keepdim=True) / (flat.shape[2] - 1))
        return ((flat - mean) / (std + 0.02)).reshape(x.shape)
    return (x - 0.5) / 0.25


def to_tensor(arr, size, norm, colour):
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).float()
    A = resize_matrix(x.shape[-1], size) if x.shape[-1] != size else None
    return torch.cat([preprocess(x[i:i + 256], A, norm, colour) for i in range(0, len(x), 256)])


def blur(t):
    k = torch.tensor([1.0, 2.0, 1.0]) / 4
    k2 = (k[:, None] * k[None, :]).expand(t.shape[1], 1, 3, 3).contiguous()
    return F.conv2d(F.pad(t, (1, 1, 1, 1), mode='replicate'), k2, groups=t.shape[1])


def augment(x, strong=False):
    """Flip, small shift, brightness/contrast jitter (same draw on every scale of an image); 'strong'
    adds per-channel gain (a colour cast), blur and noise, each on some images (camera differences)."""
    n = x[0].shape[0]
    flip = torch.rand(n) < 0.5
    gain = 1 + 0.2 * (torch.rand(n, 1, 1, 1) - 0.5)
    bias = 0.2 * (torch.rand(n, 1, 1, 1) - 0.5)
    if strong:
        gain = gain * (1 + 0.3 * (torch.rand(n, x[0].shape[1], 1, 1) - 0.5))
        do_blur = (torch.rand(n) < 0.3)[:, None, None, None]
        noise = 0.15 * torch.rand(n, 1, 1, 1) * (torch.rand(n, 1, 1, 1) < 0.3)
    dx, dy = random.randint(-3, 3), random.randint(-3, 3)
    out = []
    for t in x:
        t = torch.where(flip[:, None, None, None], t.flip(3), t)
        t = torch.roll(t, shifts=(dy, dx), dims=(2, 3))
        if strong:
            t = torch.where(do_blur, blur(t), t)
            t = t + noise * torch.randn_like(t)
        out.append(t * gain + bias)
    return out


def train_model(xs, y, groups, args, seed):
    torch.manual_seed(seed)
    random.seed(seed)
    domains = sorted(set(groups))
    dom = torch.tensor([domains.index(g) for g in groups])
    model = TwoScaleNet(len(xs), args.width, xs[0].shape[1], len(domains) if args.adv > 0 else 0)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-3)
    n = len(y)
    # Sampling weights: every source and class counts equally, whatever its size.
    keys = [(g, int(c)) for g, c in zip(groups, y.tolist())]
    count = {k: keys.count(k) for k in set(keys)}
    w = torch.tensor([1.0 / count[k] for k in keys])
    steps = args.epochs * ((n + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    model.train()
    for step in range(steps):
        idx = torch.multinomial(w, args.batch, replacement=True)
        batch = augment([x[idx] for x in xs], args.aug == 'strong')
        feats = model.features(batch)
        loss = F.binary_cross_entropy_with_logits(model.head(model.drop(feats)).squeeze(1), y[idx].float())
        if model.domain is not None:
            # The source head learns to tell the sources apart; the reversed gradient pushes the
            # features to hide them (ramped up as in Ganin & Lempitsky, 2015).
            p = step / steps
            lam = args.adv * (2 / (1 + np.exp(-10 * p)) - 1)
            loss = loss + F.cross_entropy(model.domain(GradReverse.apply(feats, lam)), dom[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    return model


@torch.no_grad()
def score(model, xs):
    out = []
    for i in range(0, xs[0].shape[0], 256):
        part = [x[i:i + 256] for x in xs]
        p = torch.sigmoid(model(part)) + torch.sigmoid(model([t.flip(3) for t in part]))
        out.append(p / 2)
    return torch.cat(out).numpy()


class Exported(nn.Module):
    """The trained model with its preprocessing and the mirror average, for ONNX."""

    def __init__(self, model, crop, size, norm, colour):
        super().__init__()
        self.model = model
        self.register_buffer('A', resize_matrix(crop, size) if crop != size else torch.zeros(0))
        self.norm, self.colour = norm, colour

    def forward(self, *crops):
        A = self.A if self.A.numel() else None
        xs = [preprocess(c, A, self.norm, self.colour) for c in crops]
        p = torch.sigmoid(self.model(xs)) + torch.sigmoid(self.model([t.flip(3) for t in xs]))
        return p / 2


def parse_scales(text):
    return [float(s) for s in text.split(',')]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cache', default=os.environ.get('LIVENESS_CACHE', 'data/liveness-training'))
    ap.add_argument('--epochs', type=int, default=8)
    ap.add_argument('--size', type=int, default=64)
    ap.add_argument('--width', type=int, default=16)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--scales', default='1,2', help='context scales, e.g. 1,2 (0 = the whole image)')
    ap.add_argument('--norm', choices=['fixed', 'image'], default='image')
    ap.add_argument('--colour', choices=['rgb', 'ycc', 'hsvycc'], default='rgb')
    ap.add_argument('--adv', type=float, default=0.0, help='weight of the source-adversarial head (0: none)')
    ap.add_argument('--aug', choices=['basic', 'strong'], default='basic')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--only', default='', help='comma-separated folds to run (for quick trials)')
    ap.add_argument('--tag', default='')
    ap.add_argument('--export', default='', help='train on every source and write this ONNX file (no evaluation)')
    ap.add_argument('--thresholds-from', default='', help='with --export: the LOSO report whose thresholds ship with the model')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t_start = time.time()

    data = Data(args.cache)
    scales = parse_scales(args.scales)
    xs = [to_tensor(data.crops(s), args.size, args.norm, args.colour) for s in scales]
    y = torch.from_numpy(data.labels)
    print(f'{len(y)} usable faces of {len(data.rows)} images, {len(data.sources)} sources, {len(data.folds)} folds, '
          f'scales {scales} at {args.size}², colour {args.colour}, {args.epochs} epochs, norm {args.norm}, adv {args.adv}, aug {args.aug}', flush=True)

    if args.export:
        export(args, data, xs, y, scales)
        return

    def fit_predict(train, test):
        t0 = time.time()
        tr, te = np.where(train)[0], np.where(test)[0]
        model = train_model([x[tr] for x in xs], y[tr], data.src[tr].tolist(), args, args.seed)
        out = score(model, [x[te] for x in xs])
        print(f'    ({time.time() - t0:.0f} s)', end='', flush=True)
        return out

    only = set(args.only.split(',')) if args.only else None
    if only is not None and len(only) < 2:
        raise SystemExit('--only needs at least two folds')
    oof, _ = loso(data, fit_predict, only=only)
    cmd = 'training/liveness/run.sh ' + ' '.join(sys.argv[1:])
    report = evaluate(data, oof, None, name=args.tag or 'cnn', command=cmd)
    report['args'] = vars(args)
    report['seconds'] = round(time.time() - t_start)
    write(report, oof, data, args.cache, args.tag)
    print(summary_line(report), f'| {report["seconds"]} s', flush=True)
    print(f'report in {args.cache}/report{"-" + args.tag if args.tag else ""}.json and .md')


def export(args, data, xs, y, scales):
    model = train_model(xs, y, data.src.tolist(), args, args.seed)
    crop = data.size
    wrapped = Exported(model, crop, args.size, args.norm, args.colour).eval()
    names = [f'crop_s{s:g}' for s in scales]
    dummy = tuple(torch.rand(1, 3, crop, crop) * 255 for _ in scales)
    os.makedirs(os.path.dirname(os.path.abspath(args.export)), exist_ok=True)
    torch.onnx.export(wrapped, dummy, args.export, input_names=names, output_names=['live'], opset_version=13,
                      dynamic_axes={**{n: {0: 'n'} for n in names}, 'live': {0: 'n'}})
    # A few reference scores for the TypeScript parity test: the first usable face of some sources.
    ref = {}
    with torch.no_grad():
        raw = [torch.from_numpy(data.crops(s)).permute(0, 3, 1, 2).float() for s in scales]
        for s in sorted(set(data.src)):
            i = int(np.where(data.src == s)[0][0])
            ref[data.usable[i]['path']] = round(float(wrapped(*[r[i:i + 1] for r in raw])[0]), 6)
    meta = {'format': 1, 'onnx': os.path.basename(args.export), 'inputs': names, 'crop_size': crop, 'context_scales': scales,
            'input': 'per context scale: N×3×S×S float RGB 0..255, the detector box × scale about its centre slid inside the image '
                     '(0 = the whole image), resampled by cropToPlanar', 'output': 'live: N probabilities of bona fide (mirror-averaged)',
            'train_args': {k: v for k, v in vars(args).items() if k not in ('cache', 'export', 'thresholds_from', 'only', 'tag')},
            'trained_on': f'{len(y)} faces of {len(set(data.src))} sources (every source)',
            'reference_scores': ref, 'command': 'training/liveness/run.sh --export ' + args.export}
    if args.thresholds_from:
        with open(args.thresholds_from) as f:
            rep = json.load(f)
        meta['thresholds'] = rep.get('product_thresholds')
        meta['thresholds_note'] = rep.get('product_thresholds_note')
    with open(os.path.splitext(args.export)[0] + '.json', 'w') as f:
        json.dump(meta, f, indent=1)
    print(f'wrote {args.export} ({os.path.getsize(args.export) / 1e6:.2f} MB) and its .json')


if __name__ == '__main__':
    main()
