// Serving security beyond what serving.test.ts covers: null bytes and double encoding in every URL
// form, map paths in a POST body, oversized requests, and script in WMS parameters reflected into
// exceptions or the OpenLayers page. Each is refused or neutralised, the container keeps serving,
// and its log shows the refusal.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { copyFileSync, existsSync, mkdtempSync, chmodSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get, runContainer, stopAllContainers, type RunningContainer } from '../support/image.js';
import { REPO_ROOT } from '../../../scripts/support/image.js';
import { benchMapfile } from '../../../scripts/bench/world.js';

jest.setTimeout(600_000);

const XSS_MAP = join(REPO_ROOT, '..', 'shared', 'corpus', 'mapfiles', 'msautotest_wms_openlayers_xss.map');
const SCRIPT = '<script>alert(1)</script>';
const ENCODED_SCRIPT = encodeURIComponent(SCRIPT);

let container: RunningContainer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'security-test-'));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'roads.map'), benchMapfile('roads'), { mode: 0o644 });
  // The corpus's OpenLayers XSS mapfile (MapServer's own regression test), when the corpus is here.
  if (existsSync(XSS_MAP)) copyFileSync(XSS_MAP, join(dir, 'xss.map'));
  container = await runContainer({ mapfiles: dir });
}, 900_000);

afterAll(async () => {
  await stopAllContainers();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function stillServes(): Promise<void> {
  const answer = await get(container.baseUrl, '/?map=/mapfiles/roads.map&SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities');
  expect(answer.status).toBe(200);
  expect(answer.text).toContain('<Title>roads</Title>');
}

describe('paths that must not reach a file', () => {
  const refused: Array<[string, string]> = [
    ['a null byte to cut a path short', '/?map=/etc/passwd%00/mapfiles/roads.map&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['a double-encoded null byte', '/?map=/mapfiles/roads.map%2500&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['the seed form, URL-encoded traversal', '/wms/?map=%2Fmapfiles%2F..%2F..%2Fetc%2Fpasswd&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['the seed form, double-encoded traversal', '/wms/?map=/mapfiles/%252e%252e/%252e%252e/etc/passwd&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['the short form, double-encoded traversal', '/maps/%252e%252e/%252e%252e/etc/passwd?SERVICE=WMS&REQUEST=GetCapabilities'],
    ['the short form, a null byte', '/maps/roads%00?SERVICE=WMS&REQUEST=GetCapabilities'],
    ['the short form, a backslash', '/maps/..%5c..%5cetc%5cpasswd?SERVICE=WMS&REQUEST=GetCapabilities'],
    ['the image config file', '/?map=/etc/mapserver/mapserver-ecs.conf&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['a mapfile-looking name outside /mapfiles', '/?map=/tmp/x.map&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['a map path with a newline', '/?map=/mapfiles/roads.map%0A/etc/passwd&SERVICE=WMS&REQUEST=GetCapabilities'],
  ];
  it.each(refused)('refuses %s, and logs it', async (_what, path) => {
    const answer = await get(container.baseUrl, path);
    expect([400, 403, 404]).toContain(answer.status);
    expect(answer.text).not.toMatch(/root:x:0:0/);
    expect(answer.text).not.toContain('Capabilities');
    // The access log names the request and its refusal status.
    const logs = await container.logs();
    const requestPath = path.split('?')[0] ?? path;
    expect(logs).toMatch(new RegExp(`"GET ${requestPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^"]*" (400|403|404) `));
  });

  // A NUL would end the path where MapServer reads it: refused outright, even after a valid name.
  it.each([
    ['the query form', '/?map=/mapfiles/roads.map%00.txt&SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities'],
    ['the seed form', '/wms/?map=/mapfiles/roads.map%00/../../etc/passwd&SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities'],
  ])('refuses a null byte after a mapfile name in %s with 400', async (_form, path) => {
    const answer = await get(container.baseUrl, path);
    expect(answer.status).toBe(400);
    expect(answer.text).not.toMatch(/root:x:0:0/);
  });

  it('refuses a map path sent in a POST body (MapServer reads form bodies too)', async () => {
    const answer = await fetch(`${container.baseUrl}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'map=/etc/passwd&SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities',
    });
    const text = await answer.text();
    expect(text).not.toMatch(/root:x:0:0/);
    expect(text).not.toContain('WMS_Capabilities');
    // MapServer's own guard (MS_MAP_PATTERN) refuses it, and says so in the container log.
    const logs = await container.logs();
    expect(logs).toMatch(/CGI variable "map" fails to validate/);
    await stillServes();
  });
});

describe('oversized requests', () => {
  it('refuses a huge query string with 414 and keeps serving', async () => {
    const answer = await get(container.baseUrl, `/?map=/mapfiles/roads.map&SERVICE=WMS&REQUEST=GetCapabilities&pad=${'a'.repeat(20_000)}`);
    expect(answer.status).toBe(414);
    await stillServes();
  });

  it('refuses a huge header block with 400 and keeps serving', async () => {
    const answer = await fetch(`${container.baseUrl}/healthz`, { headers: { 'x-padding': 'b'.repeat(20_000) } });
    expect(answer.status).toBe(400);
    await stillServes();
  });

  it.each([
    ['WIDTH and HEIGHT of 100000', '100000', '100000'],
    ['a negative WIDTH', '-5', '256'],
    ['a WIDTH beyond a 32-bit integer', '99999999999', '256'],
  ])('answers GetMap with %s by an exception, not an image or a crash', async (_what, width, height) => {
    const started = Date.now();
    const answer = await get(
      container.baseUrl,
      `/?map=/mapfiles/roads.map&SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&CRS=EPSG:4326&BBOX=-20,-20,20,20&WIDTH=${width}&HEIGHT=${height}&LAYERS=parcels&STYLES=&FORMAT=image/png`,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(answer.contentType).not.toMatch(/^image\//);
    expect(answer.text).toMatch(/ServiceException|msWMSLoadGetMapParams|Image size out of range|WIDTH|HEIGHT/i);
    await stillServes();
  });
});

describe('script in parameters', () => {
  it.each([
    ['LAYERS in an XML exception', `LAYERS=${ENCODED_SCRIPT}&STYLES=&FORMAT=image/png`],
    ['STYLES in an XML exception', `LAYERS=parcels&STYLES=${ENCODED_SCRIPT}&FORMAT=image/png`],
    ['FORMAT in an XML exception', `LAYERS=parcels&STYLES=&FORMAT=${ENCODED_SCRIPT}`],
    ['CRS in an XML exception', `LAYERS=parcels&STYLES=&FORMAT=image/png&CRS=${ENCODED_SCRIPT}`],
    ['EXCEPTIONS itself', `LAYERS=${ENCODED_SCRIPT}&STYLES=&FORMAT=image/png&EXCEPTIONS=${ENCODED_SCRIPT}`],
  ])('never reflects %s unescaped', async (_what, query) => {
    const answer = await get(container.baseUrl, `/?map=/mapfiles/roads.map&SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&CRS=EPSG:4326&BBOX=-20,-20,20,20&WIDTH=64&HEIGHT=64&${query}`);
    expect(answer.text).not.toContain(SCRIPT);
    expect(answer.text).not.toMatch(/<script/i);
  });

  it('never reflects a script in the request name or service', async () => {
    for (const query of [`SERVICE=WMS&REQUEST=${ENCODED_SCRIPT}`, `SERVICE=${ENCODED_SCRIPT}&REQUEST=GetCapabilities`, `SERVICE=WMS&VERSION=${ENCODED_SCRIPT}&REQUEST=GetCapabilities`]) {
      const answer = await get(container.baseUrl, `/?map=/mapfiles/roads.map&${query}`);
      expect(answer.text).not.toContain(SCRIPT);
    }
  });

  const xss = existsSync(XSS_MAP) ? it : it.skip;
  xss('keeps scripts in LAYERS, BBOX and SRS out of the OpenLayers page of the corpus XSS mapfile', async () => {
    const base = '/?map=/mapfiles/xss.map&SERVICE=WMS&VERSION=1.1.0&REQUEST=GetMap&FORMAT=application/openlayers&WIDTH=300&HEIGHT=200&STYLES=';
    for (const extra of [
      `&SRS=EPSG:4326&BBOX=-67.5725,42.3683,-58.9275,48.13&LAYERS=road${encodeURIComponent("'</script>")}${ENCODED_SCRIPT}`,
      `&SRS=EPSG:4326&BBOX=${encodeURIComponent("-67,42,-58,48'</script>")}${ENCODED_SCRIPT}&LAYERS=road`,
      `&SRS=${encodeURIComponent("EPSG:4326'</script>")}${ENCODED_SCRIPT}&BBOX=-67.5725,42.3683,-58.9275,48.13&LAYERS=road`,
    ]) {
      const answer = await get(container.baseUrl, `${base}${extra}`);
      expect(answer.text).not.toContain(SCRIPT);
      // The request cannot close the page's script block: no </script> beyond the page's own.
      expect(answer.text).not.toMatch(/'<\/script>|<\/script><script>alert/i);
    }
    await stillServes();
  });
});
