import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lintMapfiles, type LintReport } from '../../src/mapfiles/lint.js';
import { formatJson, formatText, summaryLine } from '../../src/mapfiles/lint-output.js';
import { onlineResourceProblem } from '../../src/mapfiles/rules-serving.js';
import { IMAGE_MAP_PATTERN, imageMapPattern, mapPatternFromConfig, posixPatternToRegExp, PREPARED_ERROR_FILES } from '../../src/mapfiles/served.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');
const fixtures = join(here, '..', 'fixtures', 'mapfiles');

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** Fresh fake credentials for every run, so no key is ever written into the repository. */
function randomUpper(n: number): string {
  return [...randomBytes(n)].map((b) => ALNUM[b % ALNUM.length]).join('');
}
function fakeKeyId(): string {
  return `AKIA${randomUpper(16)}`;
}
function fakeSecret(): string {
  return randomBytes(30).toString('base64').slice(0, 40);
}

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mapfile-rules-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function lintText(name: string, text: string, extra: Record<string, string> = {}): Promise<LintReport> {
  const dir = join(work, randomBytes(4).toString('hex'));
  await mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries({ [name]: text, ...extra })) {
    await mkdir(dirname(join(dir, file)), { recursive: true });
    await writeFile(join(dir, file), content);
  }
  return lintMapfiles({ paths: [], mapfilesDir: dir, cwd: dir, env: {}, projectRoot: repoRoot, mapserver: 'off' });
}

function wrap(body: string): string {
  return `MAP\n  NAME "t"\n  SIZE 10 10\n  EXTENT 0 0 10 10\n${body}\nEND\n`;
}

function allOutput(report: LintReport): string {
  return [...formatText(report, work), formatJson(report, work), summaryLine(report)].join('\n');
}

describe('secrets', () => {
  const cases: Array<[string, (secret: string) => string, number]> = [
    ['CONFIG AWS_SECRET_ACCESS_KEY', (s) => wrap(`  CONFIG "AWS_SECRET_ACCESS_KEY" "${s}"`), 5],
    ['CONFIG AWS_ACCESS_KEY_ID (unquoted value)', (s) => wrap(`  CONFIG AWS_ACCESS_KEY_ID ${s}`), 5],
    ['CONFIG AWS_SESSION_TOKEN', (s) => wrap(`  CONFIG "AWS_SESSION_TOKEN" '${s}'`), 5],
    ['CONFIG PGPASSWORD', (s) => wrap(`  CONFIG "PGPASSWORD" "${s}"`), 5],
    ['PostGIS password in CONNECTION', (s) => wrap(`  LAYER\n    NAME "l"\n    CONNECTIONTYPE POSTGIS\n    CONNECTION "host=db user=gis password=${s} dbname=gis"\n    DATA "geom FROM t"\n  END`), 8],
    ['quoted password in CONNECTION', (s) => wrap(`  LAYER\n    NAME "l"\n    CONNECTIONTYPE POSTGIS\n    CONNECTION "host=db password='${s}'"\n  END`), 8],
    ['URL with user and password', (s) => wrap(`  LAYER\n    NAME "l"\n    CONNECTIONTYPE WMS\n    CONNECTION "https://user:${s}@wms.example.org/wms?"\n  END`), 8],
    ['wms_auth_password metadata', (s) => wrap(`  LAYER\n    NAME "l"\n    METADATA\n      "wms_auth_password" "${s}"\n    END\n  END`), 8],
    ['access key id inside a DATA URL', (s) => wrap(`  LAYER\n    NAME "l"\n    TYPE RASTER\n    DATA "/vsicurl/https://h.example.org/x.tif?X-Amz-Credential=${s}"\n  END`), 8],
    ['access key id in a comment', (s) => wrap(`  # old key: ${s}`), 5],
    ['secret assignment in a /vsis3/ option', (s) => wrap(`  LAYER\n    NAME "l"\n    TYPE RASTER\n    DATA "/vsis3/b/k.tif?aws_secret_access_key=${s}"\n  END`), 8],
  ];

  it.each(cases)('%s: an error at its line that never shows the secret', async (_name, make, line) => {
    // Passwords in URLs cannot hold a raw "/", which AWS-style secrets may.
    const secret = _name.includes('access key id') ? fakeKeyId() : _name.includes('URL') ? randomBytes(12).toString('hex') : fakeSecret();
    const report = await lintText('s.map', make(secret));
    const secretFindings = report.findings.filter((f) => f.rule === 'secret');
    expect(secretFindings.length).toBeGreaterThan(0);
    expect(secretFindings[0]).toMatchObject({ severity: 'error', line });
    expect(report.errors).toBeGreaterThan(0);
    const output = allOutput(report);
    expect(output).not.toContain(secret);
    expect(output).toContain('value not shown');
  });

  it('says to use the ECS task role for AWS keys', async () => {
    const report = await lintText('s.map', wrap(`  CONFIG "AWS_SECRET_ACCESS_KEY" "${fakeSecret()}"`));
    expect(report.findings[0]?.message).toMatch(/ECS task role \(input task-role-arn\)/);
  });

  it('finds access keys in side files (templates, includes) too', async () => {
    const key = fakeKeyId();
    const report = await lintText('ok.map', wrap(''), { 'templates/query.html': `<p>\n<!-- ${key} -->\n</p>` });
    expect(report.findings).toEqual([expect.objectContaining({ line: 2, rule: 'secret', severity: 'error' })]);
    expect(allOutput(report)).not.toContain(key);
  });

  it('passes an empty CONFIG value and a password-less connection', async () => {
    const report = await lintText(
      'ok.map',
      wrap('  CONFIG "AWS_ACCESS_KEY_ID" ""\n  LAYER\n    NAME "l"\n    CONNECTIONTYPE POSTGIS\n    CONNECTION "service=gis"\n    DATA "geom FROM t"\n  END'),
    );
    expect(report.findings).toEqual([]);
  });
});

describe('MS_ERRORFILE', () => {
  it.each<[string, string | undefined]>([
    ['stderr', undefined],
    ['/var/log/ms_error.log', undefined],
    ['stdout', 'HTTP responses'],
    ['/tmp/mapserver.log', 'not prepared by the image'],
    ['logs/ms.log', 'resolves to /mapfiles/logs/ms.log, inside the read-only /mapfiles mount'],
  ])('%s', async (file, problem) => {
    const report = await lintText('e.map', wrap(`  CONFIG "MS_ERRORFILE" "${file}"`));
    const found = report.findings.filter((f) => f.rule === 'errorfile');
    if (problem === undefined) expect(found).toEqual([]);
    else expect(found).toEqual([expect.objectContaining({ severity: 'error', line: 5, message: expect.stringContaining(problem) })]);
  });

  it('matches the error file the image prepares', () => {
    const dockerfile = readFileSync(join(repoRoot, 'docker', 'Dockerfile'), 'utf8');
    for (const file of PREPARED_ERROR_FILES.filter((f) => f.startsWith('/'))) {
      // A link to the log follower's terminal (docker/entrypoint.sh), in a folder the worker user owns.
      expect(dockerfile).toMatch(new RegExp(`ln -s /run/mapserver-ecs/ms_error\\.log ${file.replace(/\./g, '\\.')}`));
      expect(dockerfile).toMatch(/install -d -o www-data -g www-data -m 0755 [^;]*\/run\/mapserver-ecs /);
    }
  });
});

describe('data paths', () => {
  const layer = (data: string, extra = ''): string => wrap(`  LAYER\n    NAME "l"\n    TYPE RASTER\n${extra}    DATA "${data}"\n  END`);
  it.each<[string, string, Record<string, string>, string | undefined]>([
    ['/vsis3/ path', layer('/vsis3/bucket/cogs/a.tif'), {}, undefined],
    ['relative file that exists', layer('data/a.tif'), { 'data/a.tif': 'x' }, undefined],
    ['shapefile base name that exists', layer('roads'), { 'roads.shp': 'x' }, undefined],
    ['/mapfiles path that exists', layer('/mapfiles/data/a.tif'), { 'data/a.tif': 'x' }, undefined],
    ['https URL', layer('/vsicurl/https://example.org/a.tif'), {}, undefined],
    ['runtime substitution', layer('%file%.tif'), {}, undefined],
    ['absolute path outside /mapfiles', layer('/home/gis/a.tif'), {}, 'error:is an absolute path outside /mapfiles'],
    ['relative path escaping the folder', layer('../../a.tif'), {}, 'error:outside /mapfiles'],
    ['s3:// URL', layer('s3://bucket/a.tif'), {}, 'error:write /vsis3/bucket/a.tif'],
    ['vsis3 without its slash', layer('vsis3/bucket/a.tif'), {}, 'error:no leading slash'],
    ['/vsis3/ without a bucket', layer('/vsis3/'), {}, 'error:names no bucket'],
    ['S3 over plain HTTP', layer('/vsicurl/https://bucket.s3.amazonaws.com/a.tif'), {}, undefined],
    ['S3 HTTP URL as DATA', layer('https://bucket.s3.us-east-1.amazonaws.com/cogs/a.tif'), {}, 'warning:/vsis3/bucket/cogs/a.tif'],
    ['Windows path', layer('C:\\\\gis\\\\a.tif'), {}, 'error:Windows path'],
    ['missing local file', layer('data/missing.tif'), {}, 'warning:is not in the mapfiles folder'],
    ['zip inside the folder', layer('/vsizip/data/a.zip/a.shp'), {}, 'error:outside /mapfiles'],
    ['SHAPEPATH outside', wrap('  SHAPEPATH "/srv/data"'), {}, 'error:SHAPEPATH "/srv/data" is an absolute path outside /mapfiles'],
    ['SHAPEPATH /vsis3/', wrap('  SHAPEPATH "/vsis3/bucket/data/"\n  LAYER\n    NAME "l"\n    DATA "roads"\n  END'), {}, undefined],
    ['SHAPEPATH relative and data in it', wrap('  SHAPEPATH "data"\n  LAYER\n    NAME "l"\n    DATA "roads.shp"\n  END'), { 'data/roads.shp': 'x' }, undefined],
    ['SHAPEPATH relative, data missing', wrap('  SHAPEPATH "data"\n  LAYER\n    NAME "l"\n    DATA "roads.shp"\n  END'), { 'data/x': 'x' }, 'warning:looked for'],
    ['OGR CONNECTION outside', wrap('  LAYER\n    NAME "l"\n    CONNECTIONTYPE OGR\n    CONNECTION "/opt/data/a.gpkg"\n    DATA "a"\n  END'), {}, 'error:CONNECTION "/opt/data/a.gpkg"'],
    ['PostGIS DATA is SQL, not a path', wrap('  LAYER\n    NAME "l"\n    CONNECTIONTYPE POSTGIS\n    CONNECTION "service=x"\n    DATA "geom FROM /x/"\n  END'), {}, undefined],
    ['TILEINDEX naming a layer', wrap('  LAYER\n    NAME "idx"\n  END\n  LAYER\n    NAME "l"\n    TILEINDEX "idx"\n  END'), {}, undefined],
    ['TEMPLATE outside', wrap('  WEB\n    TEMPLATE "/usr/share/t.html"\n  END'), {}, 'error:TEMPLATE "/usr/share/t.html"'],
    ['FONTSET missing', wrap('  FONTSET "fonts/fonts.txt"'), {}, 'warning:FONTSET "fonts/fonts.txt" is not in the mapfiles folder'],
  ])('%s', async (_name, text, extra, expected) => {
    const report = await lintText('p.map', text, extra);
    const found = report.findings.filter((f) => f.rule === 'data-path');
    if (expected === undefined) expect(found).toEqual([]);
    else {
      const [severity, message] = [expected.slice(0, expected.indexOf(':')), expected.slice(expected.indexOf(':') + 1)];
      expect(found).toEqual([expect.objectContaining({ severity, message: expect.stringContaining(message) })]);
    }
  });
});

describe('wms_onlineresource', () => {
  const pattern = posixPatternToRegExp(IMAGE_MAP_PATTERN);
  it.each<[string, string | undefined]>([
    ['https://maps.example.org/?map=/mapfiles/roads/roads.map&', undefined],
    ['https://maps.example.org/wms/?map=/mapfiles/roads/roads.map', undefined],
    ['http://10.0.0.1:8080/wms?map=/mapfiles/roads/roads.map&', undefined],
    ['https://maps.example.org/maps/roads/roads?', undefined],
    ['https://maps.example.org/maps/roads', 'served as /maps/roads/roads'],
    ['https://maps.example.org/?map=/mapfiles/other.map', 'but this file is /mapfiles/roads/roads.map'],
    ['https://maps.example.org/?map=/mapfiles/../etc/x.map', "MS_MAP_PATTERN refuses"],
    ['https://maps.example.org/wms/', 'has no map= parameter'],
    ['https://maps.example.org/cgi-bin/mapserv?map=/mapfiles/roads/roads.map', 'which the image does not serve'],
    ['<dns_url>/wms/?map=/mapfiles/x.map', 'not an absolute http(s) URL'],
    ['ftp://maps.example.org/?map=/mapfiles/roads/roads.map', 'not an http(s) URL'],
  ])('%s', (url, problem) => {
    const result = onlineResourceProblem(url, '/mapfiles/roads/roads.map', 'roads/roads', pattern);
    if (problem === undefined) expect(result).toBeUndefined();
    else expect(result).toContain(problem);
  });

  it('is a warning at the METADATA line', async () => {
    const report = await lintText('w.map', wrap('  WEB\n    METADATA\n      "wms_onlineresource" "http://h/cgi-bin/mapserv?"\n    END\n  END'));
    expect(report.findings).toEqual([expect.objectContaining({ rule: 'onlineresource', severity: 'warning', line: 7 })]);
    expect(report.errors).toBe(0);
  });
});

describe('MS_MAP_PATTERN', () => {
  it('is the pattern of the image config', () => {
    const config = readFileSync(join(repoRoot, 'docker', 'mapserver', 'mapserver.conf'), 'utf8');
    expect(mapPatternFromConfig(config)).toBe(IMAGE_MAP_PATTERN);
    expect(imageMapPattern(repoRoot)).toBe(IMAGE_MAP_PATTERN);
    expect(imageMapPattern(join(work, 'not-a-checkout'))).toBe(IMAGE_MAP_PATTERN);
  });

  it.each<[string, boolean]>([
    ['roads.map', true],
    ['team-a/roads_2024.v2.map', true],
    ['My Map.map', false],
    ['.hidden.map', false],
    ['sub/.x/roads.map', false],
    ['roads.MAP', false],
    ['ümlaut.map', false],
  ])('%s allowed: %s', async (name, allowed) => {
    const report = await lintText(name, wrap(''));
    const found = report.findings.filter((f) => f.rule === 'map-pattern');
    if (allowed) expect(found).toEqual([]);
    else if (!name.startsWith('.') && !name.includes('/.')) expect(found).toEqual([expect.objectContaining({ severity: 'error', line: 1 })]);
    // Hidden files and folders are never linted or synced at all.
    else expect(report.mapfiles).toEqual([]);
  });

  it('translates POSIX classes', () => {
    expect(posixPatternToRegExp('^/mapfiles/[[:alnum:]_]+\\.map$').test('/mapfiles/a_1.map')).toBe(true);
  });
});

describe('fixtures', () => {
  it('the good folder passes with no findings', async () => {
    const report = await lintMapfiles({ paths: [join(fixtures, 'good')], mapfilesDir: join(fixtures, 'good'), cwd: repoRoot, env: {}, projectRoot: repoRoot, mapserver: 'off' });
    expect(report.findings).toEqual([]);
    expect(report.mapfiles.length).toBeGreaterThanOrEqual(2);
    expect(report.mapserver).toEqual({ checked: false, skipped: 'turned off' });
  });

  it('text output is file:line: severity: message [rule], JSON is parseable', async () => {
    const report = await lintMapfiles({ paths: [join(fixtures, 'bad', 'errorfile.map')], mapfilesDir: 'mapfiles', cwd: repoRoot, env: {}, projectRoot: repoRoot, mapserver: 'off' });
    expect(formatText(report, repoRoot)).toEqual([expect.stringMatching(/^action\/test\/fixtures\/mapfiles\/bad\/errorfile\.map:5: error: MS_ERRORFILE .* \[errorfile\]$/)]);
    const json = JSON.parse(formatJson(report, repoRoot));
    expect(json).toMatchObject({ errors: 1, warnings: 0, findings: [{ file: 'action/test/fixtures/mapfiles/bad/errorfile.map', line: 5, severity: 'error', rule: 'errorfile' }] });
  });
});

describe('corpus of mapfiles written by others', () => {
  const corpus = join(repoRoot, '..', 'shared', 'corpus', 'mapfiles');
  const run = existsSync(corpus) ? it : it.skip;

  run('finds the seed-style credentials and placeholders with file and line, and passes the clean files', async () => {
    const report = await lintMapfiles({ paths: [corpus], mapfilesDir: corpus, cwd: corpus, env: {}, projectRoot: repoRoot, mapserver: 'off' });
    const errorsByFile = (file: string) => report.findings.filter((f) => f.file === join(corpus, file) && f.severity === 'error').map((f) => [f.line, f.rule]);
    expect(errorsByFile('tnris_lambda-s4_test.map')).toEqual([
      [8, 'secret'],
      [9, 'secret'],
      [40, 'secret'],
    ]);
    // The template's EXTENT <minx> ... placeholders: MapServer refuses the template itself.
    expect(errorsByFile('tnris_lambda-s4_template.map')).toEqual([
      [6, 'syntax'],
      [8, 'secret'],
      [9, 'secret'],
      [41, 'secret'],
    ]);
    expect(errorsByFile('msautotest_wms_openlayers_xss.map')).toEqual([]);
    expect(errorsByFile('msautotest_ows_empty.map')).toEqual([]);
    expect(errorsByFile('msautotest_wms_getfeatureinfo_encoding.map')).toEqual([]);
    // Their URLs point at other servers: warnings, not errors.
    expect(report.findings.filter((f) => f.rule === 'onlineresource').map((f) => f.file.slice(corpus.length + 1))).toEqual([
      'msautotest_ows_empty.map',
      'msautotest_ows_empty.map',
      'msautotest_wms_getfeatureinfo_encoding.map',
      'tnris_lambda-s4_template.map',
      'tnris_lambda-s4_test.map',
    ]);
    // The seed's MS_ERRORFILE is the one the image prepares.
    expect(report.findings.filter((f) => f.rule === 'errorfile')).toEqual([]);
  });
});
