import { buildAndPushImage, decideImage } from '../steps/image.js';
import type { CommandContext } from '../context.js';

export async function imageCommand(context: CommandContext): Promise<void> {
  const { reporter } = context;
  // An image pushed from the same inputs is reused, unless force says otherwise.
  const decision = await decideImage(context);
  reporter.info(`image: ${decision.reason}`);
  if (decision.reuse) {
    reporter.setOutput('image-uri', decision.reuse);
    reporter.summaryRow('image', decision.reason);
    return;
  }
  const result = await buildAndPushImage(context, undefined, decision.fingerprint);
  if (result.pushed) {
    context.reporter.setOutput('image-uri', result.imageUri);
    context.reporter.summaryRow('image', `pushed ${result.taggedImage} as ${result.imageUri}`);
  } else {
    context.reporter.summaryRow('image', `built and smoke-tested ${result.taggedImage}; not pushed (dry-run)`);
  }
}
