#!/usr/bin/python3
"""A few-shot copy of an intent data set: at most K training examples per label set (and
K/2, at least 3, per label set of dev), drawn with a fixed seed; the test split whole.

Some users have only a handful of examples a label; this is how bench/accuracy.sh scores
that case on the data sets it has.

Usage: /usr/bin/python3 bench/fewshot.py DATADIR K OUTDIR [SEED (default 7)]
"""
import collections, os, random, shutil, sys


def take(path, k, rng):
    rows = open(path, encoding="utf-8").readlines()
    rng.shuffle(rows)
    seen, out = collections.Counter(), []
    for row in rows:
        labels = row.split("\t", 1)[0]
        if seen[labels] < k:
            seen[labels] += 1
            out.append(row)
    return out


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__.strip().splitlines()[-1])
    src, k, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) == 5 else 7)
    os.makedirs(dst, exist_ok=True)
    for split, n in (("train", k), ("dev", max(3, k // 2))):
        with open(os.path.join(dst, split + ".tsv"), "w", encoding="utf-8") as f:
            f.writelines(take(os.path.join(src, split + ".tsv"), n, rng))
    shutil.copyfile(os.path.join(src, "test.tsv"), os.path.join(dst, "test.tsv"))


if __name__ == "__main__":
    main()
