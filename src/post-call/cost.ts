/**
 * The cost of a call from its usage and the tenant's unit prices. A platform-side estimate for
 * dashboards and budgets (quotas.dailyBudget), not an invoice: providers bill by their own rules.
 * Each part is rounded to 6 decimals and the total is the sum of the rounded parts, so the parts
 * always add up to the total shown.
 */
import type { CallCost, CallUsage } from '../store/store.js';
import type { TenantConfig } from '../tenants/schema.js';

export type Prices = TenantConfig['prices'];

export function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

export function computeCost(usage: CallUsage, prices: Prices): CallCost {
  const carrier = round6(usage.carrierMinutes * prices.carrierPerMinute);
  const stt = round6((usage.sttSeconds / 60) * prices.sttPerMinute);
  const llm = round6((usage.llmInputTokens / 1000) * prices.llmInputPer1kTokens + (usage.llmOutputTokens / 1000) * prices.llmOutputPer1kTokens);
  const tts = round6((usage.ttsCharacters / 1000) * prices.ttsPer1kChars);
  return { currency: prices.currency, carrier, stt, llm, tts, total: round6(carrier + stt + llm + tts) };
}
