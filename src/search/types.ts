// The shapes of search and context (the library contract of DESIGN.md).
import type { Metadata, Turn } from '../store/types.js'

export type SearchMode = 'fulltext' | 'semantic' | 'hybrid'

export interface SearchOptions {
  /** 1 to 1000 characters. Full text takes web-search syntax: "a phrase", -word, or. */
  query: string
  /** Default: hybrid where embeddings of the configured model exist, else fulltext. */
  mode?: SearchMode
  sessionId?: string
  userId?: string
  robotPersonality?: string
  /** Inclusive. */
  from?: string | Date
  /** Exclusive. */
  to?: string | Date
  /** Containment: turns whose metadata holds these keys and values. */
  metadata?: Metadata
  /** 1 to 100, default 10. */
  limit?: number
}

export interface SearchResult {
  turn: Turn
  /** Higher is better; comparable within one answer only. */
  score: number
  /** The matching text with matches marked **like this** (full text), else the text's start. */
  snippet: string
  /** 1-based rank in each arm; null when that arm did not return the turn. */
  ranks: { fulltext: number | null; semantic: number | null }
}

export interface SearchResponse {
  results: SearchResult[]
  /** The mode that answered (the default resolved). */
  mode: SearchMode
}

export interface ContextOptions {
  /** Token budget of recent + relevant, default 4000, at most 1,000,000. */
  maxTokens?: number
  /** When given, older turns of the same user or session that match it are added. */
  query?: string
}

export interface ContextResult {
  /** The newest turns that fit the budget, oldest first. */
  recent: Turn[]
  relevant: Array<{ turn: Turn; score: number }>
  /** Tokens of recent + relevant (gpt-tokenizer, o200k_base). */
  tokens: number
}
