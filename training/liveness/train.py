#!/usr/bin/python3
"""A small two-scale CNN for presentation-attack detection, measured leave-one-source-out.

    /usr/bin/python3 training/liveness/train.py --cache data/liveness-training [--epochs 8] [--size 64] [--norm image|fixed] [--scales all|0|1]

Reads the crops written by extract-crops.ts (CACHE/crops.tsv and CACHE/crops-s*.u8). For every
fold, trains a fresh model on every source but the fold's and scores the fold's images (out-of-fold
scores). Folds: one per source, except that the three small legacy sets (the two single-person
pyimagesearch sets and the three Silent-Face samples) are held out together, so that they are
judged by a model trained without any of them.

Thresholds for a held-out source are set on the out-of-fold scores of the OTHER sources only
(macro-averaged per source, targets below), then applied to the held-out source:
  LOW    largest threshold with mean BPCER <= 2 % on the other sources
  MEDIUM the threshold minimising max(mean APCER, mean BPCER) on the other sources (an EER point)
  HIGH   smallest threshold with mean APCER <= 1 % on the other sources
APCER is given per attack kind (print / screen / unknown). Images where the product finds no face
(or refuses the image) are failures to acquire: counted per source, not in APCER/BPCER; faces with
eyes under 12 px apart (the product's low_quality) likewise.

Writes CACHE/oof-scores.tsv and CACHE/report.json (figures only, no pixels). CPU, torch 1.13
(Debian's python3-torch). No weights are written by default (--save-full trains one model on all
sources and saves it to CACHE/model-all.pt).
"""
import argparse
import csv
import json
import os
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

LEGACY = {'pyimagesearch_style_apfol', 'pyimagesearch_style_shubhamlala', 'silent_face_samples'}
MIN_INTER_EYE = 12.0
LEVELS = ['LOW', 'MEDIUM', 'HIGH']


def load(cache):
    with open(os.path.join(cache, 'crops.json')) as f:
        meta = json.load(f)
    with open(os.path.join(cache, 'crops.tsv'), newline='') as f:
        rows = list(csv.DictReader(f, delimiter='\t'))
    S = meta['size']
    scales = [np.fromfile(os.path.join(cache, f'crops-s{s:.1f}.u8'), dtype=np.uint8).reshape(-1, S, S, 3) for s in meta['scales']]
    return meta, rows, scales


class Branch(nn.Module):
    """A small convolutional trunk for one context scale."""

    def __init__(self, width=16):
        super().__init__()
        w = width

        def block(i, o, stride=1):
            return nn.Sequential(nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))

        self.net = nn.Sequential(block(3, w, 2), block(w, 2 * w), nn.MaxPool2d(2), block(2 * w, 4 * w), nn.MaxPool2d(2),
                                 block(4 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out = 4 * w

    def forward(self, x):
        return self.net(x)


class TwoScaleNet(nn.Module):
    """One branch per context scale (face box ×1 and ×2), features concatenated, one logit (bona fide)."""

    def __init__(self, n_scales=2, width=16):
        super().__init__()
        self.branches = nn.ModuleList([Branch(width) for _ in range(n_scales)])
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(sum(b.out for b in self.branches), 1)

    def forward(self, xs):
        return self.head(self.drop(torch.cat([b(x) for b, x in zip(self.branches, xs)], 1))).squeeze(1)


def to_tensor(arr, size, norm='fixed'):
    """uint8 N×H×W×3 -> float N×3×size×size. norm 'fixed': (x − 0.5) / 0.25 for every image;
    'image': each image's channels standardised by their own mean and spread (removes the
    camera's and the light's overall colour cast and exposure, which differ by source)."""
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)
    if x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode='bilinear', align_corners=False, antialias=True)
    if norm == 'image':
        return (x - x.mean((2, 3), keepdim=True)) / (x.std((2, 3), keepdim=True) + 0.02)
    return (x - 0.5) / 0.25


def augment(x):
    """Flip, small shift, brightness/contrast jitter (same draw on every scale of an image)."""
    n = x[0].shape[0]
    flip = torch.rand(n) < 0.5
    gain = 1 + 0.2 * (torch.rand(n, 1, 1, 1) - 0.5)
    bias = 0.2 * (torch.rand(n, 1, 1, 1) - 0.5)
    dx, dy = random.randint(-3, 3), random.randint(-3, 3)
    out = []
    for t in x:
        t = torch.where(flip[:, None, None, None], t.flip(3), t)
        t = torch.roll(t, shifts=(dy, dx), dims=(2, 3))
        out.append(t * gain + bias)
    return out


def train_model(xs, y, groups, args, seed):
    torch.manual_seed(seed)
    random.seed(seed)
    model = TwoScaleNet(len(xs), args.width)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-3)
    n = len(y)
    # Sampling weights: every source and class counts equally, whatever its size.
    keys = [(g, int(c)) for g, c in zip(groups, y.tolist())]
    count = {k: keys.count(k) for k in set(keys)}
    w = torch.tensor([1.0 / count[k] for k in keys])
    steps = args.epochs * ((n + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps)
    model.train()
    for _ in range(steps):
        idx = torch.multinomial(w, args.batch, replacement=True)
        batch = augment([x[idx] for x in xs])
        loss = F.binary_cross_entropy_with_logits(model(batch), y[idx].float())
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


def rates(scores, labels, t):
    att, bf = scores[labels == 0], scores[labels == 1]
    apcer = float((att >= t).mean()) if len(att) else float('nan')
    bpcer = float((bf < t).mean()) if len(bf) else float('nan')
    return apcer, bpcer


def thresholds(per_source):
    """Level thresholds from a list of (scores, labels) of sources, macro-averaged."""
    grid = np.linspace(0, 1, 1001)
    usable = [(s, l) for s, l in per_source if (l == 0).sum() >= 10 and (l == 1).sum() >= 10]
    ap = np.array([[rates(s, l, t)[0] for t in grid] for s, l in usable]).mean(0)
    bp = np.array([[rates(s, l, t)[1] for t in grid] for s, l in usable]).mean(0)
    low = grid[bp <= 0.02].max() if (bp <= 0.02).any() else 0.0
    medium = grid[np.argmin(np.maximum(ap, bp))]
    high = grid[ap <= 0.01].min() if (ap <= 0.01).any() else 1.0
    return {'LOW': float(min(low, medium)), 'MEDIUM': float(medium), 'HIGH': float(max(high, medium))}


def auc(scores, labels):
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float('nan')
    return float(((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cache', default=os.environ.get('LIVENESS_CACHE', 'data/liveness-training'))
    ap.add_argument('--epochs', type=int, default=8)
    ap.add_argument('--size', type=int, default=64)
    ap.add_argument('--width', type=int, default=16)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--scales', default='all', help="'all' or comma-separated indexes of the cached scales, e.g. 0")
    ap.add_argument('--norm', choices=['fixed', 'image'], default='image')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--only', default='', help='comma-separated folds to run (for quick trials)')
    ap.add_argument('--save-full', action='store_true')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t_start = time.time()

    meta, rows, crops = load(args.cache)
    if args.scales != 'all':
        keep = [int(i) for i in args.scales.split(',')]
        crops = [crops[i] for i in keep]
        meta['scales'] = [meta['scales'][i] for i in keep]
    face_rows = [r for r in rows if int(r['row']) >= 0]
    usable = [r for r in face_rows if float(r['inter_eye_px']) >= MIN_INTER_EYE]
    idx = np.array([int(r['row']) for r in usable])
    xs = [to_tensor(c[idx], args.size, args.norm) for c in crops]
    y = torch.tensor([int(r['label']) for r in usable])
    src = np.array([r['source'] for r in usable])
    attack = np.array([r['attack'] for r in usable])
    labels = y.numpy()
    sources = sorted(set(r['source'] for r in rows))
    fold_of = {s: ('legacy' if s in LEGACY else s) for s in sources}
    folds = sorted(set(fold_of.values()))
    if args.only:
        folds = [f for f in folds if f in args.only.split(',')]
        if len(folds) < 2:
            raise SystemExit('--only needs at least two known folds: a fold\'s thresholds come from the other folds\' scores '
                             '(with --only, from the listed folds alone: a quick trial, not the protocol)')
    print(f'{len(usable)} usable faces of {len(rows)} images, {len(sources)} sources, {len(folds)} folds, '
          f'scales {meta["scales"]} at {args.size}², {args.epochs} epochs, norm {args.norm}', flush=True)

    oof = np.full(len(usable), np.nan)
    for f in folds:
        t0 = time.time()
        test = np.array([fold_of[s] == f for s in src])
        tr = np.where(~test)[0]
        model = train_model([x[tr] for x in xs], y[tr], src[tr].tolist(), args, args.seed)
        oof[test] = score(model, [x[np.where(test)[0]] for x in xs])
        print(f'  fold {f:34s} test {test.sum():4d}  AUC {auc(oof[test], labels[test]):.3f}  ({time.time() - t0:.0f} s)', flush=True)

    report = {'command': 'training/liveness/run.sh', 'args': vars(args), 'scales': meta['scales'], 'crop_size': meta['size'],
              'usable_faces': len(usable), 'images': len(rows), 'per_source': {}}
    evaluated = [s for s in sources if not np.isnan(oof[src == s]).all()]
    for s in evaluated:
        m = src == s
        others = [(oof[src == o], labels[src == o]) for o in evaluated if fold_of[o] != fold_of[s]]
        th = thresholds(others)
        sc, lb, ak = oof[m], labels[m], attack[m]
        all_rows = [r for r in rows if r['source'] == s]
        entry = {
            'bona_fide': int((lb == 1).sum()), 'attacks': int((lb == 0).sum()),
            'failure_to_acquire': {'no_face_or_refused': sum(int(r['row']) < 0 for r in all_rows),
                                   'low_quality': sum(int(r['row']) >= 0 and float(r['inter_eye_px']) < MIN_INTER_EYE for r in all_rows)},
            'auc': round(auc(sc, lb), 4), 'thresholds': {k: round(v, 3) for k, v in th.items()}, 'levels': {},
        }
        for lv in LEVELS:
            apcer, bpcer = rates(sc, lb, th[lv])
            per_kind = {k: round(rates(sc[(ak == k) | (lb == 1)], lb[(ak == k) | (lb == 1)], th[lv])[0], 4)
                        for k in sorted(set(ak[lb == 0]))}
            entry['levels'][lv] = {'apcer': round(apcer, 4), 'bpcer': round(bpcer, 4), 'apcer_by_kind': per_kind}
        report['per_source'][s] = entry
    # Means over the sources with at least 10 attacks and 10 bona fide faces (Silent-Face's 3 are listed, not averaged).
    big = [s for s in evaluated if report['per_source'][s]['bona_fide'] >= 10 and report['per_source'][s]['attacks'] >= 10]
    report['mean_over_sources'] = {lv: {k: round(float(np.mean([report['per_source'][s]['levels'][lv][k] for s in big])), 4) for k in ('apcer', 'bpcer')} for lv in LEVELS}
    report['worst_source'] = {lv: {k: max(((report['per_source'][s]['levels'][lv][k], s) for s in big)) for k in ('apcer', 'bpcer')} for lv in LEVELS}
    kinds = {}
    for s in big:
        for lv in LEVELS:
            for k, v in report['per_source'][s]['levels'][lv]['apcer_by_kind'].items():
                kinds.setdefault(lv, {}).setdefault(k, []).append(v)
    report['mean_apcer_by_kind'] = {lv: {k: round(float(np.mean(v)), 4) for k, v in d.items()} for lv, d in kinds.items()}
    report['pooled_auc'] = round(auc(oof[~np.isnan(oof)], labels[~np.isnan(oof)]), 4)
    report['seconds'] = round(time.time() - t_start)

    with open(os.path.join(args.cache, 'oof-scores.tsv'), 'w') as f:
        f.write('path\tsource\tlabel\tattack\tscore\n')
        for r, s in zip(usable, oof):
            f.write(f"{r['path']}\t{r['source']}\t{r['label']}\t{r['attack']}\t{s:.5f}\n")
    with open(os.path.join(args.cache, 'report.json'), 'w') as f:
        json.dump(report, f, indent=1)

    print(f'\n{"held-out source":34s} {"bf":>4s} {"att":>4s} {"FTA":>4s} {"AUC":>6s} | {"MEDIUM APCER":>12s} {"BPCER":>6s} | {"HIGH APCER":>10s} {"BPCER":>6s} | kind')
    for s in evaluated:
        e = report['per_source'][s]
        fta = sum(e['failure_to_acquire'].values())
        kind = ','.join(e['levels']['MEDIUM']['apcer_by_kind']) or '-'
        print(f"{s:34s} {e['bona_fide']:4d} {e['attacks']:4d} {fta:4d} {e['auc']:6.3f} | {100 * e['levels']['MEDIUM']['apcer']:11.1f}% {100 * e['levels']['MEDIUM']['bpcer']:5.1f}% | "
              f"{100 * e['levels']['HIGH']['apcer']:9.1f}% {100 * e['levels']['HIGH']['bpcer']:5.1f}% | {kind}")
    for lv in LEVELS:
        m = report['mean_over_sources'][lv]
        wa, wb = report['worst_source'][lv]['apcer'], report['worst_source'][lv]['bpcer']
        print(f'{lv:6s} mean APCER {100 * m["apcer"]:.1f}%  mean BPCER {100 * m["bpcer"]:.1f}%  worst APCER {100 * wa[0]:.1f}% ({wa[1]})  '
              f'worst BPCER {100 * wb[0]:.1f}% ({wb[1]})  APCER by kind {report["mean_apcer_by_kind"][lv]}')
    print(f'pooled out-of-fold AUC {report["pooled_auc"]}; {report["seconds"]} s; report in {args.cache}/report.json and report.md')
    with open(os.path.join(args.cache, 'report.md'), 'w') as f:
        f.write('| held-out source | bona fide | attacks | no face + low quality | attack kind | AUC | MEDIUM threshold | MEDIUM APCER % | MEDIUM BPCER % | HIGH APCER % | HIGH BPCER % |\n')
        f.write('|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n')
        for s in evaluated:
            e = report['per_source'][s]
            lv = e['levels']
            f.write(f"| {s} | {e['bona_fide']} | {e['attacks']} | {e['failure_to_acquire']['no_face_or_refused']} + {e['failure_to_acquire']['low_quality']} | "
                    f"{', '.join(lv['MEDIUM']['apcer_by_kind'])} | {e['auc']:.3f} | {e['thresholds']['MEDIUM']:.3f} | {100 * lv['MEDIUM']['apcer']:.1f} | "
                    f"{100 * lv['MEDIUM']['bpcer']:.1f} | {100 * lv['HIGH']['apcer']:.1f} | {100 * lv['HIGH']['bpcer']:.1f} |\n")
        for lv in LEVELS:
            m = report['mean_over_sources'][lv]
            f.write(f"\n{lv}: mean APCER {100 * m['apcer']:.1f} %, mean BPCER {100 * m['bpcer']:.1f} %; APCER by kind "
                    + ', '.join(f'{k} {100 * v:.1f} %' for k, v in report['mean_apcer_by_kind'][lv].items()) + '.')
        f.write(f"\n\nPooled out-of-fold AUC {report['pooled_auc']}.\n")

    if args.save_full:
        model = train_model(xs, y, src.tolist(), args, args.seed)
        torch.save(model.state_dict(), os.path.join(args.cache, 'model-all.pt'))
        print(f'saved {args.cache}/model-all.pt (trained on every source; not evaluated by itself)')


if __name__ == '__main__':
    main()
