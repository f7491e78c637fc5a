// Bundles the image's map viewer (docker/viewer/src) with OpenLayers from node_modules into
// docker/viewer/dist, which the Dockerfile copies: the image fetches nothing at run time, and the
// image command builds from a checkout without node_modules (as GitHub runs the action), so the
// bundle is committed. `--check` writes nothing and fails when dist/ differs from a fresh build.
import { build, type Metafile } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const viewer = join(root, 'docker', 'viewer');
const dist = join(viewer, 'dist');

/** The license of every package the bundle holds, from each package's own files. */
function licenses(metafile: Metafile): string {
  const packages = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (match?.[1]) packages.add(match[1]);
  }
  const parts: string[] = [];
  for (const name of [...packages].sort()) {
    const dir = join(root, 'node_modules', name);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string; license?: string };
    const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.md|\.txt)?$/i.test(f));
    const text = file ? readFileSync(join(dir, file), 'utf8').trim() : `License: ${pkg.license ?? 'unknown'}`;
    parts.push(`${name} ${pkg.version} (${pkg.license ?? 'see below'})\n\n${text}`);
  }
  return `${parts.join('\n\n---\n\n')}\n`;
}

export async function viewerFiles(): Promise<Record<string, string>> {
  const result = await build({
    entryPoints: { viewer: join(viewer, 'src', 'viewer.ts'), 'viewer-style': join(viewer, 'src', 'viewer.css') },
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['es2020'],
    legalComments: 'none',
    outdir: dist,
    write: false,
    metafile: true,
    absWorkingDir: root,
    logLevel: 'silent',
  });
  const files: Record<string, string> = { 'LICENSES.txt': licenses(result.metafile) };
  for (const file of result.outputFiles) {
    // One stylesheet named after the page's link: esbuild names a CSS entry by its key.
    const name = file.path.slice(dist.length + 1).replace('viewer-style.css', 'viewer.css');
    files[name] = file.text;
  }
  return files;
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const files = await viewerFiles();
  const stale = Object.entries(files).filter(([name, text]) => !existsSync(join(dist, name)) || readFileSync(join(dist, name), 'utf8') !== text);
  if (check) {
    if (stale.length > 0) {
      process.stderr.write(`build-viewer: docker/viewer/dist is out of date (${stale.map(([n]) => n).join(', ')}): run npm run build:viewer and commit\n`);
      process.exit(1);
    }
    return;
  }
  mkdirSync(dist, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dist, name), text);
  process.stderr.write(`build-viewer: wrote ${Object.entries(files).map(([n, t]) => `${n} (${Math.round(t.length / 1024)} KiB)`).join(', ')}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`build-viewer: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
