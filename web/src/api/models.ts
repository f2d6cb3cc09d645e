/**
 * The SPA's names for the API's wire types. Everything the server describes comes from the
 * generated ./types.ts (its OpenAPI document), so a change on the server shows up here as a
 * type error rather than a runtime surprise.
 */
import type { components, paths } from './types'

type Schemas = components['schemas']

/** A memo as the server returns it. Dates are RFC 3339 strings. */
export type Memo = Schemas['Memo']
/** `GET /auth/me`. */
export type User = Schemas['User']
/** Body of `POST /auth/login` and `POST /auth/register`. */
export type Credentials = Schemas['Credentials']
/** `201` body of `POST /auth/register`. */
export type RegisteredUser = Schemas['Registered']
/** One of the caller's logins (`GET /auth/sessions`). */
export type Session = Schemas['Session']
/** Body of `POST /memos` (the server ignores `id` and `user_id`; the SPA never sends them). */
export type NewMemo = Required<Pick<Schemas['NewMemo'], 'title' | 'content'>>
/** Body of `PATCH /memos/{id}`: any subset of the editable fields. */
export type MemoPatch = Partial<Pick<Memo, 'title' | 'content' | 'archived'>>
/** Every error body of the API: `{"msg": "..."}`; validation errors may add `fields`. */
export type ErrorBody = Partial<Schemas['ErrorBody']> & { fields?: Record<string, string> }

/** Body of `POST /auth/password`. */
export type PasswordChange = Schemas['PasswordChange']
/** Body of `DELETE /auth/account`. */
export type AccountDeletion = Schemas['AccountDeletion']
/** `POST /auth/logout-others`: how many other logins were ended. */
export type OthersEnded = Schemas['OthersEnded']

/** `?order=` of `GET /memos` (api-contract.md, "Paging, order and search"). */
export type MemoOrder = NonNullable<NonNullable<paths['/api/memos']['get']['parameters']['query']>['order']>
