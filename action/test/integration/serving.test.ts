// The MapServer image serving mapfiles from a REAL s3fs mount of an emulated bucket, bind-mounted
// read-only at /mapfiles as on an ECS instance: WMS answers, live edits, the seed's error file,
// refused paths, GDAL's /vsis3/ with task-role style credentials, and the corpus mapfiles.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';
import { freePort } from '../../../scripts/support/ports.js';
import { ensureImage, REPO_ROOT } from '../../../scripts/support/image.js';
import { execOk } from '../../../scripts/support/exec.js';
import { get, runContainer, stopAllContainers, type HttpAnswer, type RunningContainer } from '../support/image.js';
import { mountBucket, unmountAll } from '../../../scripts/support/mount.js';

jest.setTimeout(600_000);

const BUCKET = 'mapfiles-serving';
const PREFIX = 'maps/';
const CORPUS = join(REPO_ROOT, '..', 'shared', 'corpus', 'mapfiles');

let emulator: Emulator;
/** moto itself: the S3 data path (s3fs, GDAL) needs none of the shim's extras. */
let s3Endpoint: string;
let s3: S3Client;
let scratch: string;
let credentials: Server;
let credentialRequests = 0;
let container: RunningContainer;
let corpusContainer: RunningContainer | undefined;

/** A polygon layer: a filled square over the middle half of the extent, one attribute. */
function vectorMapfile(name: string, colour: string, extra = ''): string {
  return `MAP
  NAME "${name}"
  SIZE 256 256
  EXTENT -20 -20 20 20
  UNITS DD
  IMAGECOLOR 255 255 255
  ${extra}
  PROJECTION "init=epsg:4326" END
  WEB
    METADATA
      "wms_title" "${name}"
      "wms_srs" "EPSG:4326 EPSG:3857"
      "wms_enable_request" "*"
      "wms_getfeatureinfo_formatlist" "text/plain,application/vnd.ogc.gml"
    END
  END
  LAYER
    NAME "parcels"
    TYPE POLYGON
    STATUS ON
    PROJECTION "init=epsg:4326" END
    METADATA
      "wms_title" "parcels"
      "gml_include_items" "all"
      "wms_include_items" "all"
    END
    TEMPLATE "query"
    PROCESSING "ITEMS=owner"
    FEATURE
      POINTS -10 -10 -10 10 10 10 10 -10 -10 -10 END
      ITEMS "county-of-${name}"
    END
    CLASS
      STYLE COLOR ${colour} END
    END
  END
END
`;
}

const RASTER_MAPFILE = `MAP
  NAME "raster"
  SIZE 64 64
  EXTENT -20 -20 20 20
  IMAGECOLOR 255 255 255
  PROJECTION "init=epsg:4326" END
  WEB METADATA "wms_title" "raster" "wms_srs" "EPSG:4326" "wms_enable_request" "*" END END
  LAYER
    NAME "cog"
    TYPE RASTER
    STATUS ON
    DATA "/vsis3/${BUCKET}/rasters/green.tif"
    PROJECTION "init=epsg:4326" END
  END
END
`;

async function put(key: string, body: string | Buffer): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

function wms(map: string, params: Record<string, string>): string {
  return `/?${new URLSearchParams({ map, SERVICE: 'WMS', ...params }).toString()}`;
}

function getMapParams(layers: string, size = 64): Record<string, string> {
  return { REQUEST: 'GetMap', VERSION: '1.3.0', CRS: 'EPSG:4326', BBOX: '-20,-20,20,20', WIDTH: String(size), HEIGHT: String(size), LAYERS: layers, STYLES: '', FORMAT: 'image/png' };
}

function decode(answer: HttpAnswer): PNG {
  if (!answer.contentType.startsWith('image/png')) throw new Error(`expected a PNG, got ${answer.status} ${answer.contentType}: ${answer.text.slice(0, 400)}`);
  return PNG.sync.read(answer.body);
}

function rgbAt(png: PNG, x: number, y: number): [number, number, number] {
  const i = (png.width * y + x) * 4;
  return [png.data[i] ?? -1, png.data[i + 1] ?? -1, png.data[i + 2] ?? -1];
}

beforeAll(async () => {
  emulator = await startEmulator();
  s3Endpoint = emulator.motoEndpoint;
  s3 = new S3Client({ endpoint: s3Endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await put(`${PREFIX}roads.map`, vectorMapfile('roads', '255 0 0'));
  await put(`${PREFIX}edited.map`, vectorMapfile('edited', '0 0 255'));
  await put(`${PREFIX}seed.map`, vectorMapfile('seed', '0 128 0', 'CONFIG "MS_ERRORFILE" "/var/log/ms_error.log"'));
  await put(`${PREFIX}nested/deep.map`, vectorMapfile('deep', '255 0 255'));
  await put(`${PREFIX}raster.map`, RASTER_MAPFILE);
  // A small GeoTIFF, all green, readable only through /vsis3/ (it is outside the mounted prefix).
  scratch = mkdtempSync(join(tmpdir(), 'serving-test-'));
  chmodSync(scratch, 0o755);
  const tif = join(scratch, 'green.tif');
  await execOk('gdal_create', ['-of', 'GTiff', '-outsize', '32', '32', '-bands', '3', '-ot', 'Byte', '-burn', '0', '-burn', '200', '-burn', '0', '-a_srs', 'EPSG:4326', '-a_ullr', '-20', '20', '20', '-20', '-co', 'TILED=YES', tif]);
  await put('rasters/green.tif', readFileSync(tif));

  // The ECS agent's credential endpoint, as the task role exposes it: short-lived keys over HTTP on
  // loopback. moto accepts any keys; what matters is that GDAL fetches them from here.
  const credentialPort = await freePort();
  credentials = createServer((req, res) => {
    credentialRequests += 1;
    const expiration = new Date(Date.now() + 3_600_000).toISOString();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ AccessKeyId: 'testing', SecretAccessKey: 'testing', Token: 'session', Expiration: expiration, RoleArn: 'arn:aws:iam::123456789012:role/mapserver-task' }));
  });
  await new Promise<void>((resolve) => credentials.listen(credentialPort, '127.0.0.1', resolve));

  const mounted = await mountBucket({
    endpoint: s3Endpoint,
    bucket: BUCKET,
    prefix: PREFIX,
    mountPoint: join(scratch, 'mapfiles'),
    env: { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' },
  });
  await ensureImage();
  // Host network: the container reaches the emulator and the credential endpoint on loopback.
  container = await runContainer({
    mapfiles: mounted.mountPoint,
    hostNetwork: true,
    env: {
      AWS_REGION: 'us-east-1',
      AWS_ENDPOINT_URL: s3Endpoint,
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${credentialPort}/v2/credentials/task`,
    },
  });
}, 900_000);

afterAll(async () => {
  await stopAllContainers();
  await unmountAll();
  credentials?.close();
  await emulator?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the image serving a mounted bucket', () => {
  it('answers GetCapabilities 1.1.1 and 1.3.0 in every URL form', async () => {
    const v130 = await get(container.baseUrl, wms('/mapfiles/roads.map', { REQUEST: 'GetCapabilities', VERSION: '1.3.0' }));
    expect(v130.status).toBe(200);
    expect(v130.text).toContain('<WMS_Capabilities version="1.3.0"');
    expect(v130.text).toMatch(/<Name>parcels<\/Name>/);
    const v111 = await get(container.baseUrl, `/wms/?map=/mapfiles/roads.map&SERVICE=WMS&VERSION=1.1.1&REQUEST=GetCapabilities`);
    expect(v111.status).toBe(200);
    expect(v111.text).toContain('<WMT_MS_Capabilities version="1.1.1"');
    expect(v111.text).toMatch(/<Name>parcels<\/Name>/);
    // The seed's form names the service address MapServer builds itself.
    expect(v111.text).toContain(`xlink:href="http://127.0.0.1:${container.port}/wms/?map=/mapfiles/roads.map&amp;"`);
    const short = await get(container.baseUrl, '/maps/roads?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities');
    expect(short.status).toBe(200);
    expect(short.text).toMatch(/<Name>parcels<\/Name>/);
    const nested = await get(container.baseUrl, '/maps/nested/deep?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities');
    expect(nested.text).toContain('<Title>deep</Title>');
  });

  it('draws the expected pixels with GetMap', async () => {
    const png = decode(await get(container.baseUrl, wms('/mapfiles/roads.map', getMapParams('parcels'))));
    expect([png.width, png.height]).toEqual([64, 64]);
    expect(rgbAt(png, 32, 32)).toEqual([255, 0, 0]);
    expect(rgbAt(png, 3, 3)).toEqual([255, 255, 255]);
    // The square spans the middle half: its edge sits a quarter of the way in.
    expect(rgbAt(png, 14, 32)).toEqual([255, 255, 255]);
    expect(rgbAt(png, 18, 32)).toEqual([255, 0, 0]);
    const short = decode(await get(container.baseUrl, `/maps/roads?${new URLSearchParams(getMapParams('parcels')).toString()}`));
    expect(rgbAt(short, 32, 32)).toEqual([255, 0, 0]);
  });

  it('answers GetFeatureInfo with the feature under the pixel, and nothing outside it', async () => {
    const params = { REQUEST: 'GetFeatureInfo', VERSION: '1.1.1', SRS: 'EPSG:4326', BBOX: '-20,-20,20,20', WIDTH: '64', HEIGHT: '64', LAYERS: 'parcels', QUERY_LAYERS: 'parcels', STYLES: '', FORMAT: 'image/png', INFO_FORMAT: 'text/plain' };
    const hit = await get(container.baseUrl, wms('/mapfiles/roads.map', { ...params, X: '32', Y: '32' }));
    expect(hit.status).toBe(200);
    expect(hit.text).toContain("owner = 'county-of-roads'");
    const miss = await get(container.baseUrl, wms('/mapfiles/roads.map', { ...params, X: '2', Y: '2' }));
    expect(miss.text).not.toContain('county-of-roads');
    const gml = await get(container.baseUrl, wms('/mapfiles/roads.map', { ...params, X: '32', Y: '32', INFO_FORMAT: 'application/vnd.ogc.gml' }));
    expect(gml.text).toMatch(/<owner>county-of-roads<\/owner>/);
  });

  it('shows an edited mapfile on the next request', async () => {
    const before = decode(await get(container.baseUrl, wms('/mapfiles/edited.map', getMapParams('parcels'))));
    expect(rgbAt(before, 32, 32)).toEqual([0, 0, 255]);
    await put(`${PREFIX}edited.map`, vectorMapfile('edited', '255 255 0'));
    const after = decode(await get(container.baseUrl, wms('/mapfiles/edited.map', getMapParams('parcels'))));
    expect(rgbAt(after, 32, 32)).toEqual([255, 255, 0]);
  });

  it('serves a mapfile that declares the seed error file', async () => {
    const png = decode(await get(container.baseUrl, `/wms/?${new URLSearchParams({ map: '/mapfiles/seed.map', SERVICE: 'WMS', ...getMapParams('parcels') }).toString()}`));
    expect(rgbAt(png, 32, 32)).toEqual([0, 128, 0]);
    // The file the mapfile names opens for the worker user (it leads to the log follower's terminal).
    await execOk('docker', ['exec', '--user', 'www-data', container.id, 'test', '-w', '/var/log/ms_error.log']);
  });

  it('forwards the errors such a mapfile writes to its error file into the container log, at once', async () => {
    const line = /^\[[^\]]+\]\.\d+ msWMSLoadGetMapParams\(\): WMS server error\. Invalid layer\(s\) given in the LAYERS parameter/;
    const count = async (): Promise<number> => (await container.logs()).split('\n').filter((l) => line.test(l)).length;
    const before = await count();
    const answer = await get(container.baseUrl, `/wms/?${new URLSearchParams({ map: '/mapfiles/seed.map', SERVICE: 'WMS', ...getMapParams('no_such_layer') }).toString()}`);
    expect(answer.text).toContain('LayerNotDefined');
    // MapServer's worker lives on; the line must not wait in its buffer for the next request or its exit.
    const deadline = Date.now() + 5_000;
    let after = await count();
    while (after === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      after = await count();
    }
    expect(after).toBe(before + 1);
  });

  it('reads a GeoTIFF through /vsis3/ with credentials from the task-role endpoint, no keys in the mapfile', async () => {
    const png = decode(await get(container.baseUrl, wms('/mapfiles/raster.map', getMapParams('cog', 32))));
    expect(rgbAt(png, 16, 16)).toEqual([0, 200, 0]);
    expect(credentialRequests).toBeGreaterThan(0);
    expect(readFileSync(join(scratch, 'mapfiles', 'raster.map'), 'utf8')).not.toMatch(/AWS_(ACCESS|SECRET)/);
  });

  it('answers /healthz without a mapfile', async () => {
    const health = await get(container.baseUrl, '/healthz');
    expect([health.status, health.text.trim()]).toEqual([200, 'ok']);
  });

  const refused: Array<[string, string]> = [
    ['a file outside /mapfiles', '/?map=/etc/passwd&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['a dot-dot path', '/?map=/mapfiles/../etc/passwd&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['an encoded dot-dot path', '/?map=/mapfiles/%2e%2e/etc/passwd&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['an encoded slash', '/?map=/mapfiles/..%2fetc%2fpasswd&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['a double-encoded dot-dot path', '/?map=/mapfiles/%252e%252e/x.map&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['a double slash', '/?map=/mapfiles//roads.map&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['an encoded double slash', '/?map=%2Fmapfiles%2F%2Froads.map&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['a relative path', '/?map=mapfiles/roads.map&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['a path that walks back in', '/?map=/etc/../mapfiles/roads.map&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['a second map parameter', '/?map=/mapfiles/roads.map&MAP=/etc/passwd&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['a non-mapfile under /mapfiles', '/?map=/mapfiles/roads.txt&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['the seed form with an outside file', '/wms/?map=/etc/passwd&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['the short form with dot-dot', '/maps/../etc/passwd?SERVICE=WMS&REQUEST=GetCapabilities'],
    ['the short form with encoded dot-dot', '/maps/%2e%2e/%2e%2e/etc/passwd?SERVICE=WMS&REQUEST=GetCapabilities'],
    ['the short form with an encoded slash', '/maps/..%2f..%2fetc%2fpasswd?SERVICE=WMS&REQUEST=GetCapabilities'],
    ['a double slash in the path', '//wms/?map=/mapfiles/roads.map&SERVICE=WMS&REQUEST=GetCapabilities'],
    ['the FastCGI program itself', '/usr/lib/cgi-bin/mapserv?map=/mapfiles/roads.map'],
  ];
  it.each(refused)('refuses %s', async (_what, path) => {
    const answer = await get(container.baseUrl, path);
    expect([400, 403, 404]).toContain(answer.status);
    expect(answer.text).not.toMatch(/root:x:0:0/);
    expect(answer.text).not.toContain('WMS_Capabilities');
  });
});

describe('corpus mapfiles', () => {
  const present = existsSync(CORPUS);
  const maybe = present ? it : it.skip;

  beforeAll(async () => {
    if (present) corpusContainer = await runContainer({ mapfiles: CORPUS });
  }, 300_000);

  maybe('msautotest ows_empty: GetCapabilities 1.3.0 matches MapServer expected output', async () => {
    const answer = await get(corpusContainer!.baseUrl, wms('/mapfiles/msautotest_ows_empty.map', { VERSION: '1.3.0', REQUEST: 'GetCapabilities' }));
    const strip = (xml: string): string => xml.replace(/<!--[\s\S]*?-->/g, '').replace(/\s+\n/g, '\n').trim();
    expect(strip(answer.text)).toBe(strip(readFileSync(join(CORPUS, 'msautotest_expected_wms_empty_cap130.xml'), 'utf8')));
    const v111 = await get(corpusContainer!.baseUrl, wms('/mapfiles/msautotest_ows_empty.map', { VERSION: '1.1.1', REQUEST: 'GetCapabilities' }));
    expect(v111.text).toContain('<WMT_MS_Capabilities version="1.1.1"');
  });

  maybe('msautotest getfeatureinfo_encoding: GML GetFeatureInfo matches the expected output, GetMap draws the polygon', async () => {
    const query = 'SERVICE=WMS&REQUEST=GetFeatureInfo&VERSION=1.3.0&CRS=EPSG:3857&WIDTH=200&HEIGHT=200&LAYERS=encoding_layer&BBOX=-20,-20,20,20&FORMAT=image/png&QUERY_LAYERS=encoding_layer&I=100&J=100&INFO_FORMAT=gml&STYLES=';
    const answer = await get(corpusContainer!.baseUrl, `/maps/msautotest_wms_getfeatureinfo_encoding?${query}`);
    expect(answer.text.trim()).toBe(readFileSync(join(CORPUS, 'msautotest_expected_wms_getfeatureinfo_encoding.xml'), 'utf8').trim());
    const map = decode(
      await get(corpusContainer!.baseUrl, '/maps/msautotest_wms_getfeatureinfo_encoding?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&CRS=EPSG:3857&WIDTH=40&HEIGHT=40&LAYERS=encoding_layer&BBOX=-20,-20,20,20&FORMAT=image/png&STYLES='),
    );
    expect(rgbAt(map, 20, 20)).toEqual([255, 0, 0]);
    expect(rgbAt(map, 2, 2)).toEqual([255, 255, 255]);
  });

  maybe('msautotest openlayers_xss: a script in X-Forwarded-Host never reaches the page', async () => {
    const path = '/?map=/mapfiles/msautotest_wms_openlayers_xss.map&SERVICE=WMS&VERSION=1.1.0&REQUEST=GetMap&SRS=EPSG:4326&BBOX=-67.5725,42.3683,-58.9275,48.13&FORMAT=application/openlayers&WIDTH=300&HEIGHT=200&STYLES=&LAYERS=road';
    const attack = await fetch(`${corpusContainer!.baseUrl}${path}`, { headers: { 'X-Forwarded-Host': '</script><script>alert(document.domain)</script>' } });
    const body = await attack.text();
    expect(body).not.toContain('<script>alert(');
    expect(attack.status).toBe(400);
    const plain = await fetch(`${corpusContainer!.baseUrl}${path}`, { headers: { 'X-Forwarded-Host': 'maps.example.org', 'X-Forwarded-Proto': 'https' } });
    expect(plain.status).toBe(200);
    expect(await plain.text()).toContain('OpenLayers');
  });

  maybe('TNRIS seed mapfile (error file, /wms/ form): GetCapabilities answers without its PostGIS database', async () => {
    const answer = await get(corpusContainer!.baseUrl, '/wms/?map=/mapfiles/tnris_lambda-s4_test.map&SERVICE=WMS&VERSION=1.1.1&REQUEST=GetCapabilities');
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('<Title>test-index-map</Title>');
    expect(answer.text).toMatch(/<Name>test_frames<\/Name>/);
  });
});
