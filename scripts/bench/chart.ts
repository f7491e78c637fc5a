// A PNG bar chart drawn pixel by pixel with pngjs and a built-in 5x7 bitmap font (upper case,
// digits and a little punctuation): throughput per variant and request type, log-free linear bars
// with the value written on each bar, so the picture and the table say the same thing.
import { PNG } from 'pngjs';

// Rows of 5 bits, top to bottom.
const FONT: Record<string, number[]> = {
  A: [14, 17, 17, 31, 17, 17, 17], B: [30, 17, 17, 30, 17, 17, 30], C: [14, 17, 16, 16, 16, 17, 14], D: [30, 17, 17, 17, 17, 17, 30],
  E: [31, 16, 16, 30, 16, 16, 31], F: [31, 16, 16, 30, 16, 16, 16], G: [14, 17, 16, 23, 17, 17, 15], H: [17, 17, 17, 31, 17, 17, 17],
  I: [14, 4, 4, 4, 4, 4, 14], J: [7, 2, 2, 2, 2, 18, 12], K: [17, 18, 20, 24, 20, 18, 17], L: [16, 16, 16, 16, 16, 16, 31],
  M: [17, 27, 21, 21, 17, 17, 17], N: [17, 17, 25, 21, 19, 17, 17], O: [14, 17, 17, 17, 17, 17, 14], P: [30, 17, 17, 30, 16, 16, 16],
  Q: [14, 17, 17, 17, 21, 18, 13], R: [30, 17, 17, 30, 20, 18, 17], S: [15, 16, 16, 14, 1, 1, 30], T: [31, 4, 4, 4, 4, 4, 4],
  U: [17, 17, 17, 17, 17, 17, 14], V: [17, 17, 17, 17, 17, 10, 4], W: [17, 17, 17, 21, 21, 21, 10], X: [17, 17, 10, 4, 10, 17, 17],
  Y: [17, 17, 10, 4, 4, 4, 4], Z: [31, 1, 2, 4, 8, 16, 31],
  '0': [14, 17, 19, 21, 25, 17, 14], '1': [4, 12, 4, 4, 4, 4, 14], '2': [14, 17, 1, 2, 4, 8, 31], '3': [31, 2, 4, 2, 1, 17, 14],
  '4': [2, 6, 10, 18, 31, 2, 2], '5': [31, 16, 30, 1, 1, 17, 14], '6': [6, 8, 16, 30, 17, 17, 14], '7': [31, 1, 2, 4, 8, 8, 8],
  '8': [14, 17, 17, 14, 17, 17, 14], '9': [14, 17, 17, 15, 1, 2, 12],
  ' ': [0, 0, 0, 0, 0, 0, 0], '.': [0, 0, 0, 0, 0, 12, 12], ':': [0, 12, 12, 0, 12, 12, 0], '/': [1, 1, 2, 4, 8, 16, 16],
  '-': [0, 0, 0, 31, 0, 0, 0], '=': [0, 0, 31, 0, 31, 0, 0], '(': [2, 4, 8, 8, 8, 4, 2], ')': [8, 4, 2, 2, 2, 4, 8],
  '%': [24, 25, 2, 4, 8, 19, 3], ',': [0, 0, 0, 0, 12, 4, 8], '+': [0, 4, 4, 31, 4, 4, 0]
};

type Rgb = readonly [number, number, number];

export class Canvas {
  readonly png: PNG;
  constructor(readonly width: number, readonly height: number, background: Rgb = [255, 255, 255]) {
    this.png = new PNG({ width, height });
    this.rect(0, 0, width, height, background);
  }

  pixel(x: number, y: number, [r, g, b]: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (this.width * Math.floor(y) + Math.floor(x)) * 4;
    this.png.data[i] = r;
    this.png.data[i + 1] = g;
    this.png.data[i + 2] = b;
    this.png.data[i + 3] = 255;
  }

  rect(x: number, y: number, w: number, h: number, colour: Rgb): void {
    for (let yy = Math.round(y); yy < Math.round(y + h); yy += 1) for (let xx = Math.round(x); xx < Math.round(x + w); xx += 1) this.pixel(xx, yy, colour);
  }

  /** Width in pixels of `text` at `scale`. */
  static textWidth(text: string, scale = 1): number {
    return text.length * 6 * scale;
  }

  text(x: number, y: number, text: string, colour: Rgb = [0, 0, 0], scale = 1): void {
    let cx = x;
    for (const raw of text.toUpperCase()) {
      const glyph = FONT[raw] ?? FONT[' '] ?? [];
      glyph.forEach((row, gy) => {
        for (let gx = 0; gx < 5; gx += 1) if (row & (1 << (4 - gx))) this.rect(cx + gx * scale, y + gy * scale, scale, scale, colour);
      });
      cx += 6 * scale;
    }
  }

  encode(): Buffer {
    return PNG.sync.write(this.png);
  }
}

export interface BarGroup {
  label: string;
  bars: Array<{ label: string; value: number }>;
}

const PALETTE: Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
];

/** Grouped horizontal bars: one group per panel label, one bar per variant, value printed at the end. */
export function barChart(title: string, unit: string, groups: BarGroup[]): Buffer {
  const barHeight = 16;
  const gap = 4;
  const left = 230;
  const right = 120;
  const width = 1000;
  const rows = groups.reduce((n, g) => n + g.bars.length, 0);
  const height = 50 + groups.length * 30 + rows * (barHeight + gap) + 20;
  const canvas = new Canvas(width, height);
  canvas.text(10, 10, title, [0, 0, 0], 2);
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.bars.map((b) => b.value)).filter(Number.isFinite));
  const plotWidth = width - left - right;
  let y = 45;
  for (const group of groups) {
    canvas.text(10, y + 6, group.label, [0, 0, 0], 2);
    y += 26;
    group.bars.forEach((bar, i) => {
      const value = Number.isFinite(bar.value) ? bar.value : 0;
      canvas.text(10, y + 4, bar.label, [60, 60, 60]);
      const w = Math.max(1, (value / max) * plotWidth);
      canvas.rect(left, y, w, barHeight, PALETTE[i % PALETTE.length] ?? [0, 0, 0]);
      canvas.text(left + w + 6, y + 4, `${value.toFixed(value < 10 ? 1 : 0)} ${unit}`, [0, 0, 0]);
      y += barHeight + gap;
    });
    y += 4;
  }
  // Axis at zero.
  canvas.rect(left - 1, 45, 1, y - 45, [0, 0, 0]);
  return canvas.encode();
}
