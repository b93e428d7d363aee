// Which embedder a store uses: the application's (openStore({ embedder })), an OpenAI-compatible
// endpoint when EMBEDDINGS_URL is set, none with EMBEDDINGS=off, else the built-in model (the
// settings are read by config.ts).
import { embeddingsFromEnv } from '../../config.js'
import type { Env } from '../../portable-types.js'
import { BuiltinEmbedder } from './builtin.js'
import type { Embedder } from './embedder.js'
import { OpenAiEmbedder } from './openai.js'

export { BUILTIN_MODEL, BuiltinEmbedder } from './builtin.js'
export type { Embedder } from './embedder.js'
export { OpenAiEmbedder } from './openai.js'

/** The embedder the environment asks for (see embeddingsFromEnv in config.ts); null: none. */
export function embedderFromEnv(env?: Env): Embedder | null {
  const settings = embeddingsFromEnv(env)
  if (settings.kind === 'off') return null
  if (settings.kind === 'builtin') return new BuiltinEmbedder()
  const { url, model, apiKey, dimensions } = settings
  return new OpenAiEmbedder({ url, model, apiKey, dimensions })
}
