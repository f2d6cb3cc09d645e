/**
 * Reads the `Link` header (RFC 8288) the way the API uses it for paging, as GitHub's API does:
 * `Link: </api/memos?cursor=...>; rel="next"`.
 */

/** Each `rel` of a `Link` header value, with its target as written (possibly relative). */
export function parseLinkHeader(value: string | null): Map<string, string> {
  const links = new Map<string, string>()
  if (!value) return links
  // A link-value is `<URI-Reference>` then its `; param=value` pairs, up to the next link.
  const linkValue = /<([^>]*)>([^<]*)/g
  for (const match of value.matchAll(linkValue)) {
    const target = match[1] ?? ''
    const params = match[2] ?? ''
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^;,\s]*))/i.exec(params)
    const rels = (rel?.[1] ?? rel?.[2] ?? '').toLowerCase().split(/\s+/).filter(Boolean)
    for (const r of rels) if (!links.has(r)) links.set(r, target)
  }
  return links
}

/**
 * The absolute URL of the `next` page, resolved against the URL of the page that named it.
 * `null` when there is no next page, or when the link leaves the API's origin (never followed
 * with the user's cookies).
 */
export function nextPageUrl(linkHeader: string | null, requestUrl: string): string | null {
  const target = parseLinkHeader(linkHeader).get('next')
  if (target === undefined) return null
  try {
    const next = new URL(target, requestUrl)
    return next.origin === new URL(requestUrl).origin ? next.href : null
  } catch {
    return null
  }
}
