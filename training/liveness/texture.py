#!/usr/bin/python3
"""Hand-made presentation-attack features with a logistic classifier, measured leave-one-source-out.

    /usr/bin/python3 training/liveness/texture.py --cache data/liveness-training [--features lbp,fft] [--scales 1,2] [--nested] [--tag NAME]

Features (per face, from the crops of extract-crops.ts):
  lbp    colour texture after Boulkenafet et al. (2015-16): uniform LBP histograms (8 neighbours at
         radius 1 and 2, 59 bins each) of every channel of HSV and YCbCr, square-rooted (Hellinger)
  fft    the grey crop's log amplitude spectrum averaged over rings (24 bins, centred per image):
         recapture (print halftone, screen pixel grid, moiré, blur) shows in the high frequencies
  stats  mean and spread of H, S, V, Y, Cb, Cr and the 1st/99th luminance percentiles
  cues   the product's own seven cues (fr_liveness CNN logit, saturation, blue/red, Cb, detail,
         black level, warmth) as recorded by extract-crops.ts
at each context scale given (1 = face box, 2 = box × 2, 3 = box × 3, 0 = whole image).
Classifier: logistic regression (torch LBFGS, L2), features standardised on the training folds,
every source and class weighted equally. Scores and report to CACHE/*-TAG.*
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from protocol import GRID, Data, big_enough, evaluate, loso, summary_line, write  # noqa: E402

L2_GRID = [0.01, 0.1, 1.0, 10.0]


def rgb_to_hsv_ycbcr(a):
    """uint8 N×H×W×3 RGB -> float32 N×6×H×W: H, S, V, Y, Cb, Cr, each 0..255."""
    x = a.astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    mx, mn = x.max(-1), x.min(-1)
    d = mx - mn
    s = np.where(mx > 0, d / np.maximum(mx, 1e-6), 0) * 255
    h = np.zeros_like(mx)
    dd = np.maximum(d, 1e-6)
    h = np.where(mx == r, ((g - b) / dd) % 6, h)
    h = np.where(mx == g, (b - r) / dd + 2, h)
    h = np.where(mx == b, (r - g) / dd + 4, h)
    h = np.where(d == 0, 0, h) * (255 / 6)
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return np.stack([h, s, mx, y, cb, cr], 1)


def uniform_table():
    t = np.zeros(256, dtype=np.int64)
    k = 0
    for c in range(256):
        bits = [(c >> i) & 1 for i in range(8)]
        if sum(bits[i] != bits[(i + 1) % 8] for i in range(8)) <= 2:
            t[c] = k
            k += 1
        else:
            t[c] = -1
    t[t < 0] = k  # 58 uniform codes + 1 for every non-uniform one
    return t, k + 1


UNIFORM, NBINS = uniform_table()


def lbp_hist(ch, radius):
    """ch: float N×C×H×W -> N×C×59 normalised uniform LBP histograms (8 neighbours on the square of `radius`)."""
    r = radius
    c = ch[:, :, r:-r, r:-r]
    H, W = c.shape[-2:]
    offs = [(-r, -r), (-r, 0), (-r, r), (0, r), (r, r), (r, 0), (r, -r), (0, -r)]
    code = np.zeros(c.shape, dtype=np.int64)
    for i, (dy, dx) in enumerate(offs):
        nb = ch[:, :, r + dy:r + dy + H, r + dx:r + dx + W]
        code |= (nb >= c).astype(np.int64) << i
    u = UNIFORM[code].reshape(code.shape[0], code.shape[1], -1)
    N, C, P = u.shape
    out = np.zeros((N, C, NBINS), dtype=np.float32)
    flat = (np.arange(N * C)[:, None] * NBINS + u.reshape(N * C, P)).ravel()
    out.reshape(-1)[:] = np.bincount(flat, minlength=N * C * NBINS)
    return out / P


def fft_rings(a, bins=24):
    """Grey crop's log amplitude spectrum averaged over rings, centred per image."""
    g = a.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    g = g - g.mean((1, 2), keepdims=True)
    S = g.shape[1]
    win = np.hanning(S).astype(np.float32)
    f = np.fft.fftshift(np.abs(np.fft.fft2(g * win[None, :, None] * win[None, None, :])), axes=(1, 2))
    f = np.log1p(f)
    yy, xx = np.mgrid[:S, :S] - S // 2
    rad = np.sqrt(yy ** 2 + xx ** 2) / (S / 2)
    ring = np.minimum((rad * bins).astype(int), bins)  # corners beyond the Nyquist circle in the last ring
    out = np.stack([f[:, ring == k].mean(1) for k in range(bins)], 1)
    return out - out.mean(1, keepdims=True)


def colour_stats(hy):
    m = hy.mean((2, 3))
    s = hy.std((2, 3))
    y = hy[:, 3].reshape(hy.shape[0], -1)
    p = np.percentile(y, [1, 99], axis=1).T
    return np.concatenate([m, s, p], 1) / 255.0


def features(data, kinds, scales, diff=False):
    """The feature matrix; with `diff`, every scale after the first enters as (first scale − that
    scale): the face measured against its own surroundings, which cancels the camera's and the
    room's share (a domain-generalisation step: the same camera took both)."""
    cache = data.cache
    blocks, names = [], []
    first = {}
    for scale in scales:
        crops = None
        for kind in kinds:
            if kind == 'cues':
                continue
            path = os.path.join(cache, f'feat-{kind}-s{scale}.npy')
            if os.path.exists(path) and np.load(path, mmap_mode='r').shape[0] == len(data.labels):
                f = np.load(path)
            else:
                if crops is None:
                    crops = data.crops(scale)
                t0 = time.time()
                if kind == 'lbp':
                    parts = []
                    for i in range(0, len(crops), 256):
                        hy = rgb_to_hsv_ycbcr(crops[i:i + 256])
                        parts.append(np.concatenate([lbp_hist(hy, 1).reshape(len(hy), -1), lbp_hist(hy, 2).reshape(len(hy), -1)], 1))
                    f = np.sqrt(np.concatenate(parts))
                elif kind == 'fft':
                    f = fft_rings(crops)
                elif kind == 'stats':
                    f = np.concatenate([colour_stats(rgb_to_hsv_ycbcr(crops[i:i + 256])) for i in range(0, len(crops), 256)])
                else:
                    raise SystemExit(f'unknown feature {kind}')
                np.save(path, f.astype(np.float32))
                print(f'  {kind} at scale {scale}: {f.shape[1]} features ({time.time() - t0:.0f} s)', flush=True)
            if diff and kind in first:
                blocks.append(first[kind] - f)
                names.append(f'{kind}@{scales[0]}-{kind}@{scale}')
            else:
                first.setdefault(kind, f)
                blocks.append(f)
                names.append(f'{kind}@{scale}')
    if 'cues' in kinds:
        cols = ['model_logit', 'saturation', 'blue_red', 'chroma_blue', 'detail', 'black_level', 'warmth']
        blocks.append(np.stack([data.column(c) for c in cols], 1))
        names.append('cues')
    return np.concatenate(blocks, 1).astype(np.float32), names


def fit_logistic(X, y, groups, l2, iters=200):
    """Standardised logistic regression, every (source, class) weighing the same; returns (mean, std, w, b)."""
    mean, std = X.mean(0), X.std(0) + 1e-6
    Xt = torch.from_numpy((X - mean) / std)
    yt = torch.from_numpy(y.astype(np.float32))
    keys = [(g, int(c)) for g, c in zip(groups, y)]
    count = {}
    for k in keys:
        count[k] = count.get(k, 0) + 1
    sw = torch.tensor([1.0 / count[k] for k in keys], dtype=torch.float32)
    sw = sw / sw.sum()
    w = torch.zeros(X.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=iters, history_size=20, line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        z = Xt @ w + b
        loss = (sw * torch.nn.functional.binary_cross_entropy_with_logits(z, yt, reduction='none')).sum() + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return mean, std, w.detach().numpy(), float(b.detach())


def predict(model, X):
    mean, std, w, b = model
    return 1 / (1 + np.exp(-(((X - mean) / std) @ w + b)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cache', default=os.environ.get('LIVENESS_CACHE', 'data/liveness-training'))
    ap.add_argument('--features', default='lbp')
    ap.add_argument('--scales', default='1,2')
    ap.add_argument('--l2', default='0.01', help="L2 weight, or 'auto': chosen per held-out fold by an inner leave-one-source-out on its training sources")
    ap.add_argument('--nested', action='store_true')
    ap.add_argument('--diff', action='store_true', help='scales after the first as differences from the first')
    ap.add_argument('--tag', default='')
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    data = Data(args.cache)
    X, names = features(data, args.features.split(','), [float(s) if '.' in s else int(s) for s in args.scales.split(',')], args.diff)
    print(f'{len(data.labels)} faces, {X.shape[1]} features ({", ".join(names)}), l2 {args.l2}', flush=True)

    def fit_predict_l2(train, test, l2):
        model = fit_logistic(X[train], data.labels[train], data.src[train].tolist(), l2)
        return predict(model, X[test])

    chosen = {}

    def inner_error(train, l2):
        """Leave-one-fold-out inside the training folds only: the MEDIUM error (min over t of
        max(mean APCER, mean BPCER) over the inner sources) of the inner out-of-fold scores."""
        sc = np.full(len(data.labels), np.nan)
        for g in sorted(set(data.fold[train])):
            tg = train & (data.fold == g)
            sc[tg] = fit_predict_l2(train & ~tg, tg, l2)
        per = [(sc[(data.src == s) & train], data.labels[(data.src == s) & train]) for s in sorted(set(data.src[train]))]
        per = [(a, b) for a, b in per if big_enough(b)]
        ap = np.array([[(a[b == 0] >= t).mean() for t in GRID] for a, b in per]).mean(0)
        bp = np.array([[(a[b == 1] < t).mean() for t in GRID] for a, b in per]).mean(0)
        return float(np.min(np.maximum(ap, bp)))

    def fit_predict(train, test):
        if args.l2 != 'auto':
            return fit_predict_l2(train, test, float(args.l2))
        key = tuple(sorted(set(data.fold[test])))
        if key not in chosen:
            errs = {l2: inner_error(train, l2) for l2 in L2_GRID}
            chosen[key] = min(errs, key=errs.get)
            print(f'    l2 chosen by inner LOSO: {chosen[key]} ' + ' '.join(f'{k}:{v:.3f}' for k, v in errs.items()), flush=True)
        return fit_predict_l2(train, test, chosen[key])

    oof, inner = loso(data, fit_predict, nested=args.nested)
    cmd = 'training/liveness/texture.py ' + ' '.join(sys.argv[1:])
    report = evaluate(data, oof, inner, name=args.tag or 'texture', command=cmd)
    report['seconds'] = round(time.time() - t0)
    write(report, oof, data, args.cache, args.tag or f'texture-{args.features}-{args.scales}{"-diff" if args.diff else ""}'.replace(',', '+'))
    print(summary_line(report), f'| {report["seconds"]} s', flush=True)


if __name__ == '__main__':
    main()
