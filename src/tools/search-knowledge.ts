/**
 * search_knowledge: full-text search over the tenant's documents (store.documents, SQLite FTS5 with
 * bm25 ranking). Only this tenant's documents are ever searched.
 */
import type { AgentTool, ToolServices } from './types.js';

export const KNOWLEDGE_RESULTS = 3;
const MAX_QUERY_CHARS = 500;

export function createSearchKnowledgeTool(services: Pick<ToolServices, 'store'>): AgentTool {
  return {
    spec: {
      name: 'search_knowledge',
      description:
        "Search this business's knowledge base (policies, prices, opening hours, FAQs) and get the best matching passages. " +
        'Use it before answering a factual question about the business instead of guessing. Query with the key words of the ' +
        `question. Answers up to ${KNOWLEDGE_RESULTS} results with a title and a snippet (matched words in [brackets]).`,
      parameters: {
        type: 'object',
        properties: { query: { type: 'string', minLength: 1, maxLength: MAX_QUERY_CHARS, description: 'Key words to search for, e.g. "late checkout fee".' } },
        required: ['query'],
        additionalProperties: false,
      },
    },
    async run(args, ctx) {
      const query = String(args['query'] ?? '').trim();
      if (query === '') return { ok: false, error: 'the query is empty' };
      const hits = await services.store.documents.search(ctx.tenant.id, query, KNOWLEDGE_RESULTS);
      if (hits.length === 0) return { ok: true, data: { results: [], message: `Nothing in the knowledge base matches "${query}".` } };
      return { ok: true, data: { results: hits.map((h) => ({ title: h.title, snippet: h.snippet })) } };
    },
  };
}
