import { describe, expect, it } from 'vitest'

import { excerpt, highlightParts, searchTerms } from '@/utils/highlight'

describe('search highlights', () => {
  it('marks every occurrence of each word, case-insensitively', () => {
    expect(highlightParts('Milk and milk', searchTerms('MILK'))).toEqual([
      { text: 'Milk', hit: true },
      { text: ' and ', hit: false },
      { text: 'milk', hit: true },
    ])
  })

  it('finds a Japanese word inside a sentence without spaces', () => {
    expect(highlightParts('明日の東京の天気予報', searchTerms('天気'))).toEqual([
      { text: '明日の東京の', hit: false },
      { text: '天気', hit: true },
      { text: '予報', hit: false },
    ])
  })

  it('takes regular-expression characters literally, and markup as text', () => {
    expect(highlightParts('a.b <b>x</b> (c)', searchTerms('(c) <b>'))).toEqual([
      { text: 'a.b ', hit: false },
      { text: '<b>', hit: true },
      { text: 'x</b> ', hit: false },
      { text: '(c)', hit: true },
    ])
  })

  it('shows the part of a long memo around the first hit', () => {
    const long = `${'あ'.repeat(5000)}目印${'い'.repeat(5000)}`
    const shown = excerpt(long, searchTerms('目印'), 400)
    expect(shown).toContain('目印')
    expect(shown.length).toBeLessThanOrEqual(402)
    expect(excerpt(long, [], 400)).toBe(`${'あ'.repeat(400)}…`)
  })
})
