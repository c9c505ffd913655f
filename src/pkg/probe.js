// f32x4.relaxed_madd over three v128 constants: valid only where relaxed SIMD runs (doc: probe.d.ts).
const RELAXED_MADD_MODULE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 61, 1, 59, 0,
  ...[0, 1, 2].flatMap(() => [253, 12, ...new Array(16).fill(0)]), 253, 133, 2, 11,
]);

export function relaxedSimdSupported() {
  return typeof WebAssembly === "object" && WebAssembly.validate(RELAXED_MADD_MODULE);
}
