#!/usr/bin/env node
// Runs the compiled CLI (npm run build produces dist/). Kept as plain JS so `npx parley` needs no loader.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('parley: dist/ is missing; run `npm run build` (or `make serve`) first');
  process.exit(1);
}
const { main } = await import(entry.href);
try {
  await main(process.argv.slice(2));
} catch (err) {
  console.error(`parley: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
