// MapServer's own verdict on each mapfile of a folder, as the reference lint-mapfiles is measured
// against: the image's map2img loads each file from its own folder (no network, folder read-only)
// and either reaches the drawing step (asked for a layer the map lacks, it says so) or refuses.
// Deliberately independent of the product's code that does the same.
import { execOk } from '../../../scripts/support/exec.js';

export interface Verdict {
  loads: boolean;
  /** MapServer's first message when it refuses the file. */
  says?: string;
}

export interface VerdictTable {
  /** Where the mapfiles come from (repository and commit). */
  source: string;
  /** map2img -v of the image that judged. */
  mapserver: string;
  verdicts: Record<string, Verdict>;
}

const SENTINEL = 'verdict_sentinel_layer';

const SCRIPT = `map2img -v | head -n 1
while IFS= read -r f; do
  printf '\\036%s\\n' "$f"
  (cd "$(dirname "$f")" && timeout 60 map2img -m "$f" -o /dev/null -l ${SENTINEL} 2>&1) || true
done`;

/** Verdicts keyed by path relative to root, for every file given (absolute paths under root). */
export async function imageVerdicts(image: string, root: string, files: readonly string[]): Promise<{ mapserver: string; verdicts: Record<string, Verdict> }> {
  const out = await execOk('docker', ['run', '--rm', '-i', '--network', 'none', '--volume', `${root}:${root}:ro`, '--entrypoint', 'sh', image, '-c', SCRIPT], {
    input: `${files.join('\n')}\n`,
    timeoutMs: 1_800_000,
  });
  const [head = '', ...parts] = out.split('\u001e');
  const verdicts: Record<string, Verdict> = {};
  for (const part of parts) {
    const newline = part.indexOf('\n');
    const file = part.slice(0, newline);
    const said = part.slice(newline + 1);
    const loads = said.includes(`Layer (-l) "${SENTINEL}" not found`) || said.includes(`Layer (-l) ${SENTINEL} not found`);
    const first = said.split('\n').find((l) => /^[A-Za-z_]\w*\(\): /.test(l))?.replace(/\s*<br>\s*$/, '').trim();
    verdicts[file.slice(root.length + 1)] = loads ? { loads } : { loads, says: first ?? said.trim().slice(0, 300) };
  }
  return { mapserver: head.trim(), verdicts };
}
