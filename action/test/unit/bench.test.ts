// Pieces of the benchmark that must be right for its figures to mean anything: percentiles,
// ratios, flag parsing, the CGI baseline's site config and the chart.
import { describe, expect, it } from '@jest/globals';
import { PNG } from 'pngjs';
import { parseBenchArgs } from '../../../scripts/bench/args.js';
import { barChart, Canvas } from '../../../scripts/bench/chart.js';
import { percentile, ratio, summarise } from '../../../scripts/bench/stats.js';
import { cgiSiteConfig } from '../../../scripts/bench/world.js';

describe('stats', () => {
  it('takes nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 95)).toBe(95);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('summarises a run: successes per second, errors counted apart', () => {
    const summary = summarise([10, 20, 30, 40], 1, 2);
    expect(summary).toMatchObject({ requests: 5, errors: 1, throughput: 2, p50_ms: 20, p99_ms: 40 });
  });

  it('gives ratios only when both sides exist', () => {
    expect(ratio(90, 100)).toBe(0.9);
    expect(ratio(1, 3)).toBe(0.333);
    expect(ratio(undefined, 3)).toBeNull();
    expect(ratio(3, 0)).toBeNull();
  });
});

describe('parseBenchArgs', () => {
  it('reads --out, --quick and --only', () => {
    expect(parseBenchArgs(['--', '--out', '/tmp/x', '--quick', '--only', 'serving,pipeline'])).toEqual({ out: '/tmp/x', quick: true, only: ['serving', 'pipeline'] });
    expect(parseBenchArgs(['--out', '/tmp/y']).only).toEqual(['serving', 'freshness', 'pipeline', 'lint']);
    expect(parseBenchArgs(['--out', '/tmp/y', '--only', 'lint']).only).toEqual(['lint']);
  });

  it('refuses what it cannot run', () => {
    expect(() => parseBenchArgs([])).toThrow(/--out DIR is required/);
    expect(() => parseBenchArgs(['--out'])).toThrow(/--out expects a folder/);
    expect(() => parseBenchArgs(['--out', 'x', '--only', 'speed'])).toThrow(/--only expects .* got 'speed'/);
    expect(() => parseBenchArgs(['--out', 'x', '--fast'])).toThrow(/unknown argument '--fast'/);
    expect(parseBenchArgs(['--out', 'x', '--variants', 'local,mirror']).variants).toEqual(['local', 'mirror']);
    expect(() => parseBenchArgs(['--out', 'x', '--variants'])).toThrow(/--variants expects/);
  });
});

describe('the CGI baseline', () => {
  it("is the image's own site with mod_cgid in place of mod_fcgid", () => {
    const site = cgiSiteConfig();
    expect(site).not.toContain('H=fcgid-script');
    expect(site).toContain('H=cgi-script');
    expect(site).toMatch(/LoadModule cgid_module/);
    expect(site).toMatch(/SetEnv MAPSERVER_CONFIG_FILE/);
    // Same refusals as the product: the comparison is of process models only.
    expect(site).toContain('RewriteRule ^ - [R=403,L]');
  });
});

describe('the chart', () => {
  it('draws bars proportional to the values, with text', () => {
    const png = PNG.sync.read(barChart('TITLE', 'REQ/S', [{ label: 'GetMap', bars: [{ label: 'a', value: 100 }, { label: 'b', value: 50 }] }]));
    expect(png.width).toBe(1000);
    const rgb = (x: number, y: number): string => [0, 1, 2].map((c) => png.data[(png.width * y + x) * 4 + c]).join(',');
    // Bars start at x=230 and span 650 px for the maximum; count each bar's coloured pixels.
    const runLength = (y: number): number => Array.from({ length: 670 }, (_, i) => rgb(230 + i, y)).filter((c) => c !== '255,255,255' && c !== '0,0,0').length;
    const firstBarY = 45 + 26 + 8;
    const secondBarY = firstBarY + 20;
    expect(runLength(firstBarY)).toBeGreaterThan(600);
    expect(Math.abs(runLength(secondBarY) * 2 - runLength(firstBarY))).toBeLessThan(4);
  });

  it('writes text with the bitmap font', () => {
    const canvas = new Canvas(40, 10);
    canvas.text(0, 0, 'I');
    const dark = Array.from({ length: 40 * 10 }, (_, i) => canvas.png.data[i * 4]).filter((v) => v === 0).length;
    expect(dark).toBe(3 + 5 + 3);
    expect(Canvas.textWidth('ABC', 2)).toBe(36);
  });
});
