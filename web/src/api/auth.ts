import { api, type ApiClient } from './client'
import type { AccountDeletion, Credentials, OthersEnded, PasswordChange, RegisteredUser, Session, User } from './models'

export function authApi(client: ApiClient = api) {
  return {
    /** `POST /auth/register`: 201, or 409 when the name is taken, 422 when invalid. */
    register: (credentials: Credentials) =>
      client.request<RegisteredUser>('/auth/register', { method: 'POST', body: credentials, auth: false }),

    /** `POST /auth/login`: sets the session cookies; 401 on a wrong name or password. */
    login: (credentials: Credentials) =>
      client.request<unknown>('/auth/login', { method: 'POST', body: credentials, auth: false }),

    /** `POST /auth/logout`: revokes the token and clears the cookies. */
    logout: () => client.request<unknown>('/auth/logout', { method: 'POST', notifySessionExpired: false }),

    /** `GET /auth/me`. Throws a `SessionExpiredError` when there is no usable session. */
    me: (options: { notifySessionExpired?: boolean } = {}) => client.request<User>('/auth/me', options),

    /** `GET /auth/sessions`: the caller's logins; `current` marks this browser's. */
    sessions: () => client.request<Session[]>('/auth/sessions'),

    /** `DELETE /auth/sessions/{id}`: that login's tokens stop working; 404 when already gone. */
    endSession: (id: string) =>
      client.request<void>(`/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' }),

    /** `POST /auth/logout-others`: every other login ends in one call; this one stays. */
    endOtherSessions: () =>
      client.request<OthersEnded>('/auth/logout-others', { method: 'POST' }),

    /** `POST /auth/password`: every other login ends; this one gets new cookies. 401 wrong password. */
    changePassword: (change: PasswordChange) =>
      client.request<unknown>('/auth/password', { method: 'POST', body: change, passwordInBody: true }),

    /** `DELETE /auth/account`: the user, their memos and logins are gone; cookies cleared. */
    deleteAccount: (deletion: AccountDeletion) =>
      client.request<void>('/auth/account', {
        method: 'DELETE',
        body: deletion,
        passwordInBody: true,
        notifySessionExpired: false,
      }),
  }
}

export const auth = authApi()
