#!/usr/bin/python3
"""Lists every liveness image of the shared data with its source, label and attack kind.

    /usr/bin/python3 training/liveness/build_manifest.py --data ../shared/data --out CACHE/manifest.tsv

Sources (the unit held out in leave-one-source-out evaluation):
  * every folder of liveness/extra/ is its own source (labels, attack kinds and subjects from
    extra/MANIFEST.tsv), except NUAA, which is split into subject groups (nuaa-A, nuaa-B, nuaa-C:
    each holds bona fide and print-attack images of its subjects and no subject is in two groups);
  * liveness/pyimagesearch_style_apfol and _shubhamlala (one person each; attacks are screen replays
    per ../shared/data/manifest.json) and liveness/silent_face_samples (1 bona fide, 2 attacks of
    unstated kind) are sources too.
Labels: 1 = bona fide (real), 0 = attack (spoof). Attack kinds: none, print, screen, unknown.
Standard library only. Never commit the output (it names files of the shared data).
"""
import argparse
import csv
import json
import os
import sys

# NUAA subjects per group: 0013 has only bona fide images and 0016 only attacks in extra/.
NUAA_GROUPS = {
    'nuaa-A': ['NUAA-0001', 'NUAA-0002', 'NUAA-0003', 'NUAA-0013'],
    'nuaa-B': ['NUAA-0004', 'NUAA-0005', 'NUAA-0006', 'NUAA-0016'],
    'nuaa-C': ['NUAA-0007', 'NUAA-0008', 'NUAA-0009'],
}
SUBJECT_GROUP = {s: g for g, subjects in NUAA_GROUPS.items() for s in subjects}
COLUMNS = ['path', 'source', 'label', 'attack', 'subject']


def extra_rows(data):
    with open(os.path.join(data, 'liveness/extra/MANIFEST.tsv'), newline='') as f:
        for r in csv.DictReader(f, delimiter='\t'):
            folder = r['file'].split('/')[0]
            source = SUBJECT_GROUP[r['subject']] if folder == 'nuaa' else folder
            if folder == 'nuaa' and r['subject'] not in SUBJECT_GROUP:
                sys.exit(f'NUAA subject {r["subject"]} is in no group: add it to NUAA_GROUPS')
            label = {'real': 1, 'spoof': 0}[r['label']]
            attack = 'none' if label == 1 else r['attack']
            yield {'path': 'liveness/extra/' + r['file'], 'source': source, 'label': label, 'attack': attack, 'subject': r['subject']}


def other_rows(data):
    with open(os.path.join(data, 'manifest.json')) as f:
        entries = [e for e in json.load(f) if e['set'] == 'liveness']
    for e in entries:
        label = {'real': 1, 'spoof': 0}[e['label']]
        attack = 'none' if label == 1 else ('screen' if 'screen' in (e.get('attack') or '') else 'unknown')
        yield {'path': e['path'], 'source': e['source'], 'label': label, 'attack': attack, 'subject': e['source']}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--data', default=os.environ.get('FACEPROOF_TEST_DATA', '../shared/data'))
    ap.add_argument('--out', required=True)
    args = ap.parse_args()
    rows = list(extra_rows(args.data)) + list(other_rows(args.data))
    missing = [r['path'] for r in rows if not os.path.isfile(os.path.join(args.data, r['path']))]
    if missing:
        sys.exit(f'{len(missing)} listed images are missing, e.g. {missing[:3]}')
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w', newline='') as f:
        w = csv.DictWriter(f, COLUMNS, delimiter='\t', lineterminator='\n')
        w.writeheader()
        w.writerows(rows)
    counts = {}
    for r in rows:
        c = counts.setdefault(r['source'], {'bona_fide': 0, 'print': 0, 'screen': 0, 'unknown': 0})
        c['bona_fide' if r['label'] == 1 else r['attack']] += 1
    print(f'{len(rows)} images, {len(counts)} sources -> {args.out}')
    for s, c in sorted(counts.items()):
        print(f'  {s:34s} ' + ' '.join(f'{k}={v}' for k, v in c.items() if v))


if __name__ == '__main__':
    main()
