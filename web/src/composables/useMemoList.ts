import { computed, shallowRef, toValue, type MaybeRefOrGetter } from 'vue'

import { memos as defaultApi, type memosApi } from '@/api/memos'
import type { Memo, MemoPatch, NewMemo } from '@/api/models'
import { describeError } from '@/utils/errors'

/** How many memos a page holds: a screenful or two of cards. */
export const PAGE_SIZE = 30

export interface MemoListOptions {
  archived: boolean
  /** The search text (`?q=`); empty for the whole list. */
  query?: MaybeRefOrGetter<string>
  api?: ReturnType<typeof memosApi>
}

/** Whether `memo` belongs in a list searched for `query` (the server's rule: contains the text). */
export function matchesQuery(memo: Memo, query: string): boolean {
  const q = query.trim().toLocaleLowerCase()
  if (!q) return true
  return memo.title.toLocaleLowerCase().includes(q) || memo.content.toLocaleLowerCase().includes(q)
}

/**
 * One list of the user's memos (active or archived, maybe searched), most recently edited first,
 * loaded a page at a time. Only the pages loaded so far are in memory; the actions change them
 * in place from the server's answer, so nothing is reloaded after a create, edit or delete.
 */
export function useMemoList(options: MemoListOptions) {
  const api = options.api ?? defaultApi
  const archived = options.archived
  const query = () => (toValue(options.query) ?? '').trim()

  const items = shallowRef<Memo[]>([])
  const next = shallowRef<string | null>(null)
  const loading = shallowRef(false)
  const loadingMore = shallowRef(false)
  const loaded = shallowRef(false)
  const loadError = shallowRef<string | null>(null)
  /** The query the loaded pages answer (the field may already show a newer one). */
  const loadedQuery = shallowRef('')
  /** Memos with a request in flight, to disable their buttons. */
  const busy = shallowRef<ReadonlySet<number>>(new Set())
  const hasMore = computed(() => next.value !== null)

  /** Bumped by every (re)load, so an answer to an older query is dropped. */
  let generation = 0

  /**
   * Follows `next` links until `wanted` more memos are loaded or the list ends. A search
   * page may be short, or empty, and still name a next one (the server reads a bounded
   * number of memos per call), so one request is not enough to say that nothing matched.
   * Each page is shown as it arrives; a newer load stops it.
   */
  async function follow(mine: number, url: string | null, wanted: number): Promise<void> {
    let added = 0
    while (url && added < wanted) {
      const page = await api.nextPage(url)
      if (mine !== generation) return
      // A memo edited or created since the first page is already at the top: keep that copy.
      const seen = new Set(items.value.map((m) => m.id))
      const fresh = page.items.filter((m) => !seen.has(m.id))
      if (fresh.length) items.value = [...items.value, ...fresh]
      added += fresh.length
      url = page.next
      next.value = url
    }
  }

  /** Loads the first page again, e.g. for a new search; what was loaded is replaced. */
  async function load(): Promise<void> {
    const mine = ++generation
    const q = query()
    loading.value = true
    loadingMore.value = false
    loadError.value = null
    try {
      const page = await api.firstPage({ archived, q, order: '-updated_at', limit: PAGE_SIZE })
      if (mine !== generation) return
      items.value = page.items
      next.value = page.next
      loadedQuery.value = q
      // An empty search page is not "no match" while a next one is named. (A short page is
      // followed by the list's end coming into view, as the user scrolls.)
      await follow(mine, page.next, page.items.length ? 0 : 1)
      if (mine !== generation) return
      loaded.value = true
    } catch (e) {
      if (mine !== generation) return
      loadError.value = describeError(e, 'load')
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  /** Appends the next page (and the ones after it while they are empty), if there is one and none is on its way. */
  async function loadMore(): Promise<void> {
    const url = next.value
    if (!url || loading.value || loadingMore.value) return
    const mine = generation
    loadingMore.value = true
    loadError.value = null
    try {
      await follow(mine, url, 1)
    } catch (e) {
      if (mine !== generation) return
      loadError.value = describeError(e, 'load')
    } finally {
      if (mine === generation) loadingMore.value = false
    }
  }

  async function withBusy<T>(id: number, action: () => Promise<T>): Promise<T> {
    busy.value = new Set(busy.value).add(id)
    try {
      return await action()
    } finally {
      const rest = new Set(busy.value)
      rest.delete(id)
      busy.value = rest
    }
  }

  /** Puts a memo the server just wrote at the top (it is the most recently edited), or drops it. */
  function placeOnTop(memo: Memo): void {
    const others = items.value.filter((m) => m.id !== memo.id)
    const belongs = memo.archived === archived && matchesQuery(memo, loadedQuery.value)
    items.value = belongs ? [memo, ...others] : others
  }

  async function create(input: NewMemo): Promise<Memo> {
    const memo = await api.create(input)
    placeOnTop(memo)
    return memo
  }

  async function update(id: number, patch: MemoPatch): Promise<Memo> {
    const memo = await withBusy(id, () => api.update(id, patch))
    placeOnTop(memo)
    return memo
  }

  async function remove(id: number): Promise<void> {
    await withBusy(id, () => api.remove(id))
    forget(id)
  }

  /** After a failed page: asks for that page again, keeping what is loaded. */
  function retry(): Promise<void> {
    return loaded.value && next.value ? loadMore() : load()
  }

  /** Drops a memo that the server no longer has (deleted elsewhere). */
  function forget(id: number): void {
    items.value = items.value.filter((m) => m.id !== id)
  }

  return {
    items,
    loading,
    loadingMore,
    loaded,
    loadError,
    loadedQuery,
    busy,
    hasMore,
    load,
    loadMore,
    retry,
    create,
    update,
    remove,
    forget,
  }
}

export type MemoList = ReturnType<typeof useMemoList>
