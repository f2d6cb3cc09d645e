import { describe, expect, it } from 'vitest'
import { ref } from 'vue'

import { createApiClient } from '@/api/client'
import { memosApi } from '@/api/memos'
import type { Memo } from '@/api/models'
import { PAGE_SIZE, useMemoList } from '@/composables/useMemoList'
import { deferred, empty, json, stubFetch, type SeenRequest } from '@/test/fetchStub'

function memo(id: number, patch: Partial<Memo> = {}): Memo {
  return { id, title: `memo ${id}`, content: '', archived: false, created_at: 'x', updated_at: 'x', ...patch }
}

function page(items: Memo[], next?: string): Response {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' }
  if (next) headers.Link = `<${next}>; rel="next"`
  return new Response(JSON.stringify(items), { headers })
}

/** A server of `count` memos, newest edit first, `size` a page, with opaque-looking cursors. */
function pagedServer(count: number, size: number) {
  const all = Array.from({ length: count }, (_, i) => memo(count - i))
  return (req: SeenRequest) => {
    const url = new URL(req.url, 'http://h.test')
    const start = Number(url.searchParams.get('cursor') ?? 0)
    const items = all.slice(start, start + size)
    const more = start + size < all.length
    return page(items, more ? `/api/memos?cursor=${start + size}` : undefined)
  }
}

function listWith(handler: (req: SeenRequest) => Response | Promise<Response>, archived = false, query = ref('')) {
  const stub = stubFetch(handler)
  const list = useMemoList({ archived, query, api: memosApi(createApiClient({ fetch: stub.fetch })) })
  return { list, stub }
}

describe('useMemoList', () => {
  it('loads the most recently edited page first and the next ones on demand, each memo once', async () => {
    const { list, stub } = listWith(pagedServer(7, 3))

    await list.load()
    expect(list.items.value.map((m) => m.id)).toEqual([7, 6, 5])
    expect(list.hasMore.value).toBe(true)
    const first = new URL(stub.calls[0]!.url, 'http://h.test')
    expect(first.searchParams.get('order')).toBe('-updated_at')
    expect(first.searchParams.get('limit')).toBe(String(PAGE_SIZE))

    await list.loadMore()
    await list.loadMore()
    expect(list.items.value.map((m) => m.id)).toEqual([7, 6, 5, 4, 3, 2, 1])
    expect(list.hasMore.value).toBe(false)

    await list.loadMore() // nothing more to ask for
    expect(stub.calls).toHaveLength(3)
  })

  it('asks for one next page at a time', async () => {
    const gate = deferred<Response>()
    const { list, stub } = listWith((req) => (req.url.includes('cursor') ? gate.promise : page([memo(2)], '/api/memos?cursor=1')))
    await list.load()

    const a = list.loadMore()
    const b = list.loadMore()
    gate.resolve(page([memo(1)]))
    await Promise.all([a, b])

    expect(stub.calls).toHaveLength(2)
    expect(list.items.value.map((m) => m.id)).toEqual([2, 1])
  })

  it('puts a new memo and an edited one on top, in place, without reloading', async () => {
    const { list, stub } = listWith((req) => {
      if (req.method === 'POST') return json(memo(9, { title: 'new' }), 201)
      if (req.method === 'PATCH') return json(memo(1, { title: 'edited' }))
      return page([memo(3), memo(2), memo(1)])
    })
    await list.load()

    await list.create({ title: 'new', content: '' })
    expect(list.items.value.map((m) => m.id)).toEqual([9, 3, 2, 1])
    await list.update(1, { title: 'edited' })
    expect(list.items.value.map((m) => m.title)).toEqual(['edited', 'new', 'memo 3', 'memo 2'])
    expect(stub.calls.filter((c) => c.method === 'GET')).toHaveLength(1)
  })

  it('drops archived and deleted memos from the active list, and unarchived ones from the archive', async () => {
    const active = listWith((req) => {
      if (req.method === 'PATCH') return json(memo(2, { archived: true }))
      if (req.method === 'DELETE') return empty(204)
      return page([memo(3), memo(2), memo(1)])
    })
    await active.list.load()
    await active.list.update(2, { archived: true })
    await active.list.remove(3)
    expect(active.list.items.value.map((m) => m.id)).toEqual([1])

    const archive = listWith((req) => (req.method === 'PATCH' ? json(memo(5)) : page([memo(5, { archived: true })])), true)
    await archive.list.load()
    await archive.list.update(5, { archived: false })
    expect(archive.list.items.value).toEqual([])
  })

  it('keeps the copy of a memo edited since its page came, when a later page repeats it', async () => {
    const { list } = listWith((req) => {
      if (req.method === 'PATCH') return json(memo(1, { title: 'edited' }))
      return req.url.includes('cursor') ? page([memo(1), memo(0)]) : page([memo(2), memo(1)], '/api/memos?cursor=2')
    })
    await list.load()
    await list.update(1, { title: 'edited' })
    await list.loadMore()
    expect(list.items.value.map((m) => `${m.id}:${m.title}`)).toEqual(['1:edited', '2:memo 2', '0:memo 0'])
  })

  it('searches for the query and ignores an answer to an older one', async () => {
    const query = ref('東京')
    const slow = deferred<Response>()
    const { list, stub } = listWith((req) => {
      const q = new URL(req.url, 'http://h.test').searchParams.get('q')
      return q === '東京' ? slow.promise : page([memo(2, { title: '大阪の天気' })])
    }, false, query)

    const old = list.load()
    query.value = '天気'
    await list.load()
    slow.resolve(page([memo(1, { title: '東京' })]))
    await old

    expect(list.items.value.map((m) => m.title)).toEqual(['大阪の天気'])
    expect(list.loadedQuery.value).toBe('天気')
    expect(stub.calls.map((c) => new URL(c.url, 'http://h.test').searchParams.get('q'))).toEqual(['東京', '天気'])
  })

  it('while searching, shows a new memo only when it matches', async () => {
    const { list } = listWith((req) => {
      const title = (req.body as Memo | undefined)?.title ?? ''
      if (req.method === 'POST') return json(memo(title === 'Tokyo rain' ? 8 : 9, { title }), 201)
      return page([memo(1, { title: 'rain in Osaka' })])
    }, false, ref('RAIN'))
    await list.load()

    await list.create({ title: 'Tokyo rain', content: '' })
    await list.create({ title: 'sunny', content: '' })
    expect(list.items.value.map((m) => m.title)).toEqual(['Tokyo rain', 'rain in Osaka'])
  })

  it('reports a failed page and lets the user retry', async () => {
    let fail = true
    const { list } = listWith(() => (fail ? json({ msg: 'boom' }, 500) : page([memo(1)])))
    await list.load()
    expect(list.loadError.value).toBeTruthy()
    fail = false
    await list.load()
    expect(list.loadError.value).toBeNull()
    expect(list.items.value).toHaveLength(1)
  })

  it('retries a failed next page without dropping the pages already loaded', async () => {
    let fail = true
    const { list } = listWith((req) => {
      if (!req.url.includes('cursor')) return page([memo(3), memo(2)], '/api/memos?cursor=2')
      return fail ? Promise.reject(new TypeError('Failed to fetch')) : page([memo(1)])
    })
    await list.load()
    await list.loadMore()
    expect(list.loadError.value).toBeTruthy()
    expect(list.items.value.map((m) => m.id)).toEqual([3, 2])

    fail = false
    await list.retry()
    expect(list.loadError.value).toBeNull()
    expect(list.items.value.map((m) => m.id)).toEqual([3, 2, 1])
  })

  it('follows empty search pages that name a next one, instead of saying nothing matched', async () => {
    // The server reads a bounded number of memos per call: a rare word's first pages can be empty.
    const pages: Record<string, Response> = {}
    const { list, stub } = listWith((req) => {
      const cursor = new URL(req.url, 'http://h.test').searchParams.get('cursor') ?? '0'
      return pages[cursor] ?? page([])
    }, false, ref('珍しい'))
    pages['0'] = page([], '/api/memos?cursor=1')
    pages['1'] = page([], '/api/memos?cursor=2')
    pages['2'] = page([memo(5, { title: '珍しい言葉' })], '/api/memos?cursor=3')
    pages['3'] = page([], '/api/memos?cursor=4')
    pages['4'] = page([memo(1, { title: 'また珍しい' })])

    await list.load()
    expect(list.loaded.value).toBe(true)
    expect(list.items.value.map((m) => m.id)).toEqual([5])
    expect(list.hasMore.value).toBe(true)
    expect(stub.calls).toHaveLength(3)

    await list.loadMore()
    expect(list.items.value.map((m) => m.id)).toEqual([5, 1])
    expect(list.hasMore.value).toBe(false)
    expect(stub.calls).toHaveLength(5)
  })
})
