// Credentials are resolved once, before a command's first step, so a missing profile or an expired
// SSO session is reported in one line instead of as the SDK's bare CredentialsProviderError
// halfway through a step.
import { StepFailure } from '../errors.js';

export const HOW_TO_PROVIDE =
  'in a terminal, use a profile or an SSO session (export AWS_PROFILE=<name>, and `aws sso login --profile <name>` when it has expired); ' +
  'in a GitHub workflow, run aws-actions/configure-aws-credentials with role-to-assume (OIDC, permission id-token: write) before this step';

interface CredentialsSource {
  config: { credentials: () => Promise<unknown> };
}

function isCredentialsError(error: unknown): error is Error {
  return error instanceof Error && ['CredentialsProviderError', 'TokenProviderError'].includes(error.name);
}

export async function requireCredentials(client: CredentialsSource): Promise<void> {
  try {
    await client.config.credentials();
  } catch (error) {
    if (!isCredentialsError(error)) throw error;
    const cause = /could not load credentials from any providers/i.test(error.message) ? 'No AWS credentials found' : `AWS credentials could not be loaded (${error.message.split('\n')[0]})`;
    throw new StepFailure(`${cause}; nothing was changed. To provide them: ${HOW_TO_PROVIDE}.`, { cause: error });
  }
}
