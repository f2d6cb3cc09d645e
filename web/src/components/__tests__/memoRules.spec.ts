import { describe, expect, it } from 'vitest'

import { charCount, CONTENT_MAX, contentRules, TITLE_MAX, titleRules } from '@/components/memoRules'

const passes = (rules: ((v: string) => true | string)[], v: string) => rules.every((rule) => rule(v) === true)

describe('memo limits', () => {
  it('count characters as the server does: an emoji is one, not two UTF-16 units', () => {
    expect(charCount('メモ🍣')).toBe(3)
    expect(charCount('')).toBe(0)
  })

  it('take a title or content of the most characters the server takes, in emoji too, and refuse one more', () => {
    expect(passes(titleRules, '🍣'.repeat(TITLE_MAX))).toBe(true)
    expect(passes(titleRules, '🍣'.repeat(TITLE_MAX + 1))).toBe(false)
    expect(passes(contentRules, '🍣'.repeat(CONTENT_MAX))).toBe(true)
    expect(passes(contentRules, 'あ'.repeat(CONTENT_MAX + 1))).toBe(false)
  })
})
