import type { Pinia } from 'pinia'
import {
  createRouter,
  createWebHistory,
  type RouteLocationRaw,
  type Router,
  type RouterHistory,
  type RouteMeta,
  type RouteRecordRaw,
} from 'vue-router'

import { isApiError, setSessionExpiredHandler } from '@/api/client'
import { useNotifier } from '@/composables/useNotifier'
import { i18n } from '@/i18n'
import { useAuthStore } from '@/stores/auth'
import { safeRedirect } from '@/utils/errors'

declare module 'vue-router' {
  interface RouteMeta {
    /** Only for a logged-in user: others go to the login page and come back after it. */
    requiresAuth?: boolean
    /** Login and sign-up: a logged-in user goes on to the app instead. */
    guestOnly?: boolean
    /** The page's title, a key of the `titles` messages. */
    title?: 'login' | 'signup' | 'memos' | 'archived' | 'account'
  }
}

export type AppRouteName = 'login' | 'signup' | 'memos' | 'archived' | 'account'

export const routes: RouteRecordRaw[] = [
  {
    path: '/login',
    name: 'login',
    component: () => import('@/views/LoginView.vue'),
    meta: { guestOnly: true, title: 'login' },
  },
  {
    path: '/signup',
    name: 'signup',
    component: () => import('@/views/SignupView.vue'),
    meta: { guestOnly: true, title: 'signup' },
  },
  {
    path: '/',
    name: 'memos',
    component: () => import('@/views/MemosView.vue'),
    meta: { requiresAuth: true, title: 'memos' },
  },
  {
    path: '/archived',
    name: 'archived',
    component: () => import('@/views/ArchivedView.vue'),
    meta: { requiresAuth: true, title: 'archived' },
  },
  {
    path: '/account',
    name: 'account',
    component: () => import('@/views/AccountView.vue'),
    meta: { requiresAuth: true, title: 'account' },
  },
  { path: '/:pathMatch(.*)*', redirect: '/' },
]

/** Where the guard sends a visitor who is not logged in. */
export function loginRoute(redirect: string, reason?: 'expired' | 'unreachable' | 'deleted'): RouteLocationRaw {
  const query: Record<string, string> = {}
  if (redirect) query.redirect = redirect
  if (reason) query.reason = reason
  return { name: 'login', query }
}

/** `<title>`: the page's name and the app's, in the app's language. */
export function setDocumentTitle(title: RouteMeta['title']): void {
  if (typeof document === 'undefined') return
  const { t } = i18n.global
  document.title = title ? `${t(`titles.${title}`)} · ${t('app.name')}` : t('app.name')
}

/** Adds the session guard: `meta.requiresAuth` routes need `GET /auth/me` to succeed. */
export function installGuards(router: Router, pinia?: Pinia): void {
  router.beforeEach(async (to) => {
    if (!to.meta.requiresAuth && !to.meta.guestOnly) return true
    const auth = useAuthStore(pinia)
    try {
      await auth.ensureLoaded()
    } catch (e) {
      if (to.meta.requiresAuth) {
        return loginRoute(to.fullPath, isApiError(e) && e.code === 'network' ? 'unreachable' : undefined)
      }
      return true
    }
    if (to.meta.requiresAuth && !auth.isLoggedIn) return loginRoute(to.fullPath)
    if (to.meta.guestOnly && auth.isLoggedIn) return safeRedirect(to.query.redirect)
    return true
  })

  router.afterEach((to) => setDocumentTitle(to.meta.title))
}

/** When a protected API call finds the session gone: forget the user and go to the login page. */
export function installSessionExpiry(router: Router, pinia?: Pinia): void {
  setSessionExpiredHandler(() => {
    const auth = useAuthStore(pinia)
    auth.forget()
    useNotifier().close()
    const current = router.currentRoute.value
    if (current.name === 'login') return
    void router.push(loginRoute(current.fullPath, 'expired'))
  })
}

export function createAppRouter(history: RouterHistory = createWebHistory(import.meta.env.BASE_URL), pinia?: Pinia): Router {
  const router = createRouter({ history, routes })
  installGuards(router, pinia)
  installSessionExpiry(router, pinia)
  return router
}
