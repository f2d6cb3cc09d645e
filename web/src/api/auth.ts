import { api, type ApiClient } from './client'
import type { Credentials, RegisteredUser, User } from './models'

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
  }
}

export const auth = authApi()
