#!/usr/bin/python3
"""Peer classifiers on one intent data set, scored the way `intent eval` scores.

fastText (Debian's `fasttext` binary: 25 epochs, lr 0.5, word bigrams, dim 100, -loss ova
for multi-label sets) and scikit-learn (Debian's python3-sklearn: TF-IDF word 1-2-grams +
char_wb 2-5-grams, sublinear tf, LinearSVC C=0.5, one-vs-rest for multi-label sets), each
trained on train.tsv and scored on test.tsv. With a none label (clinc150's `oos`) the peers
learn it as one more class, as is usual for them; answering it counts as "no label".

Usage: /usr/bin/python3 bench/peers.py DATADIR [NONE_LABEL]    (prints one JSON line)
"""
import json, os, subprocess, sys, tempfile, time

# fastText's training settings (bench/compare.sh trains its fastText model with these too)
FASTTEXT_ARGS = ["-epoch", "25", "-lr", "0.5", "-wordNgrams", "2", "-dim", "100", "-thread", "2", "-verbose", "0"]


def sklearn_vectorizer():
    """scikit-learn's features (bench/compare.sh uses them too): TF-IDF word 1-2-grams +
    char_wb 2-5-grams, sublinear tf."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union
    return make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                      TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True))


def read(path):
    rows = []
    for line in open(path, encoding="utf-8"):
        labels, text = line.rstrip("\n").split("\t", 1)
        rows.append((frozenset(labels.split(",")), text))
    return rows


def score(gold, pred, none):
    """exact-set accuracy; with a none label, in-scope accuracy and out-of-scope recall."""
    norm = lambda s: frozenset(l for l in s if l != none)
    r = {"exact": sum(norm(g) == norm(p) for g, p in zip(gold, pred)) / len(gold)}
    if none:
        ins = [(g, p) for g, p in zip(gold, pred) if norm(g)]
        oos = [(g, p) for g, p in zip(gold, pred) if not norm(g)]
        r["in_scope"] = sum(norm(g) == norm(p) for g, p in ins) / len(ins)
        r["oos_recall"] = sum(not norm(p) for _, p in oos) / len(oos)
    return r


def fasttext_run(train, test, multi, none, tmp):
    def write(rows, path):
        with open(path, "w") as f:
            for labels, text in rows:
                f.write(" ".join("__label__" + l for l in sorted(labels)) + " " + text.lower() + "\n")
    write(train, f"{tmp}/train.ft")
    args = ["fasttext", "supervised", "-input", f"{tmp}/train.ft", "-output", f"{tmp}/m"] + FASTTEXT_ARGS
    if multi:
        args += ["-loss", "ova"]
    t = time.perf_counter()
    subprocess.run(args, check=True)
    train_s = time.perf_counter() - t
    with open(f"{tmp}/test.txt", "w") as f:
        for _, text in test:
            f.write(text.lower() + "\n")
    out = subprocess.run(["fasttext", "predict", f"{tmp}/m.bin", f"{tmp}/test.txt"] + (["-1", "0.5"] if multi else ["1"]),
                         check=True, capture_output=True, text=True).stdout.splitlines()
    pred = [frozenset(x.replace("__label__", "").split()) for x in out]
    r = score([g for g, _ in test], pred, none)
    r.update(train_s=round(train_s, 2), model_bytes=os.path.getsize(f"{tmp}/m.bin"))
    return r


def sklearn_run(train, test, multi, none):
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.preprocessing import MultiLabelBinarizer
    from sklearn.svm import LinearSVC
    import pickle
    vec = sklearn_vectorizer()
    X = [t for _, t in train]
    t = time.perf_counter()
    V = vec.fit_transform(X)
    if multi:
        mlb = MultiLabelBinarizer()
        clf = OneVsRestClassifier(LinearSVC(C=0.5)).fit(V, mlb.fit_transform([sorted(l) for l, _ in train]))
        train_s = time.perf_counter() - t
        P = clf.predict(vec.transform([t for _, t in test]))
        pred = [frozenset(mlb.classes_[i] for i in range(len(mlb.classes_)) if row[i]) for row in P]
    else:
        clf = LinearSVC(C=0.5).fit(V, [next(iter(l)) for l, _ in train])
        train_s = time.perf_counter() - t
        pred = [frozenset([p]) for p in clf.predict(vec.transform([t for _, t in test]))]
    r = score([g for g, _ in test], pred, none)
    r.update(train_s=round(train_s, 2), model_bytes=len(pickle.dumps((vec, clf))))
    return r


def main():
    d, none = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
    train, test = read(f"{d}/train.tsv"), read(f"{d}/test.tsv")
    multi = any(len(l) > 1 for l, _ in train)
    out = {"set": os.path.basename(d.rstrip("/"))}
    with tempfile.TemporaryDirectory() as tmp:
        out["fasttext"] = fasttext_run(train, test, multi, none, tmp)
    out["sklearn"] = sklearn_run(train, test, multi, none)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
