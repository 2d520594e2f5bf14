/** An 8-bit single-channel image, row-major: what text finding and OCR work on. */
export interface GreyImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Luma (BT.601) of an interleaved RGB buffer. */
export function greyFromRgb(width: number, height: number, rgb: Uint8Array): GreyImage {
  const data = new Uint8Array(width * height);
  for (let i = 0, j = 0; i < data.length; i++, j += 3) data[i] = (rgb[j] * 299 + rgb[j + 1] * 587 + rgb[j + 2] * 114 + 500) / 1000;
  return { width, height, data };
}

/** Bilinear sample with the edge pixel repeated outside the image. */
export function sampleGrey(img: GreyImage, x: number, y: number): number {
  const { width: w, height: h, data } = img;
  const fx = Math.min(Math.max(x, 0), w - 1);
  const fy = Math.min(Math.max(y, 0), h - 1);
  const x0 = Math.floor(fx);
  const y0 = Math.floor(fy);
  const x1 = Math.min(x0 + 1, w - 1);
  const y1 = Math.min(y0 + 1, h - 1);
  const ax = fx - x0;
  const ay = fy - y0;
  const top = data[y0 * w + x0] * (1 - ax) + data[y0 * w + x1] * ax;
  const bottom = data[y1 * w + x0] * (1 - ax) + data[y1 * w + x1] * ax;
  return top * (1 - ay) + bottom * ay;
}

/**
 * Dark-on-light text mask: a pixel is ink when it is clearly darker than the mean of the square
 * around it (half side `radius`). Local means follow uneven lighting and the tinted security
 * backgrounds of data pages, where one global threshold loses either the text or the page.
 */
export function inkMask(img: GreyImage, radius: number, contrast = 0.12): Uint8Array {
  const { width: w, height: h, data } = img;
  const stride = w + 1;
  const integral = new Float64Array(stride * (h + 1));
  for (let y = 0; y < h; y++) {
    let row = 0;
    for (let x = 0; x < w; x++) {
      row += data[y * w + x];
      integral[(y + 1) * stride + x + 1] = integral[y * stride + x + 1] + row;
    }
  }
  const mask = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const y0 = Math.max(0, y - radius);
    const y1 = Math.min(h, y + radius + 1);
    for (let x = 0; x < w; x++) {
      const x0 = Math.max(0, x - radius);
      const x1 = Math.min(w, x + radius + 1);
      const sum = integral[y1 * stride + x1] - integral[y0 * stride + x1] - integral[y1 * stride + x0] + integral[y0 * stride + x0];
      const mean = sum / ((x1 - x0) * (y1 - y0));
      const g = data[y * w + x];
      if (g < mean * (1 - contrast) && g < mean - 8) mask[y * w + x] = 1;
    }
  }
  return mask;
}

export interface Component {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  area: number;
  cx: number;
  cy: number;
}

/** 8-connected components of a 0/1 mask, with their boxes, areas and centroids. */
export function components(mask: Uint8Array, w: number, h: number): Component[] {
  const labels = new Int32Array(w * h);
  const parent: number[] = [0];
  const find = (a: number): number => {
    while (parent[a] !== a) {
      parent[a] = parent[parent[a]];
      a = parent[a];
    }
    return a;
  };
  const union = (a: number, b: number) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!mask[i]) continue;
      let label = 0;
      const neighbours = [x > 0 ? labels[i - 1] : 0, y > 0 && x > 0 ? labels[i - w - 1] : 0, y > 0 ? labels[i - w] : 0, y > 0 && x < w - 1 ? labels[i - w + 1] : 0];
      for (const n of neighbours) {
        if (!n) continue;
        if (!label) label = n;
        else if (n !== label) union(label, n);
      }
      if (!label) {
        label = parent.length;
        parent.push(label);
      }
      labels[i] = label;
    }
  }
  const index = new Int32Array(parent.length).fill(-1);
  const out: Component[] = [];
  const sums: { sx: number; sy: number }[] = [];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const l = labels[y * w + x];
      if (!l) continue;
      const root = find(l);
      let k = index[root];
      if (k < 0) {
        k = index[root] = out.length;
        out.push({ minX: x, minY: y, maxX: x, maxY: y, area: 0, cx: 0, cy: 0 });
        sums.push({ sx: 0, sy: 0 });
      }
      const c = out[k];
      if (x < c.minX) c.minX = x;
      if (x > c.maxX) c.maxX = x;
      if (y > c.maxY) c.maxY = y;
      c.area++;
      sums[k].sx += x;
      sums[k].sy += y;
    }
  }
  out.forEach((c, k) => {
    c.cx = sums[k].sx / c.area;
    c.cy = sums[k].sy / c.area;
  });
  return out;
}
