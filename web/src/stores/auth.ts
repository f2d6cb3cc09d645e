import { defineStore } from 'pinia'
import { computed, ref } from 'vue'

import { auth as authApi } from '@/api/auth'
import { isApiError } from '@/api/client'
import type { Credentials, User } from '@/api/models'

/**
 * The session as the SPA knows it. The tokens themselves live in HttpOnly cookies that this
 * code never sees; nothing goes into localStorage.
 */
export const useAuthStore = defineStore('auth', () => {
  const user = ref<User | null>(null)
  /** The session has been checked with the server since the page loaded. */
  const loaded = ref(false)
  const isLoggedIn = computed(() => user.value !== null)
  let pending: Promise<void> | null = null

  /**
   * Asks the server who is logged in (`GET /auth/me`, refreshing the access token if needed),
   * once per page load. A network error leaves the session unknown, so the next call retries.
   */
  function ensureLoaded(): Promise<void> {
    if (loaded.value) return Promise.resolve()
    if (!pending) {
      pending = (async () => {
        try {
          user.value = await authApi.me({ notifySessionExpired: false })
          loaded.value = true
        } catch (e) {
          user.value = null
          if (isApiError(e) && e.code === 'network') throw e
          loaded.value = true
        }
      })().finally(() => {
        pending = null
      })
    }
    return pending
  }

  async function login(credentials: Credentials): Promise<void> {
    await authApi.login(credentials)
    user.value = await authApi.me()
    loaded.value = true
  }

  /** Creates the account; it does not log in. */
  async function register(credentials: Credentials): Promise<void> {
    await authApi.register(credentials)
  }

  /** Logs out on the server (best effort) and forgets the user. */
  async function logout(): Promise<void> {
    try {
      await authApi.logout()
    } finally {
      forget()
    }
  }

  /** Changes the password; the server ends every other login and keeps this one. */
  async function changePassword(currentPassword: string, newPassword: string): Promise<void> {
    await authApi.changePassword({ current_password: currentPassword, new_password: newPassword })
  }

  /** Deletes the account and everything in it on the server, then forgets the user here. */
  async function deleteAccount(password: string): Promise<void> {
    await authApi.deleteAccount({ password })
    forget()
  }

  /** Forgets the user locally, e.g. when the session expired. */
  function forget(): void {
    user.value = null
    loaded.value = true
  }

  return { user, loaded, isLoggedIn, ensureLoaded, login, register, logout, changePassword, deleteAccount, forget }
})
