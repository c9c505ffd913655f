// Loads the package and the MNIST MLP, predicts one digit, and writes {violations, backend, outputs} (or the error)
// as JSON into #result: the page csp.test.mjs serves under a strict Content-Security-Policy.
const violations = [];
document.addEventListener("securitypolicyviolation", (e) => violations.push(`${e.violatedDirective}: ${e.blockedURI}`));
const result = document.getElementById("result");
try {
  const pkg = await import("/pkg/index.js");
  await pkg.default();
  const model = await pkg.Model.load("/tests/fixtures/mnist/converted/mlp/model.json", { backend: "cpu" });
  const digit = new Float32Array(784).map((_, i) => ((i * 7919) % 255) / 255);
  const out = await model.predict(digit, [1, 28, 28, 1]);
  result.textContent = JSON.stringify({ violations, build: pkg.simdBuild(), outputs: Array.from(out.data) });
} catch (e) {
  result.textContent = JSON.stringify({ violations, error: `${e.name}: ${e.message}` });
}
