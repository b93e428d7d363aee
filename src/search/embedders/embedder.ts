// The one small interface every source of embeddings fits: the built-in model, an OpenAI-compatible
// endpoint, or anything an application passes to openStore({ embedder }).
export interface Embedder {
  /** Stored with every vector: changing it computes new vectors alongside the old ones. 1-200 characters. */
  readonly model: string
  /** Length of every vector embed() returns (pgvector's HNSW indexes up to 2000). */
  readonly dimensions: number
  /** One vector per text, in order. Never called with an empty string. */
  embed(texts: string[]): Promise<number[][]>
  /** Releases resources (optional). */
  close?(): Promise<void>
}

/** Longest text given to an embedder (characters): a turn's start carries its topic. */
export const EMBED_MAX_CHARS = 4000

/** The text of a turn that is embedded; null when it has none (never embed an empty string). */
export function embeddingText(userMessage: string, robotResponse: string | null): string | null {
  const text = `${userMessage}\n${robotResponse ?? ''}`.trim()
  if (text === '') return null
  return text.length > EMBED_MAX_CHARS ? text.slice(0, EMBED_MAX_CHARS) : text
}

/** Checks what an embedder returned: one finite vector of the declared length per text. */
export function checkVectors(embedder: Embedder, texts: string[], vectors: number[][]): number[][] {
  if (!Array.isArray(vectors) || vectors.length !== texts.length) {
    throw new Error(
      `embedder ${embedder.model} returned ${vectors?.length} vectors for ${texts.length} texts`,
    )
  }
  for (const vec of vectors) {
    if (!Array.isArray(vec) || vec.length !== embedder.dimensions || !vec.every(Number.isFinite)) {
      throw new Error(
        `embedder ${embedder.model} returned a vector of ${vec?.length} numbers, expected ${embedder.dimensions} finite numbers`,
      )
    }
  }
  return vectors
}
