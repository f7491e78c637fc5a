// The endpoint override that points AWS clients (the pipeline's, the mirror's and Packer's) at an
// emulator or an S3-compatible store.

export type EndpointService = 'S3' | 'EC2';

/** A bare http(s)://host[:port], the only form Packer's amazon plugin takes as an endpoint. */
const ENDPOINT = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/;

/**
 * AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, as the SDK reads them; undefined when AWS
 * itself is addressed.
 */
export function endpointOverride(env: NodeJS.ProcessEnv, service: EndpointService): string | undefined {
  return env[`AWS_ENDPOINT_URL_${service}`] || env.AWS_ENDPOINT_URL || undefined;
}

export function isBareEndpoint(endpoint: string): boolean {
  return ENDPOINT.test(endpoint);
}
