import { fileURLToPath } from 'node:url';

/**
 * Real recordings and vendor protocol examples live in ../shared/data beside the repository
 * (a checkout and CI's fresh clone alike). PARLEY_SHARED_DATA points elsewhere when needed.
 */
const ROOT = process.env.PARLEY_SHARED_DATA ?? fileURLToPath(new URL('../../../shared/data/', import.meta.url));

/** Absolute path of a file under shared/data, e.g. sharedDataPath('speech', 'jfk.wav'). */
export function sharedDataPath(...parts: string[]): string {
  return [ROOT.replace(/\/+$/, ''), ...parts].join('/');
}
