// Page sizes bounded by bytes as well as rows. A page of rows costs memory in proportion to its text
// (a turn may hold 100,000 characters in each message), so a fixed count of rows would let one page
// of long turns take hundreds of megabytes. After each page the next one is sized so that its text
// comes to about `targetBytes`, never more rows than `maxRows` and never fewer than `minRows`.

export class PageSizer {
  private current: number

  constructor(
    private readonly maxRows: number,
    private readonly targetBytes = 4 * 1024 * 1024,
    private readonly minRows = Math.min(maxRows, 10),
  ) {
    // The first page is small: nothing is known of the rows yet.
    this.current = Math.min(maxRows, 100)
  }

  /** Rows to ask for next. */
  get rows(): number {
    return this.current
  }

  /** Records a page just read: its rows and the characters of their text. */
  observe(rows: number, chars: number): void {
    if (rows === 0) return
    // Characters of JavaScript strings: up to 2 bytes each in memory.
    const perRow = Math.max(1, (2 * chars) / rows)
    this.current = Math.max(this.minRows, Math.min(this.maxRows, Math.floor(this.targetBytes / perRow)))
  }
}

/** Characters of the text values of some rows (what their memory grows with). */
export function textChars(rows: ReadonlyArray<Record<string, unknown>>): number {
  let n = 0
  for (const row of rows)
    for (const value of Object.values(row)) if (typeof value === 'string') n += value.length
  return n
}
