// The image's map viewer in a real headless Chromium (Debian's package, driven by playwright-core),
// on loopback only: the map's pixels in a screenshot, the layer switcher, MapServer's error shown in
// the page for a broken mapfile and for a layer that fails, titles with markup shown as text (the
// corpus's XSS mapfile among them), and map paths refused as for WMS.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PNG } from 'pngjs';
import type { Page } from 'playwright-core';
import { launchBrowser, viewerMapPixels, viewerSettled, type Browser } from '../support/browser.js';
import { REPO_ROOT } from '../../../scripts/support/image.js';
import { runContainer, stopAllContainers, type RunningContainer } from '../support/image.js';

jest.setTimeout(300_000);

const CORPUS_XSS = join(REPO_ROOT, '..', 'shared', 'corpus', 'mapfiles', 'msautotest_wms_openlayers_xss.map');

const SQUARES = `MAP
  NAME "squares"
  SIZE 256 256
  EXTENT -20 -20 20 20
  UNITS DD
  IMAGECOLOR 255 255 255
  PROJECTION "init=epsg:4326" END
  WEB
    METADATA
      "wms_title" "Squares <script>window.hacked = 1</script>"
      "wms_srs" "EPSG:4326 EPSG:3857"
      "wms_enable_request" "*"
    END
  END
  LAYER
    NAME "red"
    TYPE POLYGON
    STATUS ON
    PROJECTION "init=epsg:4326" END
    METADATA "wms_title" "Red <img src=x onerror=alert(document.domain)>" END
    FEATURE POINTS -10 -10 -10 10 10 10 10 -10 -10 -10 END END
    CLASS STYLE COLOR 255 0 0 END END
  END
END
`;

/** A layer that fails at draw time: its raster is not there. */
const MISSING_RASTER = SQUARES.replace('NAME "squares"', 'NAME "missing"').replace(
  /\nEND\n$/,
  `
  LAYER
    NAME "relief"
    TYPE RASTER
    STATUS ON
    DATA "/mapfiles/data/not-there.tif"
    PROJECTION "init=epsg:4326" END
    METADATA "wms_title" "Relief" END
  END
END
`,
);

const BROKEN = 'MAP\n  NAME "broken"\n  LAYER\n    NAME "x"\n    TYPO POLYGON\n  END\nEND\n';

let folder: string;
let container: RunningContainer;
let browser: Browser;

function open(path: string): Promise<{ page: Page; status: number }> {
  return browser.open(`${container.baseUrl}${path}`);
}

const settled = viewerSettled;
const mapPixels = viewerMapPixels;

/** Reads until the value is as wanted or 10 s passed; returns the last value read. */
async function until<T>(read: () => Promise<T>, wanted: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  let value = await read();
  while (!wanted(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    value = await read();
  }
  return value;
}

function rgbAt(png: PNG, fx: number, fy: number): [number, number, number] {
  const x = Math.round((png.width - 1) * fx);
  const y = Math.round((png.height - 1) * fy);
  const i = (png.width * y + x) * 4;
  return [png.data[i] ?? -1, png.data[i + 1] ?? -1, png.data[i + 2] ?? -1];
}

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'viewer-test-'));
  chmodSync(folder, 0o755);
  const write = (name: string, text: string): void => {
    writeFileSync(join(folder, name), text, { mode: 0o644 });
  };
  write('squares.map', SQUARES);
  write('missing.map', MISSING_RASTER);
  write('broken.map', BROKEN);
  if (existsSync(CORPUS_XSS)) {
    copyFileSync(CORPUS_XSS, join(folder, 'xss.map'));
    chmodSync(join(folder, 'xss.map'), 0o644);
  }
  container = await runContainer({ mapfiles: folder });
  browser = await launchBrowser();
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await stopAllContainers();
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe('the map viewer', () => {
  it("draws the map's layer over its extent, switches it off and on, and shows titles as text", async () => {
    const { page, status } = await open('/viewer/?map=/mapfiles/squares.map');
    expect(status).toBe(200);
    await settled(page);
    expect(await page.locator('#error').isHidden()).toBe(true);
    const shot = await mapPixels(page);
    // The square covers the middle half of the map's extent, which the view fits.
    expect(rgbAt(shot, 0.5, 0.5)).toEqual([255, 0, 0]);
    expect(rgbAt(shot, 0.02, 0.5)).toEqual([255, 255, 255]);
    expect(rgbAt(shot, 0.5, 0.02)).toEqual([255, 255, 255]);

    expect(await page.locator('#title').textContent()).toBe('Squares <script>window.hacked = 1</script>');
    expect(await page.title()).toBe('Squares <script>window.hacked = 1</script> · map viewer');
    expect(await page.locator('#layer-list label').allTextContents()).toEqual(['Red <img src=x onerror=alert(document.domain)>']);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { hacked?: number }).hacked)).toBeUndefined();

    await page.locator('#layer-list input[data-layer="red"]').uncheck();
    expect(await until(async () => rgbAt(await mapPixels(page), 0.5, 0.5), (rgb) => rgb.join() === '255,255,255')).toEqual([255, 255, 255]);
    await page.locator('#layer-list input[data-layer="red"]').check();
    expect(await until(async () => rgbAt(await mapPixels(page), 0.5, 0.5), (rgb) => rgb.join() === '255,0,0')).toEqual([255, 0, 0]);
    await page.close();
  });

  it("shows MapServer's error in the page for a broken mapfile, not a blank map", async () => {
    const { page } = await open('/viewer/?map=/mapfiles/broken.map');
    await settled(page);
    expect(await page.locator('#error').isVisible()).toBe(true);
    expect(await page.locator('#error-text').textContent()).toMatch(/loadLayer\(\): Unknown identifier\. Parsing error near \(TYPO\):\(line 5\)/);
    await page.close();
  });

  it("shows MapServer's error for a layer that fails to draw, and still draws the others", async () => {
    const { page } = await open('/viewer/?map=/mapfiles/missing.map');
    await settled(page);
    const pattern = /^Relief: .*not-there\.tif/s;
    expect(await until(() => page.locator('#error-text').textContent(), (text) => pattern.test(text ?? ''))).toMatch(pattern);
    expect(rgbAt(await mapPixels(page), 0.5, 0.5)).toEqual([255, 0, 0]);
    await page.close();
  });

  (existsSync(CORPUS_XSS) ? it : it.skip)("shows the corpus's XSS mapfile without running anything from it", async () => {
    const { page } = await open('/viewer/?map=/mapfiles/xss.map');
    await settled(page);
    expect(await page.locator('#title').textContent()).toBe('test');
    expect(await page.locator('#layer-list label').allTextContents()).toEqual(['road']);
    await page.close();
  });

  it('refuses map paths as WMS does', async () => {
    for (const path of ['/viewer/?map=/etc/passwd', '/viewer/?map=/mapfiles/../etc/passwd.map', '/viewer/?map=%2Fmapfiles%2F..%2Fx.map']) {
      const { page, status } = await open(path);
      expect([path, status]).toEqual([path, 403]);
      await page.close();
    }
  });

  it('opened no dialog and asked nothing of any address but loopback', () => {
    expect(browser.dialogs).toEqual([]);
    expect(browser.offLoopback).toEqual([]);
  });
});
