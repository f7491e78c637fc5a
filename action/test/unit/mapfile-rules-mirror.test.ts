// The lint warning for a mapfile that names, by path, a file the mirror leaves in the bucket.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lintMapfiles } from '../../src/mapfiles/lint.js';
import { mirrorLintContext } from '../../src/mapfiles/rules-mirror.js';
import { DEFAULT_MAX_OBJECT_BYTES, DEFAULT_BUDGET_BYTES } from '../../src/mirror/selection.js';
import { inputSpec } from '../../src/inputs.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const mirrorSettings = { mountDriver: 'mirror' as const, mirrorInclude: [], mirrorExclude: [], mirrorMaxObjectMib: 1, bucket: 'mapserver-bucket', bucketPrefix: '' };

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mapfile-rules-mirror-'));
  const files: Record<string, string | Buffer> = {
    'ortho.map': `MAP
  NAME "ortho"
  SIZE 10 10
  EXTENT 0 0 10 10
  SYMBOLSET "symbols/symbols.sym"
  LAYER
    NAME "ortho"
    TYPE RASTER
    DATA "cogs/ortho_2024.tif"
  END
  LAYER
    NAME "remote"
    TYPE RASTER
    DATA "/vsis3/mapserver-bucket/cogs/ortho_2024.tif"
  END
  LAYER
    NAME "parcels"
    TYPE POLYGON
    DATA "data/parcels.gpkg"
  END
  LAYER
    NAME "roads"
    TYPE LINE
    DATA "data/roads"
  END
END
`,
    'symbols/symbols.sym': 'SYMBOLSET END',
    'cogs/ortho_2024.tif': 'not really a raster',
    'data/parcels.gpkg': Buffer.alloc(2 * 1024 * 1024),
    'data/roads.shp': 'shp',
  };
  for (const [file, content] of Object.entries(files)) {
    await mkdir(dirname(join(work, file)), { recursive: true });
    await writeFile(join(work, file), content);
  }
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('the mirror rule', () => {
  it('warns about a raster and an oversized file named by path, naming the /vsis3/ path to use', async () => {
    const report = await lintMapfiles({ paths: [], mapfilesDir: work, cwd: work, env: {}, projectRoot: repoRoot, mapserver: 'off', mirror: mirrorLintContext(mirrorSettings) });
    const mirror = report.findings.filter((f) => f.rule === 'mirror');
    expect(mirror.map((f) => [f.line, f.severity, f.message])).toEqual([
      [9, 'warning', expect.stringMatching(/^DATA "cogs\/ortho_2024.tif" names a file the mirror does not copy to the instances \(excluded by the pattern \*\.tif\).*read it from the bucket with \/vsis3\/mapserver-bucket\/cogs\/ortho_2024.tif$/)],
      [19, 'warning', expect.stringMatching(/^DATA "data\/parcels.gpkg" .*larger than the largest mirrored object \(2097152 > 1048576 bytes\).*\/vsis3\/mapserver-bucket\/data\/parcels.gpkg$/)],
    ]);
  });

  it('says nothing with another mount driver', async () => {
    const report = await lintMapfiles({ paths: [], mapfilesDir: work, cwd: work, env: {}, projectRoot: repoRoot, mapserver: 'off', mirror: mirrorLintContext({ ...mirrorSettings, mountDriver: 's3fs' }) });
    expect(report.findings.filter((f) => f.rule === 'mirror')).toEqual([]);
  });

  it('has input defaults equal to the mirror defaults', () => {
    expect(Number(inputSpec('mirror-max-object-mib')?.default) * 1024 * 1024).toBe(DEFAULT_MAX_OBJECT_BYTES);
    expect(Number(inputSpec('mirror-budget-mib')?.default) * 1024 * 1024).toBe(DEFAULT_BUDGET_BYTES);
  });
});
