// Which embedder a store uses: the application's (openStore({ embedder })), an OpenAI-compatible
// endpoint when EMBEDDINGS_URL is set, none with EMBEDDINGS=off, else the built-in model.
import { ConfigError } from '../../errors.js'
import type { Env } from '../../portable-types.js'
import { BuiltinEmbedder } from './builtin.js'
import type { Embedder } from './embedder.js'
import { OpenAiEmbedder } from './openai.js'

export { BUILTIN_MODEL, BuiltinEmbedder } from './builtin.js'
export type { Embedder } from './embedder.js'
export { OpenAiEmbedder } from './openai.js'

export function embedderFromEnv(env: Env = process.env): Embedder | null {
  const mode = (env.EMBEDDINGS ?? '').trim().toLowerCase()
  if (mode === 'off' || mode === 'none') return null
  const url = env.EMBEDDINGS_URL?.trim()
  if (url) {
    try {
      new URL(url)
    } catch {
      throw new ConfigError('EMBEDDINGS_URL is not a URL')
    }
    const model = env.EMBEDDINGS_MODEL?.trim()
    if (!model) throw new ConfigError('EMBEDDINGS_MODEL is required with EMBEDDINGS_URL')
    const dims = env.EMBEDDINGS_DIMENSIONS?.trim()
    const dimensions = dims ? Number(dims) : undefined
    if (dimensions !== undefined && (!Number.isInteger(dimensions) || dimensions < 1 || dimensions > 16000))
      throw new ConfigError('EMBEDDINGS_DIMENSIONS must be an integer from 1 to 16000')
    return new OpenAiEmbedder({ url, model, apiKey: env.EMBEDDINGS_API_KEY || undefined, dimensions })
  }
  if (mode !== '' && mode !== 'builtin')
    throw new ConfigError('EMBEDDINGS must be builtin or off (or set EMBEDDINGS_URL)')
  return new BuiltinEmbedder()
}
