// Times one ONNX model with ONNX Runtime's CPU provider; prints "ort: median_ms=... min_ms=...".
// node bench/ort_time.mjs MODEL.onnx INPUT.npy THREADS ITERS [OUTPUT.npy]
// onnxruntime-node is found through NODE_PATH (compare_onnxruntime.py sets it).
import { createRequire } from 'module';
import fs from 'fs';
const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');

function readNpy(path) {  // float32, C order: enough for the inputs compare_onnxruntime.py writes
    const buf = fs.readFileSync(path);
    const hlen = buf.readUInt16LE(8);
    const header = buf.toString('latin1', 10, 10 + hlen);
    const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter(s => s.trim()).map(Number);
    const data = new Float32Array(buf.buffer.slice(buf.byteOffset + 10 + hlen, buf.byteOffset + buf.length));
    return new ort.Tensor('float32', data, shape);
}

function writeNpy(path, t) {
    let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${t.dims.join(', ')},), }`;
    header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
    const pre = Buffer.alloc(10);
    pre.write('\x93NUMPY', 0, 'latin1'); pre[6] = 1; pre[7] = 0; pre.writeUInt16LE(header.length, 8);
    fs.writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(t.data.buffer)]));
}

const [model, input, threads, iters, output] = process.argv.slice(2);
const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', executionMode: 'sequential',
    intraOpNumThreads: Number(threads), interOpNumThreads: 1,
});
const feeds = { [session.inputNames[0]]: readNpy(input) };
let out = await session.run(feeds);  // warm-up
if (output) writeNpy(output, out[session.outputNames[0]]);
const ms = [];
for (let i = 0; i < Number(iters); ++i) {
    const t0 = process.hrtime.bigint();
    out = await session.run(feeds);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
}
ms.sort((a, b) => a - b);
console.log(`ort: median_ms=${ms[ms.length >> 1].toFixed(3)} min_ms=${ms[0].toFixed(3)}`);
