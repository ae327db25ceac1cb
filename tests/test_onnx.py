#!/usr/bin/python3
"""tests/test_onnx.py - `intent export --onnx` end to end.

Trains small models with build/intent (float, int8, ensembles, no hidden layer; on
examples/assistant.tsv, and on clinc150 when ../shared/data has it), exports each to
ONNX and checks that
  - the file passes onnx.checker.check_model(full_check=True) and reads back to the
    same bytes (canonical protobuf), with the metadata docs/ONNX.md promises;
  - the graph, run by the small NumPy evaluator below (it interprets the node types the
    exporter writes), gives the confidences of `intent featurize --confidences`
    (intent_predict_batch) within 1e-5 on every text, n = 0 features included;
  - the same through ONNX Runtime (npm onnxruntime-node), when it is installed in .ort/
    (ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix .ort onnxruntime-node@1.30.0).

Run: /usr/bin/python3 tests/test_onnx.py   (ends with "ONNX tests: N passed, M failed";
skipped tests are listed and counted in neither), or /usr/bin/python3 -m pytest
tests/test_onnx.py. Needs Debian's python3-onnx and python3-numpy; skips, saying so,
without them. BUILD names the build folder (default build); INTENT_DATA_DIR the data
sets (default ../shared/data); INTENT_ONNX_TEXTS how many clinc150 test texts (500).
"""
import atexit
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import pytest
    Skip = pytest.skip.Exception
except ImportError:  # plain-script runs need no pytest
    class Skip(Exception):
        pass

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
    HAVE_ONNX = True
except ImportError:
    HAVE_ONNX = False

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get('BUILD', 'build'))
INTENT = os.path.join(BUILD, 'intent')
DATA = os.environ.get('INTENT_DATA_DIR', os.path.join(ROOT, '..', 'shared', 'data'))
CLINC = os.path.join(DATA, 'clinc150')
N_CLINC = int(os.environ.get('INTENT_ONNX_TEXTS', '500'))
ORT_DIR = os.environ.get('INTENT_ORT_NODE_PATH', os.path.join(ROOT, '.ort', 'node_modules'))
TOL = 1e-5

TMP = tempfile.mkdtemp(prefix='intent-onnx-')
atexit.register(shutil.rmtree, TMP, True)


def skip(why):
    raise Skip(why)


def need_onnx():
    if not HAVE_ONNX:
        skip('python3-onnx or python3-numpy is not installed (apt-get install python3-onnx python3-numpy)')


def need_clinc():
    if not os.path.exists(os.path.join(CLINC, 'train.tsv')):
        skip('clinc150 is not in %s' % DATA)


def intent(*args, stdin=None):
    r = subprocess.run([INTENT] + list(args), input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError('intent %s failed: %s' % (' '.join(args), r.stderr.strip()[-600:]))
    return r.stdout


# ---- models, made once per run ----

ASSIST = ['--data', 'examples/assistant.tsv', '--none-label', 'oos', '--threads', '2', '--quiet']
CLINC_TRAIN = ['--none-label', 'oos', '--buckets', '4096', '--epochs', '3', '--threads', '2', '--quiet']
RECIPES = {
    'assistant': ASSIST + ['--buckets', '4096', '--hidden', '64,32', '--epochs', '8'],
    'assistant-int8': 'assistant',
    'assistant-nets2': ASSIST + ['--buckets', '2048', '--hidden', '32', '--nets', '2', '--epochs', '6'],
    'assistant-linear': ASSIST + ['--buckets', '2048', '--hidden', '', '--epochs', '6'],
    'clinc': CLINC_TRAIN + ['--hidden', '32'],
    'clinc-int8': 'clinc',
    'clinc-nets2': CLINC_TRAIN + ['--hidden', '32,16', '--nets', '2'],
}


@functools.lru_cache(maxsize=None)
def model(name):
    """The path of model `name` (an .intent file), trained or quantized on first use."""
    if name.startswith('clinc'):
        need_clinc()
    path = os.path.join(TMP, name + '.intent')
    recipe = RECIPES[name]
    if isinstance(recipe, str):
        intent('quantize', '--model', model(recipe), '--out', path)
    else:
        data = []
        if name.startswith('clinc'):
            data = ['--data', os.path.join(CLINC, 'train.tsv'), '--dev', os.path.join(CLINC, 'dev.tsv')]
        subprocess.run([INTENT, 'train', '--out', path] + data + recipe, cwd=ROOT, check=True,
                       capture_output=True)
    return path


@functools.lru_cache(maxsize=None)
def exported(name):
    path = os.path.join(TMP, name + '.onnx')
    intent('export', '--model', model(name), '--onnx', path)
    return path


EDGE_TEXTS = [
    '',                                   # no features: the graph must give b0's answer
    'zqxj vvkw',                          # n-grams never seen in training (likely none kept)
    'play some jazz and open my files, then tell me the weather',  # compound command
    'Réveille-moi à 7h ÉTÉ café naïve',   # normalization: case, accents
    ' '.join(['play the next song on my playlist'] * 60),  # past INTENT_MAX_TOKENS words
]


@functools.lru_cache(maxsize=None)
def texts(name):
    """The texts model `name` is checked on."""
    if name.startswith('clinc'):
        lines = open(os.path.join(CLINC, 'test.tsv'), encoding='utf-8').read().splitlines()
        step = max(1, len(lines) // N_CLINC)
        chosen = [l.split('\t', 1)[1] for l in lines[::step]][:N_CLINC]
    else:
        chosen = [l.split('\t', 1)[1] for l in
                  open(os.path.join(ROOT, 'examples', 'assistant_test.tsv'), encoding='utf-8').read().splitlines()]
    return tuple(chosen + EDGE_TEXTS)


@functools.lru_cache(maxsize=None)
def cases(name):
    """(path of the JSON lines, [{ids, weights, confidences}]) from intent featurize."""
    out = intent('featurize', '--model', model(name), '--json', '--confidences',
                 stdin=''.join(t + '\n' for t in texts(name)))
    path = os.path.join(TMP, name + '.jsonl')
    with open(path, 'w') as f:
        f.write(out)
    rows = [json.loads(l) for l in out.splitlines()]
    assert len(rows) == len(texts(name)), 'one line out per text in'
    return path, rows


# ---- a NumPy evaluator for the node types the exporter writes ----

class Graph:
    """Runs an ONNX graph on NumPy arrays, node by node in file order (which ONNX
    requires to be topological). Only the ops intent writes; anything else fails."""

    def __init__(self, path):
        self.model = onnx.load(path)
        self.consts = {t.name: numpy_helper.to_array(t) for t in self.model.graph.initializer}
        self.outputs = [o.name for o in self.model.graph.output]

    def run(self, feeds):
        env = dict(self.consts)
        env.update(feeds)
        for node in self.model.graph.node:
            x = [env[n] for n in node.input]
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            env[node.output[0]] = self.op(node.op_type, x, attrs)
        return [env[o] for o in self.outputs]

    @staticmethod
    def op(kind, x, attrs):
        if kind == 'Gather':
            return np.take(x[0], x[1], axis=attrs.get('axis', 0))
        if kind == 'Unsqueeze':  # opset 13: axes are an input
            return np.expand_dims(x[0], tuple(int(a) for a in x[1]))
        if kind == 'ReduceSum':  # opset 13: axes are an input; an empty sum is 0
            axes = tuple(int(a) for a in x[1]) if len(x) > 1 else None
            return np.sum(x[0], axis=axes, keepdims=bool(attrs.get('keepdims', 1)), dtype=x[0].dtype)
        if kind == 'Mul':
            return x[0] * x[1]
        if kind == 'Add':
            return x[0] + x[1]
        if kind == 'Div':
            return x[0] / x[1]
        if kind == 'Relu':
            return np.maximum(x[0], np.float32(0))
        if kind == 'MatMul':
            return np.matmul(x[0], x[1])
        if kind == 'Sigmoid':
            return np.float32(1) / (np.float32(1) + np.exp(-x[0]))
        if kind == 'Sum':
            return functools.reduce(np.add, x)
        raise NotImplementedError('the evaluator does not know %s' % kind)


def feeds(case):
    return {'indices': np.asarray(case['ids'], dtype=np.int64),
            'weights': np.asarray(case['weights'], dtype=np.float32)}


def props(path):
    """The metadata of an ONNX file: key -> value."""
    return {p.key: p.value for p in onnx.load(path).metadata_props}


def inspect_meta(name):
    """Metadata of the .intent file as `intent inspect` prints it: key -> value text."""
    meta = {}
    for line in intent('inspect', model(name)).splitlines():
        parts = line.split(None, 2)
        if line.startswith('  ') and len(parts) == 3 and parts[1].split('[')[0] in ('str', 'u32', 'f32', 'u64'):
            meta[parts[0]] = parts[2]
    return meta


# ---- tests ----

ALL = list(RECIPES)
results = {}  # name -> (texts, max abs diff), for the summary


def check_file(name):
    need_onnx()
    path = exported(name)
    data = open(path, 'rb').read()
    m = onnx.load_from_string(data)
    onnx.checker.check_model(m, full_check=True)
    assert m.ir_version == 8 and m.producer_name == 'intent'
    assert [(o.domain, o.version) for o in m.opset_import] == [('', 13)]
    assert m.SerializeToString() == data, 'not the canonical encoding of what it holds'
    assert not [f for f in os.listdir(TMP) if '.tmp.' in f], 'temporary file left'
    ins = {i.name: i for i in m.graph.input}
    assert set(ins) == {'indices', 'weights'}
    assert ins['indices'].type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert ins['weights'].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    out = m.graph.output[0]
    assert [o.name for o in m.graph.output] == ['confidences']
    props = {p.key: p.value for p in m.metadata_props}
    meta = inspect_meta(name)
    labels = json.loads(props['labels'])
    shown = meta['labels'].split()  # inspect cuts long lists short with "..."
    if shown[-1] == '...':
        assert labels[:len(shown) - 1] == shown[:-1], (labels, shown)
    else:
        assert labels == shown, (labels, shown)
    assert len(labels) == len(set(labels)) == int(meta['net.layers'].split()[-1])
    assert [d.dim_value for d in out.type.tensor_type.shape.dim] == [len(labels)]
    assert props['none_label'] == json.loads(meta.get('none_label', '""'))
    assert abs(float(props['threshold']) - float(meta['decode.threshold'])) < 1e-6
    assert props['feat.hash'] == 'ih1'
    for key in ('feat.seed', 'feat.buckets', 'feat.word_ngrams', 'feat.char_min', 'feat.char_max', 'feat.flags'):
        assert props[key] == meta[key], key
    for key in ('max_labels', 'min_labels', 'temperature', 'nets', 'intent_version', 'model_crc32c',
                'feat.sublinear_tf', 'feat.strip_accents', 'feat.word_bounds', 'clause_max_labels',
                'clause_marks', 'clause_words'):
        assert key in props, key
    assert props['model_crc32c'] in intent('inspect', model(name)).splitlines()[0]


def check_numpy(name):
    need_onnx()
    g = Graph(exported(name))
    buckets = int(next(p.value for p in g.model.metadata_props if p.key == 'feat.buckets'))
    _, rows = cases(name)
    worst, empty = 0.0, 0
    for text, case in zip(texts(name), rows):
        ids, w = case['ids'], np.asarray(case['weights'], dtype=np.float64)
        assert len(set(ids)) == len(ids) and all(0 <= i < buckets for i in ids), text
        assert not ids or abs(np.sqrt(np.sum(w * w)) - 1) < 1e-5, 'weights are L2-normalized'
        empty += not ids
        (conf,) = g.run(feeds(case))
        assert conf.dtype == np.float32 and conf.shape == (len(case['confidences']),)
        worst = max(worst, float(np.max(np.abs(conf - np.asarray(case['confidences'], dtype=np.float64)))))
    assert empty >= 1, 'the empty text was checked'
    results[name] = (len(rows), worst)
    print('  %-17s NumPy: max |onnx - intent| = %.2e over %d texts' % (name, worst, len(rows)))
    assert worst < TOL, worst


def ort_node():
    """The node command line that can load onnxruntime-node, or a skip."""
    node = shutil.which('node')
    if not node:
        skip('node is not installed')
    if not os.path.isdir(os.path.join(ORT_DIR, 'onnxruntime-node')):
        skip('onnxruntime-node is not in %s (to install it: ONNXRUNTIME_NODE_INSTALL=skip npm install '
             '--prefix .ort onnxruntime-node@1.30.0)' % ORT_DIR)
    return node


def check_ort(name):
    node = ort_node()
    path, rows = cases(name)
    r = subprocess.run([node, os.path.join(ROOT, 'tests', 'onnx_ort.js'), exported(name), path],
                       capture_output=True, text=True, env=dict(os.environ, NODE_PATH=ORT_DIR))
    assert r.returncode == 0, r.stderr[-800:]
    got = json.loads(r.stdout)
    print('  %-17s %s: max |onnx - intent| = %.2e over %d texts' % (name, got['runtime'], got['max_abs_diff'],
                                                                   got['texts']))
    assert got['texts'] == len(rows) and got['max_abs_diff'] < TOL, got


def test_file_assistant(): check_file('assistant')
def test_file_int8(): check_file('assistant-int8')
def test_file_ensemble(): check_file('assistant-nets2')
def test_file_linear(): check_file('assistant-linear')
def test_file_clinc(): check_file('clinc')
def test_numpy_assistant(): check_numpy('assistant')
def test_numpy_int8(): check_numpy('assistant-int8')
def test_numpy_ensemble(): check_numpy('assistant-nets2')
def test_numpy_linear(): check_numpy('assistant-linear')
def test_numpy_clinc(): check_numpy('clinc')
def test_numpy_clinc_int8(): check_numpy('clinc-int8')
def test_numpy_clinc_ensemble(): check_numpy('clinc-nets2')
def test_ort_assistant(): check_ort('assistant')
def test_ort_int8(): check_ort('assistant-int8')
def test_ort_ensemble(): check_ort('assistant-nets2')
def test_ort_linear(): check_ort('assistant-linear')
def test_ort_clinc(): check_ort('clinc')
def test_ort_clinc_int8(): check_ort('clinc-int8')
def test_ort_clinc_ensemble(): check_ort('clinc-nets2')


def test_agrees_with_predict():
    """featurize --confidences is what intent predict answers: on single-label clinc150
    (no clause decoding) the top label and its confidence (printed to 4 decimals) agree."""
    need_clinc()
    _, rows = cases('clinc')
    out = intent('predict', '--model', model('clinc'), '--json', '--top', '1',
                 stdin=''.join(t + '\n' for t in texts('clinc')))
    labels = json.loads(props(exported('clinc'))['labels']) if HAVE_ONNX else None
    for text, case, line in zip(texts('clinc'), rows, out.splitlines()):
        top = json.loads(line)['top'][0]
        conf = case['confidences']
        best = max(range(len(conf)), key=lambda i: conf[i])
        assert abs(top['confidence'] - conf[best]) <= 6e-5, text
        margin = conf[best] - max(c for i, c in enumerate(conf) if i != best)
        assert margin < 1e-4 or labels is None or top['label'] == labels[best], text


def test_metadata_drives_decoding():
    """A consumer decoding with the metadata alone (threshold, max_labels) gets the labels
    intent_decode gives: checked on single-label clinc150 against intent predict."""
    need_onnx()
    need_clinc()
    g = Graph(exported('clinc'))
    props = {p.key: p.value for p in g.model.metadata_props}
    labels, thr, most = json.loads(props['labels']), float(props['threshold']), int(props['max_labels'])
    least = int(props['min_labels'])
    _, rows = cases('clinc')
    out = intent('predict', '--model', model('clinc'), '--json', stdin=''.join(t + '\n' for t in texts('clinc')))
    for case, line in zip(rows, out.splitlines()):
        (conf,) = g.run(feeds(case))
        order = sorted(range(len(labels)), key=lambda i: (-conf[i], i))
        over = sum(1 for c in conf if c >= thr)
        n = least if over == 0 else min(over, most)
        mine = [labels[i] for i in order[:n]]
        theirs = json.loads(line)['labels']
        near = any(abs(c - thr) < 1e-5 for c in conf)  # a hair from the threshold: either way
        assert mine == theirs or near, (mine, theirs)


def main():
    tests = [(k, v) for k, v in globals().items() if k.startswith('test_') and callable(v)]
    passed = failed = 0
    skipped = {}
    for name, fn in tests:
        try:
            fn()
        except Skip as e:
            skipped.setdefault(str(e), []).append(name)
            continue
        except Exception as e:  # report and go on
            failed += 1
            print('FAIL %s: %s: %s' % (name, type(e).__name__, str(e)[:600]))
            continue
        passed += 1
        print('ok   %s' % name)
    for why, names in skipped.items():
        print('skip %s: %s' % (', '.join(names), why))
    print('ONNX tests: %d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
