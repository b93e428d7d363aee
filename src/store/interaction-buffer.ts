// Buffered writer for interaction events. Events are validated when added, held in memory per tenant,
// and written in batches: one multi-row statement per batch, when a batch is full or after a short
// delay. Memory is bounded: when the buffer is full, add() waits for room or fails at once with a
// BufferFullError (503, Retry-After), never drops. A batch that could not be written because the
// database was unreachable goes back to the head of its queue and is tried again; writes are
// idempotent by event id, so a batch that did commit before its answer was lost is stored once.
// close() (and SIGTERM/SIGINT with flushOnSignals) writes everything before the process exits.
// Tenants share the buffer fairly: while several tenants use it, none may hold more than its share
// (the room divided by the tenants active lately), so one tenant's flood cannot lock the others out.

import { isRetryable } from '../db/retry.js'
import { UnavailableError } from '../errors.js'
import type { SignalName } from '../portable-types.js'
import type { NewInteraction } from './interactions.js'
import { LIMITS } from './limits.js'
import type { InteractionInput } from './types.js'

/**
 * Where the buffer writes: the narrow part of a store it needs (store.interactionBuffer() makes one).
 * Events are validated once, by add(); write() receives rows already checked.
 */
export interface InteractionSink {
  /** The tenant of events added without one. */
  readonly defaultTenant: string
  /** A tenant id as stored; throws a ValidationError for a bad one. */
  tenant(id: string): string
  /** One event checked and normalised; throws a ValidationError naming `at` and the field. */
  validate(input: InteractionInput, at: string): NewInteraction
  /** Writes one tenant's rows in one statement; resolves with how many were new (ids not stored yet). */
  write(tenant: string, rows: NewInteraction[]): Promise<number>
}

export interface InteractionBufferOptions {
  /** Events per statement; a tenant's queue is written as soon as it holds this many. Default 500. */
  maxBatch?: number
  /** Longest an event waits for its batch to fill before it is written (ms). Default 50. */
  flushDelayMs?: number
  /** Most events held in memory, queued or being written. Default 20,000. */
  maxPending?: number
  /** When full: 'wait' for room (up to waitTimeoutMs), or 'reject' at once. Default 'wait'. */
  whenFull?: 'wait' | 'reject'
  /** Longest add() waits for room in 'wait' mode before it fails with BufferFullError (ms). Default 10,000. */
  waitTimeoutMs?: number
  /**
   * How long a tenant counts as active after its last add() (ms), for the fair shares: each active
   * tenant may hold maxPending divided by the number of active tenants (but at least 1000 events, one
   * request's worth, or half of maxPending if that is less). Default 10,000.
   */
  tenantActiveMs?: number
  /** Batches written at once. Default 2. */
  concurrency?: number
  /** Pause before a batch that failed on the connection is tried again (ms). Default 500. */
  retryPauseMs?: number
  /** Writes everything and stops on these signals (true: SIGTERM and SIGINT). Default off. */
  flushOnSignals?: boolean | SignalName[]
  /**
   * Told about every failed batch. `willRetry` false means the database refused these events for a
   * reason of their own (they are counted in stats().rejected and not written).
   */
  onError?: (err: unknown, info: { tenant: string; events: number; willRetry: boolean }) => void
}

export interface InteractionBufferStats {
  /** Events in memory: queued plus being written. */
  pending: number
  /** Events written (including replays of ids already stored). */
  written: number
  /** Events newly stored. */
  inserted: number
  /** Events the database refused for a reason of their own. */
  rejected: number
  /** Batches that failed on the connection and were queued again. */
  retriedBatches: number
  /** add() calls refused because the buffer was full (or the tenant's share of it). */
  fullRefusals: number
  /** Of those, refused because the tenant held its whole share while the buffer still had room. */
  shareRefusals: number
}

/** The buffer holds as many events as it may: retry after the given seconds. HTTP 503 + Retry-After. */
export class BufferFullError extends UnavailableError {
  constructor(message: string, retryAfterSeconds: number) {
    super(message, { retryAfterSeconds })
    this.name = 'BufferFullError'
  }
}

/** Events of one add() call, to know when everything added before a flush() has settled. */
interface Chunk {
  seq: number
  remaining: number
}

interface Item {
  row: NewInteraction
  chunk: Chunk
}

interface RoomWaiter {
  n: number
  tenant: string
  /** granted: room was reserved for it (settle); false: it is told to give up (close). */
  wake: (granted: boolean) => void
}

interface Queue {
  items: Item[]
  /** When the oldest queued item arrived (ms). */
  since: number
  /**
   * Batches formed already (the halves of a refused batch, a batch to try again): written first, each
   * as it is. Put back among `items` they would be taken again as one batch of the same size.
   */
  formed: Item[][]
}

export class InteractionBuffer {
  private readonly opts: Required<Omit<InteractionBufferOptions, 'onError' | 'flushOnSignals'>>
  private readonly queues = new Map<string, Queue>()
  private readonly tenants = new Map<string, string>()
  private readonly chunks = new Set<Chunk>()
  private readonly roomWaiters: RoomWaiter[] = []
  /** Events each tenant holds: queued, being written, or room reserved for it. */
  private readonly held = new Map<string, number>()
  /** When each tenant last called add() (ms), to count the tenants sharing the buffer. */
  private readonly lastSeen = new Map<string, number>()
  private flushWaiters: Array<{ seq: number; resolve: () => void }> = []
  private nextSeq = 0
  private inflight = 0
  private pendingCount = 0
  /** Room promised to woken add() calls that have not queued their events yet. */
  private reserved = 0
  private draining = 0
  private timer: NodeJS.Timeout | undefined
  private timerAt = 0
  private pausedUntil = 0
  private closing: Promise<void> | undefined
  private readonly signalHandlers: Array<[SignalName, () => void]> = []
  private readonly counters = {
    written: 0,
    inserted: 0,
    rejected: 0,
    retriedBatches: 0,
    fullRefusals: 0,
    shareRefusals: 0,
  }

  constructor(
    private readonly sink: InteractionSink,
    private readonly options: InteractionBufferOptions = {},
  ) {
    this.opts = {
      maxBatch: positive('maxBatch', options.maxBatch, 500),
      flushDelayMs: nonNegative('flushDelayMs', options.flushDelayMs, 50),
      maxPending: positive('maxPending', options.maxPending, 20_000),
      whenFull: options.whenFull ?? 'wait',
      waitTimeoutMs: nonNegative('waitTimeoutMs', options.waitTimeoutMs, 10_000),
      concurrency: positive('concurrency', options.concurrency, 2),
      tenantActiveMs: nonNegative('tenantActiveMs', options.tenantActiveMs, 10_000),
      retryPauseMs: nonNegative('retryPauseMs', options.retryPauseMs, 500),
    }
    if (options.flushOnSignals) {
      const signals: SignalName[] =
        options.flushOnSignals === true ? ['SIGTERM', 'SIGINT'] : options.flushOnSignals
      for (const signal of signals) this.onSignal(signal)
    }
  }

  /**
   * Validates and queues events for `tenant` (default: the store's). Resolves once they are in the
   * buffer, not yet written: call flush() or close() to wait for the database. Throws a
   * ValidationError naming the field, a BufferFullError when there is no room, or an UnavailableError
   * after close().
   */
  async add(
    events: InteractionInput[],
    tenant: string = this.sink.defaultTenant,
  ): Promise<{ accepted: number }> {
    if (this.closing) throw new UnavailableError('the interaction buffer is shutting down; retry later')
    const tenantId = this.tenant(tenant)
    if (!Array.isArray(events)) throw new TypeError('events must be an array')
    const rows = events.map((e, i) => this.sink.validate(e, `events[${i}]`))
    if (rows.length === 0) return { accepted: 0 }
    if (rows.length > this.opts.maxPending) {
      throw new RangeError(`at most ${this.opts.maxPending} events fit in the buffer at once`)
    }
    this.lastSeen.set(tenantId, Date.now())
    // First come, first served: while anyone waits for room, newcomers wait behind them.
    if (
      this.roomWaiters.length > 0 ||
      this.used() + rows.length > this.opts.maxPending ||
      this.heldBy(tenantId) + rows.length > this.share(tenantId)
    ) {
      await this.room(rows.length, tenantId)
      this.unreserve(rows.length, tenantId)
    }
    if (this.closing) throw new UnavailableError('the interaction buffer is shutting down; retry later')
    this.held.set(tenantId, this.heldBy(tenantId) + rows.length)
    const chunk: Chunk = { seq: ++this.nextSeq, remaining: rows.length }
    this.chunks.add(chunk)
    let queue = this.queues.get(tenantId)
    if (!queue) {
      queue = { items: [], since: Date.now(), formed: [] }
      this.queues.set(tenantId, queue)
    }
    for (const row of rows) queue.items.push({ row, chunk })
    this.pendingCount += rows.length
    this.pump()
    return { accepted: rows.length }
  }

  /** Resolves when every event added before this call is written (or refused by the database). */
  flush(): Promise<void> {
    const seq = this.nextSeq
    if (this.settledThrough(seq)) return Promise.resolve()
    return new Promise<void>((resolve) => {
      this.draining++
      this.flushWaiters.push({
        seq,
        resolve: () => {
          this.draining--
          resolve()
        },
      })
      this.pump()
    })
  }

  /**
   * Refuses new events, writes everything held, and stops. With `timeoutMs`, fails with an
   * UnavailableError naming how many events are still unwritten when the time is up.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      for (const w of this.roomWaiters.splice(0)) w.wake(false) // they see `closing` and fail
      this.removeSignalHandlers()
      // Once everything is written no timer may keep the process alive.
      const done = this.flush().then(() => this.disarm())
      if (options.timeoutMs === undefined) return done
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new UnavailableError(
                `${this.pendingCount} interaction events were not written within ${options.timeoutMs} ms of shutdown`,
              ),
            ),
          options.timeoutMs,
        )
      })
      try {
        await Promise.race([done, late])
      } finally {
        clearTimeout(timer)
      }
    })()
    return this.closing
  }

  get pending(): number {
    return this.pendingCount
  }

  get closed(): boolean {
    return this.closing !== undefined
  }

  stats(): InteractionBufferStats {
    return { pending: this.pendingCount, ...this.counters }
  }

  private used(): number {
    return this.pendingCount + this.reserved
  }

  private heldBy(tenant: string): number {
    return this.held.get(tenant) ?? 0
  }

  /**
   * How many events `tenant` may hold: the room divided by the tenants active lately (it included),
   * but never less than one full request (1000 events, or half the room). A tenant alone gets it all.
   */
  private share(tenant: string): number {
    const since = Date.now() - this.opts.tenantActiveMs
    const active = new Set<string>([tenant, ...this.held.keys()])
    for (const [t, at] of this.lastSeen) {
      if (at >= since) active.add(t)
      else if (!this.held.has(t)) this.lastSeen.delete(t) // the map keeps only recent tenants
    }
    // One request of events (1000) must fit a share, or a busy buffer could refuse it for good.
    const floor = Math.min(Math.floor(this.opts.maxPending / 2), LIMITS.eventsPerBatchMax)
    return Math.max(floor, Math.floor(this.opts.maxPending / active.size))
  }

  private reserve(n: number, tenant: string): void {
    this.reserved += n
    this.held.set(tenant, this.heldBy(tenant) + n)
  }

  private unreserve(n: number, tenant: string): void {
    this.reserved -= n
    const left = this.heldBy(tenant) - n
    if (left > 0) this.held.set(tenant, left)
    else this.held.delete(tenant)
  }

  /** Whether a waiter's events fit now: in the buffer and within its tenant's share. */
  private fits(n: number, tenant: string): boolean {
    return this.used() + n <= this.opts.maxPending && this.heldBy(tenant) + n <= this.share(tenant)
  }

  /** The tenant id, checked once per id seen. */
  private tenant(tenant: string): string {
    let id = this.tenants.get(tenant)
    if (id === undefined) {
      id = this.sink.tenant(tenant)
      if (this.tenants.size > 10_000) this.tenants.clear() // a cache, not a registry
      this.tenants.set(tenant, id)
    }
    return id
  }

  /** Waits until `n` more events of `tenant` fit, or fails (reject mode, timeout, close). */
  private room(n: number, tenant: string): Promise<void> {
    const retryAfter = Math.max(1, Math.ceil((this.opts.flushDelayMs + this.opts.retryPauseMs) / 1000))
    const full = () => {
      this.counters.fullRefusals++
      const share = this.share(tenant)
      if (this.heldBy(tenant) + n > share && this.used() + n <= this.opts.maxPending) {
        this.counters.shareRefusals++
        return new BufferFullError(
          `this tenant's share of the interaction buffer is full (${this.heldBy(tenant)} of ${share} events waiting to be written, shared with other tenants); retry later`,
          retryAfter,
        )
      }
      return new BufferFullError(
        `the interaction buffer is full (${this.pendingCount} of ${this.opts.maxPending} events waiting to be written); retry later`,
        retryAfter,
      )
    }
    if (this.opts.whenFull === 'reject' || this.opts.waitTimeoutMs === 0) return Promise.reject(full())
    return new Promise<void>((resolve, reject) => {
      const waiter: RoomWaiter = {
        n,
        tenant,
        wake: (granted) => {
          clearTimeout(timer)
          if (!this.closing) return resolve()
          if (granted) this.unreserve(n, tenant)
          reject(new UnavailableError('the interaction buffer is shutting down; retry later'))
        },
      }
      const timer = setTimeout(() => {
        const i = this.roomWaiters.indexOf(waiter)
        if (i >= 0) this.roomWaiters.splice(i, 1)
        reject(full())
      }, this.opts.waitTimeoutMs)
      this.roomWaiters.push(waiter)
    })
  }

  /** Starts as many due batches as the concurrency allows; arms the timer for the rest. */
  private pump(): void {
    const now = Date.now()
    if (now < this.pausedUntil) {
      this.arm(this.pausedUntil - now)
      return
    }
    let wait = Number.POSITIVE_INFINITY
    for (const [tenant, queue] of [...this.queues]) {
      if (this.inflight >= this.opts.concurrency) break
      const due =
        queue.formed.length > 0 ||
        queue.items.length >= this.opts.maxBatch ||
        this.draining > 0 ||
        now - queue.since >= this.opts.flushDelayMs
      if (!due) {
        wait = Math.min(wait, queue.since + this.opts.flushDelayMs - now)
        continue
      }
      const batch = queue.formed.shift() ?? queue.items.splice(0, this.opts.maxBatch)
      this.queues.delete(tenant)
      // Round robin: a tenant with more waiting goes to the back of the line.
      if (queue.items.length > 0 || queue.formed.length > 0) {
        this.queues.set(tenant, { items: queue.items, since: now, formed: queue.formed })
      }
      this.inflight++
      void this.write(tenant, batch).finally(() => {
        this.inflight--
        this.pump()
      })
    }
    if (this.queues.size > 0 && wait !== Number.POSITIVE_INFINITY) this.arm(Math.max(0, wait))
  }

  private disarm(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Wakes pump() in `ms`, unless a wake-up is already due sooner. */
  private arm(ms: number): void {
    const at = Date.now() + ms
    if (this.timer && this.timerAt <= at) return
    clearTimeout(this.timer)
    this.timerAt = at
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.pump()
    }, ms)
  }

  private async write(tenant: string, batch: Item[]): Promise<void> {
    try {
      const inserted = await this.sink.write(
        tenant,
        batch.map((i) => i.row),
      )
      this.counters.written += batch.length
      this.counters.inserted += inserted
      this.settle(tenant, batch)
    } catch (err) {
      const connection = isRetryable(err) || err instanceof UnavailableError
      this.options.onError?.(err, { tenant, events: batch.length, willRetry: connection || batch.length > 1 })
      if (connection) {
        // The database is away: keep the events, in order, and try again after a pause.
        this.counters.retriedBatches++
        this.requeue(tenant, batch)
        this.pausedUntil = Date.now() + this.opts.retryPauseMs
      } else if (batch.length > 1) {
        // Something in the batch was refused: halve it until the guilty events stand alone.
        const half = Math.ceil(batch.length / 2)
        this.requeue(tenant, batch.slice(half))
        this.requeue(tenant, batch.slice(0, half)) // in front of the second half: order is kept
      } else {
        this.counters.rejected += batch.length
        this.settle(tenant, batch)
      }
    }
  }

  /** Puts a batch back at the head of its tenant's queue, to be written as it is. */
  private requeue(tenant: string, batch: Item[]): void {
    const queue = this.queues.get(tenant)
    if (queue) queue.formed.unshift(batch)
    else this.queues.set(tenant, { items: [], since: Date.now(), formed: [batch] })
  }

  private settle(tenant: string, batch: Item[]): void {
    this.pendingCount -= batch.length
    const left = this.heldBy(tenant) - batch.length
    if (left > 0) this.held.set(tenant, left)
    else this.held.delete(tenant)
    for (const item of batch) {
      if (--item.chunk.remaining === 0) this.chunks.delete(item.chunk)
    }
    // Wake producers waiting for room, first come first served; one whose tenant holds its whole
    // share lets the others pass (its tenant's later waiters stay behind it).
    const passed = new Set<string>()
    for (let i = 0; i < this.roomWaiters.length; ) {
      const w = this.roomWaiters[i] as RoomWaiter
      if (this.used() + w.n > this.opts.maxPending) break
      if (passed.has(w.tenant) || !this.fits(w.n, w.tenant)) {
        passed.add(w.tenant)
        i++
        continue
      }
      this.roomWaiters.splice(i, 1)
      this.reserve(w.n, w.tenant)
      w.wake(true)
    }
    if (this.flushWaiters.length > 0) {
      const ready = this.flushWaiters.filter((w) => this.settledThrough(w.seq))
      if (ready.length > 0) {
        this.flushWaiters = this.flushWaiters.filter((w) => !ready.includes(w))
        for (const w of ready) w.resolve()
      }
    }
  }

  /** True when every chunk up to `seq` is settled (chunks are kept in seq order). */
  private settledThrough(seq: number): boolean {
    const first = this.chunks.values().next()
    return first.done === true || first.value.seq > seq
  }

  private onSignal(signal: SignalName): void {
    const handler = () => {
      this.close().then(
        () => this.reraise(signal),
        () => this.reraise(signal),
      )
    }
    process.once(signal, handler)
    this.signalHandlers.push([signal, handler])
  }

  /** After flushing, let the signal do what it would have done had we not been listening. */
  private reraise(signal: SignalName): void {
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
  }

  private removeSignalHandlers(): void {
    for (const [signal, handler] of this.signalHandlers.splice(0)) process.removeListener(signal, handler)
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer`)
  return v
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer`)
  return v
}
