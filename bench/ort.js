'use strict';
/*
 * ort.js - the ONNX Runtime contender of bench/compare.sh: the graph of
 * bench/onnx_export.py run by onnxruntime-node (one intra-op and one inter-op thread),
 * with intent's featurizer ("ih1", docs/FORMAT.md) written here in JavaScript.
 *
 * Protocol, as bench/driver.c and bench/contenders.py: texts read first; cold start =
 * require('onnxruntime-node') + session + sidecar + the first answer (Node's own start
 * not counted, as the Python interpreter's is not); warm-up; resident memory
 * (process.memoryUsage().rss); single-query latency (text in -> labels out, awaiting
 * session.run) cycling through the texts for SECONDS; BATCH texts a run (padded to the
 * longest) for SECONDS. Prints one JSON object; with --dump FILE, writes every text's
 * confidences instead.
 *
 * Unicode: ASCII words are exact. Other words use String.prototype.normalize and
 * toLowerCase, which is not full case folding (e.g. "ß" stays "ß"): approximate there.
 *
 * usage: node bench/ort.js ORT_MODULE_DIR MODEL.onnx SIDECAR.json TEXTS SECONDS BATCH [--dump FILE]
 */
const fs = require('fs');

const FNV_BASIS = 2166136261, FNV_PRIME = 16777619;
const TAG_WORD = 0x57, TAG_CHAR = 0x43, TAG_BOS = 0x42, TAG_EOS = 0x45;
const MAX_TOKENS = 256, MAX_FEATURES = 4096, MAX_WORD = 64, WORD_CAP = MAX_WORD * 4 + 32;

const step = (h, x) => Math.imul(h ^ x, FNV_PRIME) >>> 0;

function fmix32(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85EBCA6B);
  h ^= h >>> 13;
  h = Math.imul(h, 0xC2B2AE35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hashCps(seed, tag, cps) {
  let h = step((FNV_BASIS ^ seed) >>> 0, tag);
  for (const c of cps) h = step(h, c);
  return fmix32(h);
}

const hashPair = (a, b) => fmix32((Math.imul(a, 0x9E3779B1) + b + 0x7F4A7C15) >>> 0);

/* floor(h * B / 2^32) without 64-bit integers: h * B can reach 2^62. */
function bucketOf(h, B) {
  const hi = h >>> 16, lo = h & 0xffff;
  return Math.floor((hi * B + Math.floor((lo * B) / 65536)) / 65536);
}

const ASCII = /^[\x00-\x7f]*$/;
const ASCII_WORD = /[A-Za-z0-9]+/g;
const WORD = /[\p{L}\p{M}\p{N}]+/gu;

function normalizeWord(word, strip) {
  let raw = Buffer.from(Array.from(word).slice(0, MAX_WORD).join(''), 'utf8');
  while (raw.length) {
    let s = raw.toString('utf8').normalize('NFKD').toLowerCase().normalize('NFKD');
    if (strip) s = s.replace(/\p{M}/gu, '');
    s = s.replace(/\p{Default_Ignorable_Code_Point}/gu, '');
    const cps = Array.from(s);
    if (cps.length <= WORD_CAP) return Array.from(s.normalize('NFC')).slice(0, MAX_WORD);
    let half = raw.length >> 1;
    while (half > 0 && (raw[half] & 0xc0) === 0x80) half--;
    raw = raw.subarray(0, half);
  }
  return [];
}

class Featurizer {
  constructor(spec) {
    Object.assign(this, spec);
    this.idf = Float32Array.from(spec.idf);
    this.bos = hashCps(spec.seed, TAG_BOS, []);
    this.eos = hashCps(spec.seed, TAG_EOS, []);
    this.char0 = step((FNV_BASIS ^ spec.seed) >>> 0, TAG_CHAR);
  }

  words(text) {
    const out = [], re = ASCII.test(text) ? ASCII_WORD : WORD;
    re.lastIndex = 0;
    let m;
    while (out.length < MAX_TOKENS && (m = re.exec(text)) !== null) {
      const w = m[0];
      const cps = ASCII.test(w)
        ? Array.from(w.slice(0, MAX_WORD).toLowerCase(), (c) => c.charCodeAt(0))
        : normalizeWord(w, this.flags & 2).map((c) => c.codePointAt(0));
      if (cps.length) out.push(cps);
    }
    return out;
  }

  /* [ids, weights]: hashed n-grams, tf' = 1 + ln(tf), tf-idf, unseen dropped, L2 = 1. */
  features(text) {
    const B = this.buckets, counts = new Map(), hist = [];
    const add = (h) => {
      const b = bucketOf(h, B), c = counts.get(b);
      if (c !== undefined) counts.set(b, c + 1);
      else if (counts.size < MAX_FEATURES) counts.set(b, 1);
    };
    const ngrams = (h) => {
      let g = h;
      for (let k = 1; k < this.word_ngrams && k <= hist.length; k++) {
        g = hashPair(hist[hist.length - k], g);
        add(g);
      }
      hist.push(h);
      if (hist.length > 2) hist.shift();
    };
    const bounds = (this.flags & 4) && this.word_ngrams >= 2;
    if (bounds) hist.push(this.bos);
    const words = this.words(text);
    for (const w of words) {
      if (this.word_ngrams) {
        const h = hashCps(this.seed, TAG_WORD, w);
        add(h);
        ngrams(h);
      }
      if (this.char_max) {
        const m = [0x3c, ...w, 0x3e], L = m.length;
        for (let i = 0; i < L; i++) {
          let h = this.char0;
          for (let k = 0; k < this.char_max && i + k < L; k++) {
            h = step(h, m[i + k]);
            if (k + 1 >= this.char_min) add(fmix32(h));
          }
        }
      }
    }
    if (bounds && words.length) ngrams(this.eos);
    const ids = [], ws = [];
    let norm2 = 0;
    for (const [b, tf] of counts) {
      const w = ((this.flags & 1) && tf > 1 ? 1 + Math.log(tf) : tf) * this.idf[b];
      if (w === 0) continue;
      ids.push(b);
      ws.push(w);
      norm2 += w * w;
    }
    const inv = norm2 > 0 ? 1 / Math.sqrt(norm2) : 0;
    return [ids, ws.map((w) => w * inv)];
  }
}

/* Labels at or over the threshold, most confident first, at most max_labels. */
function decode(spec, conf, row, n) {
  let over = 0, best = 0;
  for (let j = 0; j < n; j++) {
    const p = conf[row * n + j];
    if (p >= spec.threshold) over++;
    if (p > conf[row * n + best]) best = j;
  }
  const k = over === 0 ? spec.min_labels : Math.min(over, spec.max_labels);
  if (k === 0) return [];
  if (k === 1) return [spec.labels[best]];
  const order = [...Array(n).keys()].sort((a, b) => conf[row * n + b] - conf[row * n + a] || a - b);
  return order.slice(0, k).map((j) => spec.labels[j]);
}

function rssKb() {
  return Math.round(process.memoryUsage().rss / 1024);
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv.length !== 6 && !(argv.length === 8 && argv[6] === '--dump')) {
    process.stderr.write('usage: node bench/ort.js ORT_MODULE_DIR MODEL.onnx SIDECAR.json TEXTS SECONDS BATCH [--dump FILE]\n');
    process.exit(2);
  }
  const [ortDir, modelPath, sidecarPath, textsPath] = argv;
  const seconds = Number(argv[4]), batch = Number(argv[5]);
  const texts = fs.readFileSync(textsPath, 'utf8').split('\n');
  if (texts[texts.length - 1] === '') texts.pop();
  const now = () => Number(process.hrtime.bigint()) / 1e3; // microseconds

  const t0 = now();
  const ort = require(ortDir);
  const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const spec = JSON.parse(fs.readFileSync(sidecarPath, 'utf8'));
  const feat = new Featurizer(spec);
  const nLab = spec.labels.length;

  /* n texts -> confidences [n][nLab], padded to the longest feature list (at least 1) */
  const confidences = async (batchTexts) => {
    const fs_ = batchTexts.map((t) => feat.features(t));
    const k = Math.max(1, ...fs_.map((f) => f[0].length)), n = fs_.length;
    const idx = new BigInt64Array(n * k), w = new Float32Array(n * k);
    fs_.forEach(([ids, ws], r) => {
      for (let j = 0; j < ids.length; j++) {
        idx[r * k + j] = BigInt(ids[j]);
        w[r * k + j] = ws[j];
      }
    });
    const out = await session.run({
      indices: new ort.Tensor('int64', idx, [n, k]), weights: new ort.Tensor('float32', w, [n, k]),
    });
    return out.confidences.data;
  };
  const answer = async (text) => decode(spec, await confidences([text]), 0, nLab);

  await answer(texts[0]);
  const coldMs = (now() - t0) / 1e3;

  if (argv.length === 8) {
    const lines = [];
    for (const t of texts) lines.push(Array.from(await confidences([t]), (p) => p.toPrecision(9)).join(' '));
    fs.writeFileSync(argv[7], lines.join('\n') + '\n');
    return;
  }
  let end = now() + (seconds * 1e6) / 4;
  for (let i = 0; i < 2000 && now() < end; i++) await answer(texts[i % texts.length]);
  const rss = rssKb();

  const lat = [];
  end = now() + seconds * 1e6;
  while (lat.length < 64 || now() < end) {
    const text = texts[lat.length % texts.length];
    const a = now();
    await answer(text);
    lat.push(now() - a);
  }
  lat.sort((x, y) => x - y);

  let answers = 0, at = 0;
  const start = now();
  let t = start;
  while (t - start < seconds * 1e6) {
    const chunk = [];
    for (let k = 0; k < batch; k++, at++) chunk.push(texts[at % texts.length]);
    const conf = await confidences(chunk);
    for (let r = 0; r < batch; r++) decode(spec, conf, r, nLab);
    answers += batch;
    t = now();
  }
  const featUs = []; /* the featurizer alone, to split featurizing from the graph */
  end = now() + (seconds * 1e6) / 4;
  while (featUs.length < 64 || now() < end) {
    const text = texts[featUs.length % texts.length];
    const a = now();
    feat.features(text);
    featUs.push(now() - a);
  }
  featUs.sort((x, y) => x - y);
  const bytes = fs.statSync(modelPath).size + fs.statSync(sidecarPath).size;
  process.stdout.write(JSON.stringify({
    cold_ms: coldMs, p50_us: lat[lat.length >> 1], p99_us: lat[Math.floor((lat.length * 99) / 100)],
    n: lat.length, per_second: answers / ((t - start) / 1e6), rss_kb: rss, model_bytes: bytes,
    featurize_p50_us: featUs[featUs.length >> 1],
  }) + '\n');
}

main().catch((e) => {
  process.stderr.write(`ort.js: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
