import { api, type ApiClient } from './client'
import { nextPageUrl } from './links'
import type { Memo, MemoOrder, MemoPatch, NewMemo } from './models'

/** Which memos a list shows (`GET /memos` query, api-contract.md "Paging, order and search"). */
export interface MemoQuery {
  archived?: boolean
  /** Words to find in the title or content; empty for no search. */
  q?: string
  order?: MemoOrder
  /** Memos per page, 1 to 200 (server default 50). */
  limit?: number
}

/** One page of memos and the URL of the next, `null` on the last page. */
export interface MemoPage {
  items: Memo[]
  next: string | null
}

export function memosApi(client: ApiClient = api) {
  async function page(path: string, query?: Record<string, string | number | boolean | undefined>): Promise<MemoPage> {
    const { data, headers, url } = await client.requestWithHeaders<Memo[]>(path, { query })
    return { items: Array.isArray(data) ? data : [], next: nextPageUrl(headers.get('Link'), url) }
  }

  return {
    /** The first page of a list: the cursor of the next one, if any, is in `next`. */
    firstPage: ({ archived, q, order, limit }: MemoQuery = {}) =>
      page('/memos', {
        archived: archived ? true : undefined,
        q: q?.trim() ? q.trim() : undefined,
        order,
        limit,
      }),
    /** The page a previous page's `next` named (the server's URL, cursor included). */
    nextPage: (next: string) => page(next),
    get: (id: number) => client.request<Memo>(`/memos/${id}`),
    create: (memo: NewMemo) => client.request<Memo>('/memos', { method: 'POST', body: memo }),
    update: (id: number, patch: MemoPatch) =>
      client.request<Memo>(`/memos/${id}`, { method: 'PATCH', body: patch }),
    remove: (id: number) => client.request<void>(`/memos/${id}`, { method: 'DELETE' }),
  }
}

export const memos = memosApi()
