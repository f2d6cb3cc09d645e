import { i18n } from '@/i18n'

/** Client-side checks mirroring the server's limits (the server checks again). */
export const TITLE_MAX = 200
export const CONTENT_MAX = 100_000

const t = i18n.global.t

/**
 * Characters as the server counts them (Unicode code points), not UTF-16 units: an emoji is
 * one character, so a memo the server takes is never refused, nor cut by the browser.
 */
export function charCount(value: string | null | undefined): number {
  let n = 0
  for (const _ of value ?? '') n++
  return n
}

export const titleRules = [
  (v: string) => !!v?.trim() || t('memos.enterTitle'),
  (v: string) => charCount(v) <= TITLE_MAX || t('memos.atMost', { n: TITLE_MAX }),
]
export const contentRules = [(v: string) => charCount(v) <= CONTENT_MAX || t('memos.atMost', { n: CONTENT_MAX })]
