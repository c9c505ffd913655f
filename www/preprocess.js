// MNIST-style preprocessing of a drawing (white ink on black): crop to the ink's bounding box, scale the
// longer side to 20 px keeping the aspect ratio (area-averaged, so anti-aliased), and place it in a 28×28
// field with its centre of mass at the centre. Returns a Float32Array of 784 values in [0, 1], or null
// when nothing is drawn.

const INK_THRESHOLD = 8;
const BOX = 20;
const FIELD = 28;

export function toMnistInput(image) {
  const { width, height, data } = image;
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (data[(y * width + x) * 4] > INK_THRESHOLD) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const scale = BOX / Math.max(w, h);
  const tw = Math.max(1, Math.round(w * scale));
  const th = Math.max(1, Math.round(h * scale));
  const small = areaResample(data, width, x0, y0, w, h, tw, th);

  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const v = small[y * tw + x];
      mass += v;
      mx += v * (x + 0.5);
      my += v * (y + 0.5);
    }
  }
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  const ox = clamp(Math.round(FIELD / 2 - mx / mass), 0, FIELD - tw);
  const oy = clamp(Math.round(FIELD / 2 - my / mass), 0, FIELD - th);
  const out = new Float32Array(FIELD * FIELD);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      out[(y + oy) * FIELD + x + ox] = small[y * tw + x];
    }
  }
  return out;
}

/** Box-filters the w×h crop at (x0, y0) of the red channel down to tw×th, weighting partial pixels. */
function areaResample(rgba, stride, x0, y0, w, h, tw, th) {
  const weights = (src, dst) => {
    const ratio = src / dst;
    return Array.from({ length: dst }, (_, i) => {
      const start = i * ratio, end = (i + 1) * ratio;
      const taps = [];
      for (let s = Math.floor(start); s < Math.min(src, Math.ceil(end)); s++) {
        const cover = Math.min(end, s + 1) - Math.max(start, s);
        if (cover > 0) taps.push([s, cover / ratio]);
      }
      return taps;
    });
  };
  const wx = weights(w, tw);
  const wy = weights(h, th);
  const rows = new Float32Array(h * tw);
  for (let y = 0; y < h; y++) {
    const base = ((y0 + y) * stride + x0) * 4;
    for (let x = 0; x < tw; x++) {
      let acc = 0;
      for (const [s, k] of wx[x]) acc += rgba[base + s * 4] * k;
      rows[y * tw + x] = acc;
    }
  }
  const out = new Float32Array(tw * th);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      let acc = 0;
      for (const [s, k] of wy[y]) acc += rows[s * tw + x] * k;
      out[y * tw + x] = Math.min(1, acc / 255);
    }
  }
  return out;
}
