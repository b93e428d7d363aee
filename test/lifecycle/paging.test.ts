// Pages sized by their text: short rows get full pages, long rows (100,000-character messages) pages
// of a few rows, so one page's memory stays near the target whatever the rows hold.
import { describe, expect, it } from 'vitest'
import { PageSizer, textChars } from '../../src/lifecycle/paging.js'

describe('PageSizer', () => {
  it('starts small, grows to the most rows for short rows, shrinks for long ones', () => {
    const sizer = new PageSizer(2000, 4 * 1024 * 1024)
    expect(sizer.rows).toBe(100)
    sizer.observe(100, 100 * 500) // 500 characters a row: 1,000 bytes
    expect(sizer.rows).toBe(2000)
    sizer.observe(2000, 2000 * 200_000) // two messages of 100,000 characters
    expect(sizer.rows).toBe(10) // 4 MB / 400 kB, at least minRows
    sizer.observe(10, 10 * 20_000)
    expect(sizer.rows).toBe(104)
    sizer.observe(0, 0) // an empty page says nothing
    expect(sizer.rows).toBe(104)
  })

  it('never asks for more than the most rows given, nor fewer than the least', () => {
    const tiny = new PageSizer(7)
    expect(tiny.rows).toBe(7)
    tiny.observe(7, 7 * 1_000_000)
    expect(tiny.rows).toBe(7)
  })

  it('counts the characters of text values', () => {
    expect(textChars([{ a: 'abc', b: 5, c: null, d: 'de' }, { a: '' }])).toBe(5)
  })
})
