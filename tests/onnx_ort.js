// tests/onnx_ort.js - runs an exported graph in ONNX Runtime (npm onnxruntime-node) on
// the features of texts and compares with intent's own confidences.
//   node tests/onnx_ort.js MODEL.onnx CASES.jsonl
// CASES: lines of `intent featurize --json --confidences`. Prints one JSON line:
// {"texts": N, "max_abs_diff": D, "runtime": "onnxruntime-node VERSION"}.
// onnxruntime-node is found through NODE_PATH (tests/test_onnx.py points it at .ort/).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
    const [model, cases] = process.argv.slice(2);
    const session = await ort.InferenceSession.create(model);
    let n = 0, worst = 0;
    for (const line of fs.readFileSync(cases, 'utf8').split('\n')) {
        if (!line) continue;
        const c = JSON.parse(line);
        const k = c.ids.length;
        const feeds = {
            indices: new ort.Tensor('int64', BigInt64Array.from(c.ids, BigInt), [k]),
            weights: new ort.Tensor('float32', Float32Array.from(c.weights), [k]),
        };
        const out = (await session.run(feeds)).confidences;
        if (out.dims.length !== 1 || out.dims[0] !== c.confidences.length)
            throw new Error(`text ${n + 1}: output shape [${out.dims}], want [${c.confidences.length}]`);
        for (let i = 0; i < c.confidences.length; i++) {
            const d = Math.abs(out.data[i] - c.confidences[i]);
            if (!(d <= worst)) worst = d; // NaN sticks
        }
        n++;
    }
    const version = require('onnxruntime-node/package.json').version;
    console.log(JSON.stringify({texts: n, max_abs_diff: worst, runtime: `onnxruntime-node ${version}`}));
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
