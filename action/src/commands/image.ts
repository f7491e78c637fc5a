// image: build, smoke-test and push the MapServer image, reused when one was pushed from the same inputs.
import { buildAndPushImage, decideImage } from '../steps/image.js';
import type { CommandContext } from '../context.js';

export async function imageCommand(ctx: CommandContext): Promise<void> {
  const { reporter } = ctx;
  // An image pushed from the same inputs is reused, unless force says otherwise.
  const decision = await decideImage(ctx);
  reporter.info(`image: ${decision.reason}`);
  if (decision.reuse) {
    reporter.setOutput('image-uri', decision.reuse);
    reporter.summaryRow('image', decision.reason);
    return;
  }
  const result = await buildAndPushImage(ctx, undefined, decision.fingerprint);
  if (result.pushed) {
    ctx.reporter.setOutput('image-uri', result.imageUri);
    ctx.reporter.summaryRow('image', `pushed ${result.taggedImage} as ${result.imageUri}`);
  } else {
    ctx.reporter.summaryRow('image', `built and smoke-tested ${result.taggedImage}; not pushed (dry-run)`);
  }
}
