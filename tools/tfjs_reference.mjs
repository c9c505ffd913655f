// Runs real TensorFlow.js (@tensorflow/tfjs 4.22, CPU backend, from bench/node_modules) on every
// tfjs_* fixture directory under the given root and writes tfjs_output.json beside its model.json.
// Part of tools/make_interop_fixtures.py; never run in CI.
//
// Two TF.js 4.22 defects are worked around on the copy TF.js reads, without changing the math:
// - its CPU backend has no fused Tanh, so a _FusedMatMul/_FusedConv2D ending in Tanh is split into
//   the fused op without it plus a Tanh node;
// - it rejects the kernel_* fields tf_keras writes into SeparableConv2D configs, so they are dropped.
// Keras 3 style layers models it cannot load at all; they are checked against their Keras 2 twins.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../bench/package.json', import.meta.url));
const tf = require('@tensorflow/tfjs');

function readNpyF32(file) {
  const b = fs.readFileSync(file);
  const headerLen = b.readUInt16LE(8);
  const header = b.subarray(10, 10 + headerLen).toString('latin1');
  if (!header.includes("'<f4'")) throw new Error(`${file}: expected float32, header ${header}`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const data = new Float32Array(b.buffer.slice(b.byteOffset + 10 + headerLen, b.byteOffset + b.length));
  return tf.tensor(data, shape);
}

function handler(dir) {
  return {
    async load() {
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
      const specs = [];
      const buffers = [];
      for (const group of json.weightsManifest) {
        specs.push(...group.weights);
        for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
      }
      const all = Buffer.concat(buffers);
      workAround(json);
      return {
        modelTopology: json.modelTopology, format: json.format, generatedBy: json.generatedBy,
        convertedBy: json.convertedBy, signature: json.signature, userDefinedMetadata: json.userDefinedMetadata,
        modelInitializer: json.modelInitializer, weightSpecs: specs,
        weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.length),
      };
    },
  };
}

const UNFUSABLE = ['Tanh'];

function workAround(json) {
  const nodes = json.modelTopology?.node;
  if (nodes) {
    const extra = [];
    for (const node of nodes) {
      const fused = node.attr?.fused_ops?.list?.s;
      if (!fused) continue;
      const last = Buffer.from(fused[fused.length - 1], 'base64').toString();
      if (!UNFUSABLE.includes(last)) continue;
      fused.pop();
      const inner = `${node.name}/without_${last}`;
      extra.push({ name: node.name, op: last, input: [inner], attr: { T: node.attr.T } });
      node.name = inner;
    }
    nodes.push(...extra);
  }
  const layers = json.modelTopology?.model_config?.config?.layers;
  for (const layer of layers ?? []) {
    if (layer.class_name === 'SeparableConv2D') {
      for (const k of ['kernel_initializer', 'kernel_regularizer', 'kernel_constraint']) delete layer.config[k];
    }
  }
}

const root = process.argv[2];
for (const model of fs.readdirSync(root).sort()) {
  const modelDir = path.join(root, model);
  const names = JSON.parse(fs.readFileSync(path.join(modelDir, 'input_names.json'), 'utf8'));
  const xs = names.map((_, i) => readNpyF32(path.join(modelDir, `input${i}.npy`)));
  for (const sub of fs.readdirSync(modelDir).filter((d) => d.startsWith('tfjs_')).sort()) {
    const dir = path.join(modelDir, sub);
    const format = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8')).format;
    let y;
    try {
      if (format === 'graph-model') {
        const m = await tf.loadGraphModel(handler(dir));
        const feed = {};
        m.inputs.forEach((inp) => {
          const i = names.indexOf(inp.name.replace(/:0$/, ''));
          if (i < 0) throw new Error(`graph input ${inp.name} is not one of ${names}`);
          feed[inp.name] = xs[i];
        });
        y = m.execute(feed);
      } else {
        const m = await tf.loadLayersModel(handler(dir));
        y = m.predict(xs.length > 1 ? xs : xs[0]);
      }
    } catch (e) {
      console.log(`${model}/${sub}: TF.js cannot load it: ${String(e.message).split('\n')[0]}`);
      fs.rmSync(path.join(dir, 'tfjs_output.json'), { force: true });
      continue;
    }
    if (Array.isArray(y)) y = y[0];
    const out = { shape: y.shape, data: Array.from(y.dataSync()) };
    fs.writeFileSync(path.join(dir, 'tfjs_output.json'), JSON.stringify(out) + '\n');
    console.log(`${model}/${sub}: ${JSON.stringify(y.shape)}`);
  }
}
