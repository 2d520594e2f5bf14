#!/usr/bin/python3
"""The product's current liveness, and score-level fusions of out-of-fold scores, under the same protocol.

    /usr/bin/python3 training/liveness/fuse.py --cache data/liveness-training --product
    /usr/bin/python3 training/liveness/fuse.py --cache data/liveness-training --scores cnn,texture-lbp [--tag NAME]

--product   the shipped fused score (fr_liveness CNN + colour cues, calibration/liveness.json) as
            recorded per face by extract-crops.ts: a fixed model, so its scores on a source are
            already "out of fold" for every source but the three legacy sets, on which it was fitted
            (its figures there are in-sample and flattering). Thresholds from the other sources, as
            for every model here.
--scores    the mean of the logits of CACHE/oof-scores-NAME.tsv files (no weights learnt: nothing is
            tuned on a held-out source); '' names CACHE/oof-scores.tsv (train.py's default output).
--stack     instead of the plain mean, weights on a grid of the simplex (steps of 0.25), chosen for
            each held-out fold on the OTHER folds' out-of-fold scores (the MEDIUM error, macro over
            sources, at the threshold that minimises it there), then applied to the held-out fold.
"""
import argparse
import csv
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from protocol import GRID, Data, big_enough, evaluate, summary_line, write  # noqa: E402


def read_scores(cache, name, data):
    path = os.path.join(cache, f'oof-scores-{name}.tsv' if name else 'oof-scores.tsv')
    with open(path, newline='') as f:
        by_path = {r['path']: float(r['score']) for r in csv.DictReader(f, delimiter='\t')}
    return np.array([by_path[r['path']] for r in data.usable])


def logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cache', default=os.environ.get('LIVENESS_CACHE', 'data/liveness-training'))
    ap.add_argument('--product', action='store_true')
    ap.add_argument('--scores', default='')
    ap.add_argument('--tag', default='')
    ap.add_argument('--stack', action='store_true')
    args = ap.parse_args()
    data = Data(args.cache)
    inner = None
    if args.product:
        oof = data.column('product_score')
        tag = args.tag or 'product'
    else:
        names = args.scores.split(',')
        Z = np.stack([logit(read_scores(args.cache, n, data)) for n in names], 1)
        tag = args.tag or ('stack-' if args.stack else 'fuse-') + '+'.join(n or 'cnn' for n in names)
        if not args.stack:
            oof = 1 / (1 + np.exp(-Z.mean(1)))
        else:
            steps = [np.array(w) / 4 for w in np.ndindex(*(5,) * len(names)) if sum(w) == 4]
            oof = np.full(len(data.labels), np.nan)
            inner = {}
            for f in data.folds:
                test = data.fold == f

                def error(w):
                    p = 1 / (1 + np.exp(-(Z[~test] @ w)))
                    per = [(p[data.src[~test] == s], data.labels[~test][data.src[~test] == s]) for s in sorted(set(data.src[~test]))]
                    per = [(a, b) for a, b in per if big_enough(b)]
                    ap_ = np.array([[(a[b == 0] >= t).mean() for t in GRID[::5]] for a, b in per]).mean(0)
                    bp_ = np.array([[(a[b == 1] < t).mean() for t in GRID[::5]] for a, b in per]).mean(0)
                    return float(np.min(np.maximum(ap_, bp_)))

                w = min(steps, key=error)
                print(f'  fold {f:34s} weights ' + ' '.join(f'{n or "cnn"}:{x:.2f}' for n, x in zip(names, w)))
                oof[test] = 1 / (1 + np.exp(-(Z[test] @ w)))
                # The held-out fold's thresholds from the other folds' scores under the same weights.
                inner[f] = {g: 1 / (1 + np.exp(-(Z[data.fold == g] @ w))) for g in data.folds if g != f}
    report = evaluate(data, oof, inner if args.stack and not args.product else None, name=tag, command='training/liveness/fuse.py ' + ' '.join(sys.argv[1:]))
    write(report, oof, data, args.cache, tag)
    print(summary_line(report), flush=True)


if __name__ == '__main__':
    main()
