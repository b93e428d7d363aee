// Token estimates for fitting chat messages into a model's context window. No tokenizer is bundled:
// models differ, and an exact count would tie the store to one of them. The estimate is one token per
// four bytes of UTF-8, rounded up, plus a fixed overhead per message for its role and framing. Four
// bytes is about one English token with the common BPE tokenizers. Other scripts count by their bytes:
// Cyrillic half a token a character, CJK three quarters, emoji one. Real tokenizers often spend a
// token or more on a CJK character, so leave headroom below the model's window for such text.

/** Tokens counted for each message besides its content: role and separators in chat formats. */
export const MESSAGE_OVERHEAD_TOKENS = 4

/** Estimated tokens of a text. */
export function estimateTokens(text: string): number {
  return Math.ceil(Buffer.byteLength(text, 'utf8') / 4)
}

/** Estimated tokens of one chat message: its content plus the per-message overhead. */
export function estimateMessageTokens(content: string): number {
  return estimateTokens(content) + MESSAGE_OVERHEAD_TOKENS
}
