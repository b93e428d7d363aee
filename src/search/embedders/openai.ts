// Any OpenAI-compatible /v1/embeddings endpoint (OpenAI, Ollama, vLLM, LM Studio, ...):
// EMBEDDINGS_URL (the base URL, e.g. http://localhost:11434/v1, or the full .../embeddings URL),
// EMBEDDINGS_MODEL, EMBEDDINGS_API_KEY (optional), EMBEDDINGS_DIMENSIONS (optional: asked of
// models that can shorten their vectors; otherwise learned from the first answer).
import type { Embedder } from './embedder.js'

export interface OpenAiEmbedderOptions {
  url: string
  model: string
  apiKey?: string
  dimensions?: number
  /** Per request, default 30 s. */
  timeoutMs?: number
}

export class OpenAiEmbedder implements Embedder {
  readonly model: string
  private dims: number | undefined
  private readonly endpoint: string

  constructor(private readonly options: OpenAiEmbedderOptions) {
    this.model = options.model
    this.dims = options.dimensions
    const base = options.url.replace(/\/+$/, '')
    this.endpoint = base.endsWith('/embeddings') ? base : `${base}/embeddings`
  }

  /** Known after the first call when not configured; probe() finds it. */
  get dimensions(): number {
    return this.dims ?? 0
  }

  /** Learns the dimension count with one request, when not configured. */
  async probe(): Promise<void> {
    if (this.dims === undefined) await this.embed(['dimension probe'])
  }

  async embed(texts: string[]): Promise<number[][]> {
    if (texts.length === 0) return []
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (this.options.apiKey) headers.authorization = `Bearer ${this.options.apiKey}`
    const body: Record<string, unknown> = { model: this.model, input: texts, encoding_format: 'float' }
    if (this.options.dimensions !== undefined) body.dimensions = this.options.dimensions
    let res: Response
    try {
      res = await fetch(this.endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      })
    } catch (err) {
      // The URL's host only: never the key, never a query string that might hold one.
      throw new Error(
        `embeddings endpoint ${new URL(this.endpoint).host} unreachable: ${(err as Error).message}`,
      )
    }
    if (!res.ok) {
      const detail = (await res.text().catch(() => '')).slice(0, 200)
      throw new Error(`embeddings endpoint ${new URL(this.endpoint).host} answered ${res.status}: ${detail}`)
    }
    const json = (await res.json()) as { data?: Array<{ embedding: number[]; index?: number }> }
    if (!Array.isArray(json.data)) throw new Error('embeddings endpoint answered without a data array')
    const data = [...json.data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0))
    const vectors = data.map((d) => d.embedding)
    if (this.dims === undefined && vectors[0]) this.dims = vectors[0].length
    return vectors
  }
}
