// Types for serve.mjs.
import type { LoadTurn } from './ledger.mjs'

export interface HttpAnswer {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: unknown
}

export interface ServeProcess {
  pid: number | undefined
  port: number
  base: string
  output(): string
  exit(): { code: number | null; signal: NodeJS.Signals | null } | null
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  request(method: string, path: string, body?: unknown): Promise<HttpAnswer>
  stop(
    signal?: NodeJS.Signals,
    timeoutMs?: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

export function assertBuilt(): void
export function ensureBuilt(): Promise<void>
export function startServe(options: { env: Record<string, string>; logLevel?: string }): Promise<ServeProcess>
export function httpTurnWriter(server: ServeProcess): (turn: LoadTurn) => Promise<unknown>
