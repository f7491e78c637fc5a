// Recognising AWS API errors by name, across the query (EC2, Auto Scaling) and JSON (ECS, ECR) protocols.

/** The API error code of an SDK error, such as InvalidLaunchTemplateName.NotFoundException. */
export function awsErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { name?: unknown; Code?: unknown; code?: unknown };
  for (const candidate of [e.Code, e.code, e.name]) if (typeof candidate === 'string' && candidate !== 'Error') return candidate;
  return undefined;
}

export function isAwsError(error: unknown, ...codes: string[]): boolean {
  const code = awsErrorCode(error);
  return code !== undefined && codes.includes(code);
}
