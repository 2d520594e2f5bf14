#!/usr/bin/python3
"""One markdown row per run report, for the table of runs in docs/liveness-training.md.

    /usr/bin/python3 training/liveness/table.py --cache data/liveness-training TAG [TAG …]   ('' = report.json)
"""
import argparse
import csv
import json
import os

import numpy as np


def oracle_eer(cache, tag):
    """Mean over sources of each source's own equal-error rate: the error left if every source had
    its own threshold (no offset between sources); what ranking alone allows."""
    with open(os.path.join(cache, f'oof-scores-{tag}.tsv' if tag else 'oof-scores.tsv'), newline='') as f:
        rows = list(csv.DictReader(f, delimiter='\t'))
    out = []
    for s in sorted(set(r['source'] for r in rows)):
        sc = np.array([float(r['score']) for r in rows if r['source'] == s])
        lb = np.array([int(r['label']) for r in rows if r['source'] == s])
        if (lb == 0).sum() < 10 or (lb == 1).sum() < 10:
            continue
        out.append(min(max((sc[lb == 0] >= t).mean(), (sc[lb == 1] < t).mean()) for t in np.unique(sc)))
    return float(np.mean(out))


def row(cache, tag):
    with open(os.path.join(cache, f'report-{tag}.json' if tag else 'report.json')) as f:
        r = json.load(f)
    m, h = r['mean_over_sources']['MEDIUM'], r['mean_over_sources']['HIGH']
    w = r['worst_source']['MEDIUM']
    k = r['mean_apcer_by_kind']['MEDIUM']
    sf = r['per_source'].get('silent_face_samples')
    wrong = '–'
    if sf:
        e = sf['levels']['MEDIUM']
        wrong = f"{round(e['apcer'] * sf['attacks']) + round(e['bpcer'] * sf['bona_fide'])} of 3"
    leg = ' / '.join(f"{100 * r['per_source'][s]['levels']['MEDIUM']['bpcer']:.0f}·{100 * r['per_source'][s]['levels']['MEDIUM']['apcer']:.0f}"
                     for s in ('pyimagesearch_style_apfol', 'pyimagesearch_style_shubhamlala') if s in r['per_source'])
    return (f"| {tag or 'train.py default'} | `{r['command'].replace('|', '/')}` | {100 * m['apcer']:.1f} / {100 * m['bpcer']:.1f} | "
            f"{100 * w['apcer'][0]:.0f} ({w['apcer'][1].replace('pyimagesearch_style_', '')}) / {100 * w['bpcer'][0]:.0f} ({w['bpcer'][1].replace('pyimagesearch_style_', '')}) | "
            f"{r['sources_over_25']} of {r['sources_averaged']} | {100 * h['apcer']:.1f} / {100 * h['bpcer']:.1f} | "
            f"{100 * k.get('print', float('nan')):.0f} / {100 * k.get('screen', float('nan')):.0f} / {100 * k.get('unknown', float('nan')):.0f} | "
            f"{r['pooled_auc']:.3f} / {r['mean_source_auc']:.3f} | {100 * oracle_eer(cache, tag):.1f} | {leg} | {wrong} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--cache', default=os.environ.get('LIVENESS_CACHE', 'data/liveness-training'))
    ap.add_argument('tags', nargs='+')
    args = ap.parse_args()
    print('| run | command | MEDIUM mean APCER / BPCER % | MEDIUM worst APCER / BPCER % | sources > 25 % | HIGH mean APCER / BPCER % | MEDIUM APCER print / screen / unknown % | AUC pooled / mean per source | mean per-source EER % (own threshold) | legacy MEDIUM BPCER·APCER % (apfol / shubhamlala) | Silent-Face wrong at MEDIUM |')
    print('|---|---|---:|---|---:|---:|---:|---:|---:|---|---|')
    for t in args.tags:
        print(row(args.cache, t))


if __name__ == '__main__':
    main()
