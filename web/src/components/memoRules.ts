import { i18n } from '@/i18n'

/** Client-side checks mirroring the server's limits (the server checks again). */
export const TITLE_MAX = 200
export const CONTENT_MAX = 100_000

const t = i18n.global.t

export const titleRules = [
  (v: string) => !!v?.trim() || t('memos.enterTitle'),
  (v: string) => (v?.length ?? 0) <= TITLE_MAX || t('memos.atMost', { n: TITLE_MAX }),
]
export const contentRules = [(v: string) => (v?.length ?? 0) <= CONTENT_MAX || t('memos.atMost', { n: CONTENT_MAX })]
