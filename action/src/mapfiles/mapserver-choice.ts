// Which MapServer judges the mapfiles: the image's that serves them when Docker can run it, else
// this machine's map2img (whose version may differ from the image's: the report says so), else
// none, and then only our own parser's checks (syntax.ts) stand for MapServer's.
import { execa } from 'execa';
import { SERVING_VERSION } from './keywords-data.js';
import { findImage, type ImageMapServer } from './mapserver-image.js';
import { findMapServerTool, type MapServerTool } from './mapserver.js';

/** 'auto': the image when Docker has it, else map2img; 'local': map2img only; 'off': neither. */
export type MapServerMode = 'auto' | 'local' | 'off';

export interface MapServerStatus {
  checked: boolean;
  /** map2img's path when this machine's MapServer judged. */
  tool?: string;
  /** The image (and its id) when the image's MapServer judged. */
  image?: string;
  version?: string;
  /** How the judging MapServer differs from the one that serves, when it does. */
  note?: string;
  /** Why MapServer's check did not run. */
  skipped?: string;
}

export type MapServerJudge = { kind: 'image'; image: ImageMapServer } | { kind: 'local'; tool: MapServerTool } | { kind: 'none' };

export async function chooseMapServer(mode: MapServerMode, requestedImage: string | undefined, env: NodeJS.ProcessEnv): Promise<{ judge: MapServerJudge; status: MapServerStatus }> {
  if (mode === 'off') return { judge: { kind: 'none' }, status: { checked: false, skipped: 'turned off' } };
  if (mode === 'auto') {
    const image = await findImage(requestedImage, env);
    if (image) return { judge: { kind: 'image', image }, status: { checked: true, image: `${image.image} (${image.id})` } };
  }
  const tool = findMapServerTool(env);
  const noImage = mode === 'auto' ? `no MapServer image (${requestedImage ?? 'the image built from docker/'}) in Docker here` : 'asked for this machine\'s MapServer';
  if (!tool) {
    return {
      judge: { kind: 'none' },
      status: { checked: false, skipped: `${noImage}, and MapServer (map2img) is not installed on this machine; only lint-mapfiles' own parser checked the syntax, with MapServer ${SERVING_VERSION}'s keywords` },
    };
  }
  const version = await localVersion(tool, env);
  const major = version.split('.').slice(0, 2).join('.');
  const note =
    major === SERVING_VERSION
      ? undefined
      : `${noImage}: this machine's MapServer ${version} checked instead, not the image's ${SERVING_VERSION}; keywords added after ${major} are refused here although the image knows them, and what changed since then may load here but not there`;
  return { judge: { kind: 'local', tool }, status: { checked: true, tool: tool.path, version, ...(note ? { note } : {}) } };
}

async function localVersion(tool: MapServerTool, env: NodeJS.ProcessEnv): Promise<string> {
  const result = await execa(tool.path, ['-v'], { reject: false, env, timeout: 30_000 }).catch(() => undefined);
  return /MapServer version (\S+)/.exec(`${result?.stdout ?? ''}${result?.stderr ?? ''}`)?.[1] ?? 'unknown';
}
