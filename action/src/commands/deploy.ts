import { InputError } from '../errors.js';
import { deployService } from '../steps/deploy.js';
import type { CommandContext } from '../context.js';

export async function deployCommand(ctx: CommandContext): Promise<void> {
  const image = ctx.settings.image;
  if (!image || !image.includes('@sha256:')) {
    throw new InputError([
      { input: 'image', message: `is required by the deploy command: expected an image by digest (repository@sha256:<64 hex>)${image ? `, got ${JSON.stringify(image)}` : ''}` },
    ]);
  }
  const { taskDefinitionArn, unchanged } = await ctx.reporter.group('Deploy the service', () => deployService(ctx, image));
  ctx.reporter.setOutput('image-uri', image);
  ctx.reporter.setOutput('task-definition-arn', taskDefinitionArn);
  ctx.reporter.summaryRow('deploy', `${unchanged ? 'unchanged: ' : ''}${ctx.settings.service} runs ${taskDefinitionArn}`);
}
