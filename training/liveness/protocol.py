"""The leave-one-source-out protocol shared by every liveness experiment (train.py, texture.py, fuse.py).

Folds: one per source, except that the three small legacy sets (the two single-person pyimagesearch
sets and the three Silent-Face samples) are held out together, so that they are judged by a model
trained without any of them.

Thresholds for a held-out source come from scores of the OTHER sources only, macro-averaged per
source (targets below), and are then applied to the held-out source:
  LOW    largest threshold with mean BPCER <= 2 % on the other sources
  MEDIUM the threshold minimising max(mean APCER, mean BPCER) on the other sources (an EER point)
  HIGH   smallest threshold with mean APCER <= 1 % on the other sources
Two schemes for the other sources' scores:
  'oof'    their out-of-fold scores (each from the model that did not see that source, but whose
           training included the held-out source: a small leak, the cheap scheme)
  'nested' for held-out fold f, every other fold g is scored by a model trained without f AND g
           (an inner leave-one-source-out: nothing of f enters f's thresholds; costs folds² fits)
APCER is given per attack kind (print / screen / unknown). Images where the product finds no face
(or refuses the image) are failures to acquire: counted per source, not in APCER/BPCER; faces with
eyes under 12 px apart (the product's low_quality) likewise.
"""
import csv
import json
import os

import numpy as np

LEGACY = {'pyimagesearch_style_apfol', 'pyimagesearch_style_shubhamlala', 'silent_face_samples'}
MIN_INTER_EYE = 12.0
LEVELS = ['LOW', 'MEDIUM', 'HIGH']
GRID = np.linspace(0, 1, 1001)


class Data:
    """The usable faces of the crop cache: rows, labels, sources, attack kinds, folds and crops."""

    def __init__(self, cache):
        with open(os.path.join(cache, 'crops.json')) as f:
            self.meta = json.load(f)
        with open(os.path.join(cache, 'crops.tsv'), newline='') as f:
            self.rows = list(csv.DictReader(f, delimiter='\t'))
        self.cache = cache
        S = self.meta['size']
        self.size = S
        face_rows = [r for r in self.rows if int(r['row']) >= 0]
        self.usable = [r for r in face_rows if float(r['inter_eye_px']) >= MIN_INTER_EYE]
        self.idx = np.array([int(r['row']) for r in self.usable])
        self.labels = np.array([int(r['label']) for r in self.usable])
        self.src = np.array([r['source'] for r in self.usable])
        self.attack = np.array([r['attack'] for r in self.usable])
        self.sources = sorted(set(r['source'] for r in self.rows))
        self.fold_of = {s: ('legacy' if s in LEGACY else s) for s in self.sources}
        self.fold = np.array([self.fold_of[s] for s in self.src])
        self.folds = sorted(set(self.fold_of.values()))

    def crops(self, scale):
        """uint8 N×S×S×3 of the usable faces at a context scale (0 = the whole image)."""
        name = 'crops-whole.u8' if scale == 0 else f'crops-s{scale:.1f}.u8'
        S = self.size
        a = np.fromfile(os.path.join(self.cache, name), dtype=np.uint8).reshape(-1, S, S, 3)
        return a[self.idx]

    def column(self, name):
        return np.array([float(r[name]) for r in self.usable])


def rates(scores, labels, t):
    att, bf = scores[labels == 0], scores[labels == 1]
    apcer = float((att >= t).mean()) if len(att) else float('nan')
    bpcer = float((bf < t).mean()) if len(bf) else float('nan')
    return apcer, bpcer


def big_enough(labels):
    return (labels == 0).sum() >= 10 and (labels == 1).sum() >= 10


def thresholds(per_source):
    """Level thresholds from a list of (scores, labels) of sources, macro-averaged."""
    usable = [(s, l) for s, l in per_source if big_enough(l)]
    ap = np.array([[(s[l == 0] >= t).mean() for t in GRID] for s, l in usable]).mean(0)
    bp = np.array([[(s[l == 1] < t).mean() for t in GRID] for s, l in usable]).mean(0)
    low = GRID[bp <= 0.02].max() if (bp <= 0.02).any() else 0.0
    medium = GRID[np.argmin(np.maximum(ap, bp))]
    high = GRID[ap <= 0.01].min() if (ap <= 0.01).any() else 1.0
    return {'LOW': float(min(low, medium)), 'MEDIUM': float(medium), 'HIGH': float(max(high, medium))}


def auc(scores, labels):
    pos, neg = scores[labels == 1], scores[labels == 0]
    if not len(pos) or not len(neg):
        return float('nan')
    return float(((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()))


def loso(data, fit_predict, nested=False, only=None, log=print):
    """Out-of-fold scores (0..1, higher = bona fide) of `fit_predict(train_mask, test_mask) -> scores
    of the test rows`, and, with `nested`, the inner scores used for each fold's thresholds:
    inner[f][g] = scores of fold g by a model trained without f and g."""
    folds = [f for f in data.folds if not only or f in only]
    oof = np.full(len(data.labels), np.nan)
    inner = {}
    for f in folds:
        test = data.fold == f
        oof[test] = fit_predict(~test, test)
        log(f'  fold {f:34s} test {test.sum():4d}  AUC {auc(oof[test], data.labels[test]):.3f}')
        if nested:
            inner[f] = {}
            for g in folds:
                if g == f:
                    continue
                tg = data.fold == g
                inner[f][g] = fit_predict(~test & ~tg, tg)
    return oof, (inner if nested else None)


def evaluate(data, oof, inner=None, name='', command=''):
    """Per held-out source: AUC, level thresholds from the other sources, APCER/BPCER per level and kind."""
    labels, src, attack = data.labels, data.src, data.attack
    report = {'name': name, 'command': command, 'thresholds_from': 'nested' if inner else 'oof',
              'usable_faces': len(labels), 'images': len(data.rows), 'per_source': {}}
    evaluated = [s for s in data.sources if not np.isnan(oof[src == s]).all()]
    for s in evaluated:
        m = src == s
        f = data.fold_of[s]
        if inner:
            others = [(inner[f][data.fold_of[o]][(src == o)[data.fold == data.fold_of[o]]], labels[src == o])
                      for o in evaluated if data.fold_of[o] != f]
        else:
            others = [(oof[src == o], labels[src == o]) for o in evaluated if data.fold_of[o] != f]
        th = thresholds(others)
        sc, lb, ak = oof[m], labels[m], attack[m]
        all_rows = [r for r in data.rows if r['source'] == s]
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
    big = [s for s in evaluated if report['per_source'][s]['bona_fide'] >= 10 and report['per_source'][s]['attacks'] >= 10]
    report['mean_over_sources'] = {lv: {k: round(float(np.mean([report['per_source'][s]['levels'][lv][k] for s in big])), 4)
                                        for k in ('apcer', 'bpcer')} for lv in LEVELS}
    report['worst_source'] = {lv: {k: max(((report['per_source'][s]['levels'][lv][k], s) for s in big)) for k in ('apcer', 'bpcer')}
                              for lv in LEVELS}
    report['sources_over_25'] = sum(max(report['per_source'][s]['levels']['MEDIUM']['apcer'],
                                        report['per_source'][s]['levels']['MEDIUM']['bpcer']) > 0.25 for s in big)
    report['sources_averaged'] = len(big)
    kinds = {}
    for s in big:
        for lv in LEVELS:
            for k, v in report['per_source'][s]['levels'][lv]['apcer_by_kind'].items():
                kinds.setdefault(lv, {}).setdefault(k, []).append(v)
    report['mean_apcer_by_kind'] = {lv: {k: round(float(np.mean(v)), 4) for k, v in d.items()} for lv, d in kinds.items()}
    ok = ~np.isnan(oof)
    report['pooled_auc'] = round(auc(oof[ok], labels[ok]), 4)
    report['mean_source_auc'] = round(float(np.mean([report['per_source'][s]['auc'] for s in big])), 4)
    legacy = {}
    for s in sorted(LEGACY & set(evaluated)):
        e = report['per_source'][s]['levels']['MEDIUM']
        legacy[s] = {'apcer': e['apcer'], 'bpcer': e['bpcer']}
    report['legacy_medium'] = legacy
    return report


def summary_line(report):
    m, h = report['mean_over_sources']['MEDIUM'], report['mean_over_sources']['HIGH']
    w = report['worst_source']['MEDIUM']
    k = report['mean_apcer_by_kind']['MEDIUM']
    sf = report['per_source'].get('silent_face_samples')
    sf_txt = ''
    if sf:
        e = sf['levels']['MEDIUM']
        sf_txt = f" | Silent-Face wrong {round(e['apcer'] * sf['attacks']) + round(e['bpcer'] * sf['bona_fide'])}/3"
    return (f"MEDIUM APCER {100 * m['apcer']:.1f} BPCER {100 * m['bpcer']:.1f} (worst {100 * w['apcer'][0]:.0f} {w['apcer'][1]}, "
            f"{100 * w['bpcer'][0]:.0f} {w['bpcer'][1]}; {report['sources_over_25']}/{report['sources_averaged']} >25%) | "
            f"HIGH APCER {100 * h['apcer']:.1f} BPCER {100 * h['bpcer']:.1f} | AUC pooled {report['pooled_auc']:.3f} "
            f"mean-source {report['mean_source_auc']:.3f} | kind " + ' '.join(f'{a} {100 * b:.1f}' for a, b in k.items()) + sf_txt)


def write(report, oof, data, cache, tag):
    """CACHE/report[-tag].json, report[-tag].md and oof-scores[-tag].tsv (figures and file names only, no pixels)."""
    suffix = f'-{tag}' if tag else ''
    with open(os.path.join(cache, f'oof-scores{suffix}.tsv'), 'w') as f:
        f.write('path\tsource\tlabel\tattack\tscore\n')
        for r, s in zip(data.usable, oof):
            f.write(f"{r['path']}\t{r['source']}\t{r['label']}\t{r['attack']}\t{s:.5f}\n")
    with open(os.path.join(cache, f'report{suffix}.json'), 'w') as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(cache, f'report{suffix}.md'), 'w') as f:
        f.write(markdown(report))


def markdown(report):
    out = ['| held-out source | bona fide | attacks | no face + low quality | attack kind | AUC | MEDIUM threshold | MEDIUM APCER % | MEDIUM BPCER % | HIGH APCER % | HIGH BPCER % |',
           '|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|']
    for s, e in report['per_source'].items():
        lv = e['levels']
        out.append(f"| {s} | {e['bona_fide']} | {e['attacks']} | {e['failure_to_acquire']['no_face_or_refused']} + {e['failure_to_acquire']['low_quality']} | "
                   f"{', '.join(lv['MEDIUM']['apcer_by_kind'])} | {e['auc']:.3f} | {e['thresholds']['MEDIUM']:.3f} | {100 * lv['MEDIUM']['apcer']:.1f} | "
                   f"{100 * lv['MEDIUM']['bpcer']:.1f} | {100 * lv['HIGH']['apcer']:.1f} | {100 * lv['HIGH']['bpcer']:.1f} |")
    out.append('')
    for lv in LEVELS:
        m = report['mean_over_sources'][lv]
        out.append(f"{lv}: mean APCER {100 * m['apcer']:.1f} %, mean BPCER {100 * m['bpcer']:.1f} %; APCER by kind "
                   + ', '.join(f'{k} {100 * v:.1f} %' for k, v in report['mean_apcer_by_kind'][lv].items()) + '.')
    out.append(f"\nPooled out-of-fold AUC {report['pooled_auc']}; thresholds from {report['thresholds_from']} scores.\n")
    return '\n'.join(out)
