/**
 * @parley/sdk — a typed client for the Parley HTTP API.
 *
 * ```ts
 * import { ParleyClient, ParleyApiError } from '@parley/sdk';
 * const parley = new ParleyClient({ baseUrl: 'https://parley.example.com', apiKey: process.env.PARLEY_KEY! });
 * const { data } = await parley.listCalls({ limit: 20 });
 * ```
 *
 * Methods are generated from the server's OpenAPI document (generated.ts); the request
 * plumbing and errors live in client.ts.
 */
export { ParleyApiError, ParleyClientBase, type ParleyClientOptions, type RequestOptions } from './client.js';
export * from './generated.js';
