// A small deterministic embedder for tests where the model itself is not what is tested: each word
// (lower-cased, a crude plural "s" dropped) adds 1 to one of 64 dimensions chosen by its hash, then
// the vector is normalized. Texts sharing words are close; it can be told to fail, and counts calls.
import { createHash } from 'node:crypto'
import type { Embedder } from '../../src/search/embedders/embedder.js'

export class TestEmbedder implements Embedder {
  readonly dimensions = 64
  calls = 0
  texts: string[] = []
  failWith: Error | undefined
  constructor(readonly model = 'test-bow-64') {}

  async embed(texts: string[]): Promise<number[][]> {
    this.calls++
    if (this.failWith) throw this.failWith
    for (const t of texts) if (t === '') throw new Error('asked to embed an empty string')
    this.texts.push(...texts)
    return texts.map((t) => wordVector(t, this.dimensions))
  }
}

export function wordVector(text: string, dims = 64): number[] {
  const v: number[] = new Array<number>(dims).fill(0)
  for (const raw of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const word = raw.length > 3 && raw.endsWith('s') ? raw.slice(0, -1) : raw
    const h = createHash('sha256').update(word).digest()
    v[(h[0] ?? 0) % dims] = (v[(h[0] ?? 0) % dims] ?? 0) + 1
  }
  if (!v.some((x) => x !== 0)) v[0] = 1
  const norm = Math.hypot(...v)
  return v.map((x) => x / norm)
}
