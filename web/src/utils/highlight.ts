/**
 * Splits text into plain and matching parts, so a template can wrap the hits in `<mark>`
 * without ever rendering user text as HTML.
 */
export interface TextPart {
  text: string
  hit: boolean
}

/** The words of a search: the whole text and each whitespace-separated word, longest first. */
export function searchTerms(query: string): string[] {
  const q = query.trim()
  if (!q) return []
  const terms = new Set([q, ...q.split(/\s+/)])
  return [...terms].filter(Boolean).sort((a, b) => b.length - a.length)
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

function termPattern(terms: readonly string[]): RegExp | null {
  return terms.length ? new RegExp(terms.map(escapeRegExp).join('|'), 'giu') : null
}

/** `text` cut into parts; the parts that match one of `terms` (case-insensitively) are hits. */
export function highlightParts(text: string, terms: readonly string[]): TextPart[] {
  const pattern = termPattern(terms)
  if (!pattern || !text) return text ? [{ text, hit: false }] : []
  const parts: TextPart[] = []
  let last = 0
  for (const match of text.matchAll(pattern)) {
    const start = match.index ?? 0
    if (!match[0]) continue
    if (start > last) parts.push({ text: text.slice(last, start), hit: false })
    parts.push({ text: match[0], hit: true })
    last = start + match[0].length
  }
  if (last < text.length) parts.push({ text: text.slice(last), hit: false })
  return parts
}

/**
 * The part of a (possibly 100,000-character) content that a card shows: the beginning, or,
 * when a search word is further in, a window around its first occurrence, so the hit is visible.
 */
export function excerpt(text: string, terms: readonly string[], length = 400): string {
  if (text.length <= length) return text
  const pattern = termPattern(terms)
  const first = pattern ? text.search(pattern) : -1
  if (first < 0 || first < length * 0.75) return `${text.slice(0, length).trimEnd()}…`
  const start = Math.max(0, first - Math.floor(length / 3))
  const end = Math.min(text.length, start + length)
  return `…${text.slice(start, end).trim()}${end < text.length ? '…' : ''}`
}
