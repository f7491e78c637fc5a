import { buildAndPushImage } from '../steps/image.js';
import type { CommandContext } from './context.js';

export async function imageCommand(context: CommandContext): Promise<void> {
  const result = await buildAndPushImage(context);
  if (result.pushed) {
    context.reporter.setOutput('image-uri', result.imageUri);
    context.reporter.summaryRow('image', `pushed ${result.taggedImage} as ${result.imageUri}`);
  } else {
    context.reporter.summaryRow('image', `built and smoke-tested ${result.taggedImage}; not pushed (dry-run)`);
  }
}
