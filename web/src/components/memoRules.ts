/** Client-side checks mirroring the server's limits (the server checks again). */
export const TITLE_MAX = 200
export const CONTENT_MAX = 100_000

export const titleRules = [
  (v: string) => !!v?.trim() || 'Enter a title.',
  (v: string) => (v?.length ?? 0) <= TITLE_MAX || `At most ${TITLE_MAX} characters.`,
]
export const contentRules = [(v: string) => (v?.length ?? 0) <= CONTENT_MAX || `At most ${CONTENT_MAX} characters.`]
