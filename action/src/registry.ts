// A container registry's v2 API, for the `registry` input: the digest a tag names and an image's
// config (its labels). Plain HTTP on loopback only, as Docker allows.
import { isImageDigest } from './values.js';

/** Image manifests and indexes, OCI and Docker, in the order a registry is asked for them. */
export const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];

/** The part of an image config the image step reads. */
export interface ImageConfig {
  config?: { Labels?: Record<string, string> };
}

function registryScheme(registry: string): 'http' | 'https' {
  const host = registry.replace(/:\d+$/, '');
  return host === 'localhost' || /^127\./.test(host) || host === '[::1]' ? 'http' : 'https';
}

/** repository@digest of a tag in a registry's v2 API; undefined when the registry does not have it. */
export async function registryDigest(registry: string, repository: string, tag: string, fetcher: typeof fetch = fetch): Promise<string | undefined> {
  try {
    const response = await fetcher(`${registryScheme(registry)}://${registry}/v2/${repository}/manifests/${tag}`, {
      method: 'HEAD',
      headers: {
        accept: MANIFEST_TYPES.join(', '),
      },
      signal: AbortSignal.timeout(10_000),
    });
    const digest = response.headers.get('docker-content-digest') ?? '';
    return response.ok && isImageDigest(digest) ? `${registry}/${repository}@${digest}` : undefined;
  } catch {
    // Unreachable or refusing: build, which then reports the registry's own error if pushing fails too.
    return undefined;
  }
}

/** The config of an image by digest, through the manifest for `architecture` when the digest names an index. */
export async function registryImageConfig(
  host: string,
  repository: string,
  digest: string,
  architecture: string,
  fetcher: typeof fetch,
): Promise<ImageConfig | undefined> {
  const base = `${registryScheme(host)}://${host}/v2/${repository}`;
  const get = async (path: string, accept?: string): Promise<Record<string, unknown>> => {
    const response = await fetcher(`${base}/${path}`, { headers: accept ? { accept } : {}, signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return (await response.json()) as Record<string, unknown>;
  };
  let manifest = await get(`manifests/${digest}`, MANIFEST_TYPES.join(', '));
  const forPlatform = (manifest.manifests as Array<{ digest: string; platform?: { architecture?: string } }> | undefined)?.find((m) => m.platform?.architecture === architecture);
  if (forPlatform) manifest = await get(`manifests/${forPlatform.digest}`, MANIFEST_TYPES.join(', '));
  const configDigest = (manifest.config as { digest?: string } | undefined)?.digest;
  return configDigest ? ((await get(`blobs/${configDigest}`)) as ImageConfig) : undefined;
}
