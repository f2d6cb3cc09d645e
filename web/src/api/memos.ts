import { api, type ApiClient } from './client'
import type { Memo, MemoPatch, NewMemo } from './models'

export function memosApi(client: ApiClient = api) {
  return {
    /** The caller's memos, active ones or (with `archived`) archived ones, by id ascending. */
    list: (archived = false) =>
      client.request<Memo[]>('/memos', { query: archived ? { archived: true } : undefined }),
    get: (id: number) => client.request<Memo>(`/memos/${id}`),
    create: (memo: NewMemo) => client.request<Memo>('/memos', { method: 'POST', body: memo }),
    update: (id: number, patch: MemoPatch) =>
      client.request<Memo>(`/memos/${id}`, { method: 'PATCH', body: patch }),
    remove: (id: number) => client.request<void>(`/memos/${id}`, { method: 'DELETE' }),
  }
}

export const memos = memosApi()
