// Progress of a long command on stderr: a line redrawn in place on a terminal (rows, rate, and with a
// known total the share done and the time left), plain lines every few seconds otherwise (logs, CI).
import type { WriteStream } from 'node:tty'

export class Progress {
  private readonly tty: boolean
  private readonly started = Date.now()
  private last = 0
  private drawn = false

  constructor(
    private readonly label: string,
    private readonly unit: string,
    private readonly stream: NodeJS.WriteStream | WriteStream = process.stderr,
    /** Plain lines this often when not a terminal (ms); 0: none. */
    private readonly plainEveryMs = 5000,
  ) {
    this.tty = Boolean(stream.isTTY)
    // Plain lines only for a command that runs a while: the first after plainEveryMs.
    if (!this.tty) this.last = this.started
  }

  /** `done` so far; `fraction` of the whole when known (e.g. bytes read of a file). */
  update(done: number, fraction?: number): void {
    const now = Date.now()
    if (now - this.last < (this.tty ? 100 : this.plainEveryMs) || (!this.tty && this.plainEveryMs === 0))
      return
    this.last = now
    const text = this.describe(done, fraction, now)
    if (this.tty) {
      this.stream.write(`\r${text}\x1b[K`)
      this.drawn = true
    } else this.stream.write(`${text}\n`)
  }

  /** Ends the line drawn in place; the caller prints its summary after. */
  finish(): void {
    if (this.drawn) this.stream.write('\r\x1b[K')
  }

  elapsedMs(): number {
    return Date.now() - this.started
  }

  private describe(done: number, fraction: number | undefined, now: number): string {
    const seconds = (now - this.started) / 1000
    const rate = seconds > 0 ? Math.round(done / seconds) : 0
    let text = `${this.label}: ${done.toLocaleString('en-US')} ${this.unit} (${rate.toLocaleString('en-US')}/s)`
    if (fraction !== undefined && fraction > 0) {
      const left = Math.max(0, Math.round(seconds / fraction - seconds))
      const width = 20
      const full = Math.round(Math.min(1, fraction) * width)
      text = `${this.label} [${'#'.repeat(full)}${'-'.repeat(width - full)}] ${Math.floor(fraction * 100)}% ${done.toLocaleString('en-US')} ${this.unit} (${rate.toLocaleString('en-US')}/s, ${left}s left)`
    }
    return text
  }
}
