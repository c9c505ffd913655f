/** True where `WebAssembly.validate` accepts relaxed-SIMD code: a one-function module whose body is
 * `f32x4.relaxed_madd` over three constant vectors. The package entry (index.js) and the browser tests share it. */
export function relaxedSimdSupported(): boolean;
