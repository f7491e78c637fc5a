import { describe, expect, it } from '@jest/globals';
import { requireCredentials } from '../../src/aws/credentials.js';
import { formatError, exitCodeFor, StepFailure } from '../../src/errors.js';

function failing(name: string, message: string) {
  return {
    config: {
      credentials: () => Promise.reject(Object.assign(new Error(message), { name })),
    },
  };
}

async function failureOf(promise: Promise<void>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('requireCredentials', () => {
  it('says in one line that credentials are missing and how to provide them, exit 1', async () => {
    const error = await failureOf(requireCredentials(failing('CredentialsProviderError', 'Could not load credentials from any providers')));
    expect(error).toBeInstanceOf(StepFailure);
    const text = formatError(error);
    expect(text).not.toContain('\n');
    expect(text).toMatch(/^No AWS credentials found; nothing was changed\. /);
    expect(text).toContain('AWS_PROFILE');
    expect(text).toContain('aws sso login');
    expect(text).toContain('configure-aws-credentials');
    expect(text).not.toContain('CredentialsProviderError');
    expect(exitCodeFor(error)).toBe(1);
  });

  it("keeps the SDK's reason when a provider was found but failed (an expired SSO session)", async () => {
    const error = await failureOf(requireCredentials(failing('TokenProviderError', 'The SSO session token has expired.\nmore')));
    expect(formatError(error)).toMatch(/^AWS credentials could not be loaded \(The SSO session token has expired\.\); nothing was changed/);
  });

  it('lets other errors through and resolves when credentials are there', async () => {
    await expect(requireCredentials({ config: { credentials: () => Promise.reject(new TypeError('bug')) } })).rejects.toThrow(TypeError);
    await expect(requireCredentials({ config: { credentials: () => Promise.resolve({ accessKeyId: 'a' }) } })).resolves.toBeUndefined();
  });
});
