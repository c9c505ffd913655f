// The package's worker (webinfer/worker.js) is an ES module worker: keep it one.
export default { worker: { format: "es" }, build: { target: "es2022" } };
