// deploy: register the task definition for an image by digest and roll the service onto it.
import { deployService } from '../steps/deploy.js';
import type { CommandContext } from '../context.js';

export async function deployCommand(ctx: CommandContext): Promise<void> {
  // The settings require an image by digest for deploy before any command runs.
  const image = ctx.settings.image;
  if (!image) throw new Error('bug: the deploy command started without an image');
  const { taskDefinitionArn, unchanged } = await ctx.reporter.group('Deploy the service', () => deployService(ctx, image));
  ctx.reporter.setOutput('image-uri', image);
  ctx.reporter.setOutput('task-definition-arn', taskDefinitionArn);
  ctx.reporter.summaryRow('deploy', `${unchanged ? 'unchanged: ' : ''}${ctx.settings.service} runs ${taskDefinitionArn}`);
}
