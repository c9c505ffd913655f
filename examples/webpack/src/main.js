// A minimal app: the MNIST CNN reads one digit on the page and again in the package's Web Worker.
import init, { Model, simdBuild } from "webinfer";
import { WorkerModel } from "webinfer/worker.js";

const argmax = (data) => data.indexOf(Math.max(...data));
const result = document.getElementById("result");
try {
  const { pixels, label } = await (await fetch("./digit.json")).json();
  const input = new Float32Array(pixels);
  await init();
  const model = await Model.load("./model/model.json", { backend: "cpu" });
  const page = argmax(Array.from((await model.predict(input, [1, 28, 28, 1])).data));
  const inWorker = await WorkerModel.load("./model/model.json", { backend: "cpu" });
  const worker = argmax(Array.from((await inWorker.predict(input, [1, 28, 28, 1])).data));
  result.textContent = JSON.stringify({ label, page, worker, build: simdBuild(), workerBuild: inWorker.simdBuild });
  inWorker.free();
  model.free();
} catch (e) {
  result.textContent = JSON.stringify({ error: `${e.name}: ${e.message}` });
}
