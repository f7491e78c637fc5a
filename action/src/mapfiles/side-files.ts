// Files in the mapfiles folder that are not mapfiles go to the bucket too: they are scanned for keys.
// A .MAP file that is binary (MapInfo's) is one of them.
import { open } from 'node:fs/promises';
import type { Finding } from './findings.js';

const SIDE_FILE_SCAN_LIMIT = 2 * 1024 * 1024;

const SIDE_FILE_KEY = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/;
const PRIVATE_KEY = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;

/** A NUL byte in the first 8 KiB: no mapfile has one. */
export async function isBinary(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(8192);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).includes(0);
  } finally {
    await handle.close();
  }
}

/** Templates, symbol sets and other side files go to the bucket too: look for keys in text files. */
export async function scanSideFile(file: string): Promise<Finding[]> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(SIDE_FILE_SCAN_LIMIT);
    const { bytesRead } = await handle.read(buffer, 0, SIDE_FILE_SCAN_LIMIT, 0);
    const data = buffer.subarray(0, bytesRead);
    if (data.includes(0)) return [];
    const lines = data.toString('utf8').split('\n');
    const findings: Finding[] = [];
    lines.forEach((text, index) => {
      if (SIDE_FILE_KEY.test(text)) {
        findings.push({
          file,
          line: index + 1,
          severity: 'error',
          rule: 'secret',
          message: 'an AWS access key id is written in this file (value not shown); remove it: the bucket is no place for keys, and the ECS task role gives MapServer its access',
        });
      }
      if (PRIVATE_KEY.test(text)) {
        findings.push({ file, line: index + 1, severity: 'error', rule: 'secret', message: 'a private key is written in this file (not shown); remove it from the mapfiles folder' });
      }
    });
    return findings;
  } finally {
    await handle.close();
  }
}
