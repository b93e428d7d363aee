// Types for ledger.mjs.
export interface LoadTurn {
  id: string
  sessionId: string
  robotPersonality: string
  userMessage: string
  robotResponse: string
  metadata: Record<string, unknown>
}

export class Ledger {
  acked: Map<string, string>
  unacked: Map<string, string>
  errors: Map<string, number>
  recovered: number
  latencies: number[]
  ack(id: string, sessionId: string, ms?: number): void
  fail(id: string, sessionId: string, code: string): void
  readonly attempts: number
}

export function errorCode(err: unknown): string

export function startTurnLoad(options: {
  writers: number
  sessions: string[]
  write: (turn: LoadTurn) => Promise<unknown>
  ledger: Ledger
  resend?: number
  resendDelayMs?: number
  paceMs?: number
}): { stop(): Promise<unknown> }

export function waitForAcks(ledger: Ledger, count: number, timeoutMs?: number): Promise<void>

export interface LedgerReport {
  acknowledged: number
  unacknowledged: number
  unacknowledgedStored: number
  recovered: number
  stored: number
  lost: string[]
  duplicated: string[]
  unknown: string[]
  wrongSession: string[]
  countMismatch: Array<{ session: string; messageCount: number; rows: number }>
  sessions: number
  errors: Record<string, number>
}

export function verifyLedger(
  query: (text: string, values?: unknown[]) => Promise<Array<Record<string, unknown>>>,
  ledger: Ledger,
  prefix: string,
): Promise<LedgerReport>
