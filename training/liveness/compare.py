#!/usr/bin/python3
"""Paired comparison of two runs' held-out figures, source by source (the unit of the protocol).

    /usr/bin/python3 training/liveness/compare.py --cache data/liveness-training A B

A and B name CACHE/report-A.json and report-B.json ('' for report.json). Per source with at least 10
bona fide and 10 attack faces: the MEDIUM half total error (APCER + BPCER) / 2 and the AUC of each,
then the mean paired difference B − A with its standard error over sources, and how many sources B
improves. A difference under two standard errors is not a measured improvement.
"""
import argparse
import json
import os

import numpy as np


def load(cache, tag):
    with open(os.path.join(cache, f'report-{tag}.json' if tag else 'report.json')) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cache', default=os.environ.get('LIVENESS_CACHE', 'data/liveness-training'))
    ap.add_argument('--exclude', default='', help='comma-separated sources to leave out (e.g. those a model was fitted on)')
    ap.add_argument('a')
    ap.add_argument('b')
    args = ap.parse_args()
    A, B = load(args.cache, args.a), load(args.cache, args.b)
    skip = set(args.exclude.split(',')) if args.exclude else set()
    rows = []
    for s, ea in A['per_source'].items():
        eb = B['per_source'].get(s)
        if not eb or s in skip or ea['bona_fide'] < 10 or ea['attacks'] < 10:
            continue
        ha = (ea['levels']['MEDIUM']['apcer'] + ea['levels']['MEDIUM']['bpcer']) / 2
        hb = (eb['levels']['MEDIUM']['apcer'] + eb['levels']['MEDIUM']['bpcer']) / 2
        rows.append((s, ha, hb, ea['auc'], eb['auc']))
        print(f'{s:34s} HTER {100 * ha:5.1f} -> {100 * hb:5.1f}   AUC {ea["auc"]:.3f} -> {eb["auc"]:.3f}')
    for k, name in ((1, 'MEDIUM HTER'), (3, 'AUC')):
        a = np.array([r[k] for r in rows])
        b = np.array([r[k + 1] for r in rows])
        d = b - a
        se = d.std(ddof=1) / np.sqrt(len(d))
        better = int((d < 0).sum() if k == 1 else (d > 0).sum())
        print(f'{name}: {a.mean():.3f} -> {b.mean():.3f}, paired difference {d.mean():+.3f} ± {se:.3f} (s.e., {len(d)} sources); '
              f'B better on {better}, worse on {int((d != 0).sum()) - better}')


if __name__ == '__main__':
    main()
