import { ref } from 'vue'

import { memos as memosApi } from '@/api/memos'
import type { Memo, MemoPatch, NewMemo } from '@/api/models'
import { describeError } from '@/utils/errors'

/**
 * One list of the user's memos: active ones, or archived ones with `archived = true`.
 * Actions update the list from the server's answer and rethrow errors for the view to report.
 */
export function useMemos(archived: boolean) {
  const items = ref<Memo[]>([])
  const loading = ref(false)
  const loaded = ref(false)
  const loadError = ref<string | null>(null)
  /** Memos with a request in flight, to disable their buttons. */
  const busy = ref<Set<number>>(new Set())

  async function load(): Promise<void> {
    loading.value = true
    loadError.value = null
    try {
      items.value = await memosApi.list(archived)
      loaded.value = true
    } catch (e) {
      loadError.value = describeError(e, 'load')
    } finally {
      loading.value = false
    }
  }

  async function withBusy<T>(id: number, action: () => Promise<T>): Promise<T> {
    busy.value = new Set(busy.value).add(id)
    try {
      return await action()
    } finally {
      const next = new Set(busy.value)
      next.delete(id)
      busy.value = next
    }
  }

  async function create(input: NewMemo): Promise<Memo> {
    const memo = await memosApi.create(input)
    if (memo.archived === archived) items.value = [...items.value, memo]
    return memo
  }

  async function update(id: number, patch: MemoPatch): Promise<Memo> {
    const memo = await withBusy(id, () => memosApi.update(id, patch))
    items.value =
      memo.archived === archived
        ? items.value.map((m) => (m.id === id ? memo : m))
        : items.value.filter((m) => m.id !== id)
    return memo
  }

  async function remove(id: number): Promise<void> {
    await withBusy(id, () => memosApi.remove(id))
    items.value = items.value.filter((m) => m.id !== id)
  }

  return { items, loading, loaded, loadError, busy, load, create, update, remove }
}
