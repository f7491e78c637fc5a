// Debian's chromium, headless, driven by playwright-core, for tests that look at a page as a person
// would: a fresh profile each time, and loopback only (any other address is refused and recorded).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface Browser {
  context: BrowserContext;
  /** Messages of dialogs pages opened (alert, confirm...), each dismissed. */
  dialogs: string[];
  /** URLs pages asked for beyond loopback, all refused. */
  offLoopback: string[];
  /** Opens a page; resolves with the page and the HTTP status of the document. */
  open(url: string): Promise<{ page: Page; status: number }>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: scripts/setup.sh installs Debian's chromium`);
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 900, height: 600 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const dialogs: string[] = [];
  const offLoopback: string[] = [];
  await context.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.protocol === 'data:' || url.protocol === 'blob:' || url.hostname === '127.0.0.1') await route.continue();
    else {
      offLoopback.push(url.href);
      await route.abort();
    }
  });
  return {
    context,
    dialogs,
    offLoopback,
    async open(url) {
      const page = await context.newPage();
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      const response = await page.goto(url);
      return { page, status: response?.status() ?? 0 };
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Waits until the map viewer drew its map, or gave up with an error shown. */
export async function viewerSettled(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.rendered === 'true' || !(document.getElementById('error')?.hidden ?? true), undefined, { timeout: 30_000 });
}

/** A screenshot of the viewer's map, decoded. */
export async function viewerMapPixels(page: Page): Promise<PNG> {
  return PNG.sync.read(await page.locator('#map').screenshot());
}
