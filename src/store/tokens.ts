// Token counts for fitting chat messages into a model's context window: gpt-tokenizer's o200k_base
// encoding (GPT-4o and later), offline. One counter for the whole store, so a messages page cut to
// `maxTokens` and a search context cut to its budget agree. Other models' tokenizers differ by a few
// percent on English and more on other scripts: leave headroom below the model's window.
// Special-token text such as "<|endoftext|>" in a message counts as ordinary text.
import { createRequire } from 'node:module'

// Loaded on first use, synchronously (the functions below are synchronous): its o200k_base tables
// cost about 280 ms of start-up, which every command-line run and server start paid when imported
// at the top, though only message pages cut to a token budget and search contexts count tokens.
type Tokenizer = typeof import('gpt-tokenizer')
let tokenizer: Tokenizer | undefined
function count(text: string, options: Parameters<Tokenizer['countTokens']>[1]): number {
  tokenizer ??= createRequire(import.meta.url)('gpt-tokenizer') as Tokenizer
  return tokenizer.countTokens(text, options)
}

const NO_SPECIAL = { disallowedSpecial: new Set<string>() }

/** Tokens counted for each message besides its content: role and separators, as OpenAI's chat format counts them. */
export const MESSAGE_OVERHEAD_TOKENS = 4

/** Tokens of a text (o200k_base). */
export function estimateTokens(text: string): number {
  return text === '' ? 0 : count(text, NO_SPECIAL)
}

/** Tokens of one chat message: its content plus the per-message overhead. */
export function estimateMessageTokens(content: string): number {
  return estimateTokens(content) + MESSAGE_OVERHEAD_TOKENS
}
