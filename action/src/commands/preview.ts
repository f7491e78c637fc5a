// preview: renders a mapfile to a PNG on this machine (host MapServer, else the local image).
import { InputError } from '../errors.js';
import { isFile, renderPreview } from '../mapfiles/preview.js';
import { checkoutRoot } from '../mapfiles/served.js';
import type { CommandContext } from '../context.js';

export async function previewCommand(context: CommandContext): Promise<void> {
  const { settings, reporter, env } = context;
  // The settings refuse a preview without a .map file before the command runs.
  const mapfile = settings.mapfile ?? '';
  if (!(await isFile(mapfile))) throw new InputError([{ input: 'mapfile', message: `expected an existing .map file, got ${JSON.stringify(mapfile)} (not found)` }]);
  const result = await renderPreview({
    mapfile,
    output: settings.output,
    mapfilesDir: settings.mapfilesDir,
    cwd: process.cwd(),
    env,
    reporter,
    projectRoot: checkoutRoot(context),
  });
  const line = `wrote ${settings.output}: ${result.width}x${result.height} PNG (${result.bytes} bytes), rendered by ${result.renderer}`;
  reporter.info(line);
  reporter.summaryRow('preview', line);
}
