/** Wire types of the memo API (see shared/spec/api-contract.md). */

/** A memo as the server returns it. Dates are RFC 3339 strings. */
export interface Memo {
  id: number
  title: string
  content: string
  archived: boolean
  created_at: string
  updated_at: string
}

/** `GET /auth/me`. */
export interface User {
  id: number
  user_name: string
  department: string | null
  manager_role_attached: boolean
}

/** Body of `POST /auth/login` and `POST /auth/register`. */
export interface Credentials {
  user_name: string
  password: string
}

/** `201` body of `POST /auth/register`. */
export interface RegisteredUser {
  id: number
  user_name: string
}

/** Body of `POST /memos`. */
export interface NewMemo {
  title: string
  content: string
}

/** Body of `PATCH /memos/{id}`: any subset of the editable fields. */
export type MemoPatch = Partial<NewMemo & { archived: boolean }>

/** Every error body of the API: `{"msg": "..."}`, validation errors may add `fields`. */
export interface ErrorBody {
  msg?: string
  fields?: Record<string, string>
}
