// The checks MapServer's parser makes (syntax.ts), the rules about what the server supplies
// (rules-runtime.ts), paths with MapServer's fallbacks, and MapServer's line-less messages pinned.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMapfile } from '../../src/mapfiles/document.js';
import { lintMapfiles, type LintReport } from '../../src/mapfiles/lint.js';
import { locate, mapServerMessages } from '../../src/mapfiles/mapserver-messages.js';
import { checkSyntax } from '../../src/mapfiles/syntax.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mapfile-syntax-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function syntaxOf(text: string, extra: Record<string, string> = {}) {
  const files: Record<string, string> = { '/m/x.map': text, ...extra };
  const doc = await loadMapfile('/m/x.map', async (path) => {
    const content = files[path];
    if (content === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    return content;
  });
  return checkSyntax(doc.tokens);
}

async function lintFolder(files: Record<string, string | Buffer>): Promise<LintReport> {
  const dir = join(work, randomBytes(4).toString('hex'));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return lintMapfiles({ paths: [], mapfilesDir: dir, cwd: dir, env: {}, projectRoot: repoRoot, mapserver: 'off' });
}

const MAP = (body: string): string => `MAP\n  NAME "t"\n  EXTENT 0 0 10 10\n${body}\nEND\n`;

describe("MapServer's parser checks", () => {
  it('passes a valid mapfile with blocks, lists, colors and expressions', async () => {
    const text = MAP(`  STATUS ON
  SHAPEPATH "data"
  PROJECTION
    "init=epsg:4326"
  END
  LAYER
    NAME roads
    TYPE LINE
    STATUS DEFAULT
    DATA roads
    METADATA
      "wms_title" "Roads"
    END
    CLASS
      EXPRESSION ([len] > 3)
      STYLE
        COLOR 255 0 0
        WIDTH 2
      END
    END
  END`);
    expect(await syntaxOf(text)).toBeUndefined();
  });

  it('wants MAP first, as MapServer does', async () => {
    expect(await syntaxOf('LAYER\n  NAME a\nEND\n')).toMatchObject({ line: 1, message: expect.stringContaining('First token must be MAP') });
  });

  it('refuses a keyword that is not one of the block, at its line', async () => {
    expect(await syntaxOf(MAP('  LAYER\n    NAME a\n    COLOUR 1 2 3\n  END'))).toMatchObject({ line: 6, message: 'unknown keyword COLOUR in LAYER: MapServer 8.4 refuses it' });
  });

  it('names a keyword of a newer MapServer as such', async () => {
    expect(await syntaxOf(MAP('  LAYER\n    NAME a\n    IDENTIFY\n      CLASSAUTO\n    END\n  END'))).toMatchObject({
      line: 6,
      message: "IDENTIFY is a LAYER keyword of MapServer 8.6; the image's MapServer 8.4 does not know it and refuses the mapfile",
    });
    expect((await syntaxOf(MAP('  LAYER\n    NAME a\n    TYPE RASTER\n    CONNECTIONTYPE KRIGING\n  END')))?.message).toMatch(/^CONNECTIONTYPE KRIGING is not valid: MapServer 8.4 expects CONTOUR, FLATGEOBUF, IDW/);
  });

  it('refuses an unquoted keyword used as a string value', async () => {
    expect(await syntaxOf(MAP('  SHAPEPATH data'))).toMatchObject({ line: 4, message: 'the value of SHAPEPATH, data, is unquoted and MapServer reads it as its keyword DATA: write SHAPEPATH "data"' });
    expect(await syntaxOf(MAP('  SHAPEPATH "data"'))).toBeUndefined();
  });

  it('finds unbalanced blocks, across INCLUDEs', async () => {
    // MapServer meets the end of the file inside the innermost block.
    expect(await syntaxOf('MAP\n  NAME "t"\n  LAYER\n    NAME a\n')).toMatchObject({ line: 3, message: 'LAYER opened here (line 3) is never closed with END' });
    expect(await syntaxOf(MAP('  INCLUDE "layer.inc"'), { '/m/layer.inc': 'LAYER\n  NAME a\n  TYPE POINT\nEND\n' })).toBeUndefined();
    // MapServer stops reading at the END of MAP: what follows is not judged.
    expect(await syntaxOf(`${MAP('')}END\n`)).toBeUndefined();
  });
});

describe('lint-mapfiles as MapServer and the image see the files', () => {
  it('skips a binary .MAP file (MapInfo) instead of linting it', async () => {
    const report = await lintFolder({ 'tab/roads.MAP': Buffer.from([0, 1, 2, 3, 0, 77, 65, 80]), 'ok.map': MAP('') });
    expect(report.mapfiles.map((f) => f.slice(-6))).toEqual(['ok.map']);
    expect(report.sideFiles.map((f) => f.slice(-9))).toEqual(['roads.MAP']);
    expect(report.errors).toBe(0);
  });

  it('says why PLUGIN fails with the image: its config declares no plugin', async () => {
    const report = await lintFolder({ 'p.map': MAP('  LAYER\n    NAME a\n    TYPE POINT\n    CONNECTIONTYPE PLUGIN\n    PLUGIN "mssql"\n  END') });
    expect(report.findings).toEqual([
      expect.objectContaining({ line: 8, severity: 'error', message: expect.stringContaining('PLUGIN "mssql" is not a plugin the image\'s MapServer knows') }),
    ]);
  });

  it('warns that a relative init= file is read from the server\'s working folder', async () => {
    const report = await lintFolder({ 'p.map': MAP('  PROJECTION\n    "init=./data/epsg2:42304"\n  END'), 'data/epsg2': '<42304> +proj=longlat <>\n' });
    expect(report.errors).toBe(0);
    expect(report.findings).toEqual([expect.objectContaining({ line: 5, severity: 'warning', message: expect.stringContaining('the image\'s MapServer runs in /usr/lib/cgi-bin') })]);
  });

  it("refuses an init file the image's PROJ data does not have, unless the mapfile brings its own PROJ data", async () => {
    const missing = await lintFolder({ 'p.map': MAP('  PROJECTION\n    "init=epsg2:42304"\n  END\n  LAYER\n    NAME a\n    TYPE POINT\n    PROJECTION\n      "+init=esri:102100"\n    END\n  END') });
    expect(missing.findings.filter((f) => f.severity === 'error').map((f) => [f.line, f.message.slice(0, 46)])).toEqual([
      [5, 'PROJECTION "init=epsg2:42304" names the PROJ i'],
      [11, 'PROJECTION "+init=esri:102100" names the PROJ '],
    ]);
    const known = await lintFolder({ 'p.map': MAP('  PROJECTION\n    "init=EPSG:4326"\n  END\n  LAYER\n    NAME a\n    TYPE POINT\n    PROJECTION\n      "init=IGNF:LAMB93"\n    END\n  END\n  LAYER\n    NAME b\n    TYPE POINT\n    PROJECTION\n      "init=world:foo"\n    END\n  END') });
    expect(known.errors).toBe(0);
    const ownData = await lintFolder({ 'p.map': MAP('  CONFIG "PROJ_DATA" "/mapfiles/proj"\n  PROJECTION\n    "init=epsg2:42304"\n  END') });
    expect(ownData.errors).toBe(0);
  });

  it('does not take VALIDATION patterns for credentials, but still finds a password in a connection', async () => {
    const report = await lintFolder({
      'v.map': MAP('  WEB\n    VALIDATION\n      "token" "^[a-z]+$"\n      "default_token" "abc"\n    END\n  END\n  LAYER\n    NAME a\n    TYPE POINT\n    CONNECTIONTYPE POSTGIS\n    CONNECTION "host=db password=hunter22"\n    DATA "geom from t"\n  END'),
    });
    expect(report.findings.filter((f) => f.rule === 'secret').map((f) => f.line)).toEqual([14]);
  });

  it('resolves OGR sources and rasters from SHAPEPATH, then from the mapfile folder, as MapServer does', async () => {
    const layer = (type: string, keyword: string) => `  LAYER\n    NAME a\n    TYPE ${type}\n${keyword === 'CONNECTION' ? '    CONNECTIONTYPE OGR\n' : ''}    ${keyword} "roads.geojson"\n  END`;
    const files = { 'roads.geojson': '{}', 'data/.keep': '' };
    for (const [type, keyword] of [['LINE', 'CONNECTION'], ['RASTER', 'DATA']] as const) {
      const report = await lintFolder({ 'x.map': MAP(`  SHAPEPATH "data"\n${layer(type, keyword)}`), ...files });
      expect(report.findings.filter((f) => f.rule === 'data-path')).toEqual([]);
    }
    // A shapefile is read from SHAPEPATH only.
    const shapes = await lintFolder({ 'x.map': MAP(`  SHAPEPATH "data"\n  LAYER\n    NAME a\n    TYPE LINE\n    DATA "roads.shp"\n  END`), 'roads.shp': '', 'data/.keep': '' });
    expect(shapes.findings.filter((f) => f.rule === 'data-path')).toHaveLength(1);
    // An OGR connection string is not a file.
    const vrt = await lintFolder({ 'x.map': MAP(`  LAYER\n    NAME a\n    TYPE LINE\n    CONNECTIONTYPE OGR\n    CONNECTION "<OGRVRTDataSource><OGRVRTLayer name='x'/></OGRVRTDataSource>"\n  END`) });
    expect(vrt.findings.filter((f) => f.rule === 'data-path')).toEqual([]);
  });
});

describe("MapServer's messages", () => {
  it('keeps one of each message and drops PROJ debug lines', () => {
    const output = 'proj_create: no database context specified\nmsLoadMap(): a. <br>\nmsLoadMap(): a.\npj_obj_create: x\n';
    expect(mapServerMessages(output, 'sentinel')).toEqual(['msLoadMap(): a.']);
  });

  it('pins messages without a line to the value or keyword they are about', async () => {
    const doc = await loadMapfile('/m/x.map', async () =>
      MAP('  PROJECTION\n    "init=epsg:4326"\n  END\n  LAYER\n    NAME a\n    PROJECTION\n      "init=epsg2:42304"\n    END\n    CONNECTIONTYPE PLUGIN\n    PLUGIN "mssql"\n  END'),
    );
    expect(locate('msProcessProjection(): Projection library error. PROJ error "Invalid value" when instantiating "init=epsg2:42304"', doc).line).toBe(10);
    expect(locate('loadLayer(): General error message. Plugin value not found in config file.', doc).line).toBe(13);
    expect(locate('loadLayer(): Unknown identifier. Parsing error near (FOO):(line 7)', doc).line).toBe(7);
  });
});
