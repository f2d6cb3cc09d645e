import { flushPromises, mount } from '@vue/test-utils'
import { createPinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createMemoryHistory } from 'vue-router'
import { applyLocale, i18n } from '@/i18n'
import { vuetify } from '@/plugins/vuetify'

import { createAppRouter } from '@/router'
import { clearCookies, json, stubFetch, type Handler } from '@/test/fetchStub'
import LoginView from '@/views/LoginView.vue'

async function mountLogin(path: string, handler: Handler) {
  const stub = stubFetch(handler)
  vi.stubGlobal('fetch', stub.fetch)
  const pinia = createPinia()
  const router = createAppRouter(createMemoryHistory(), pinia)
  await router.push(path)
  await router.isReady()
  const wrapper = mount(LoginView, { global: { plugins: [pinia, router, i18n, vuetify] }, attachTo: document.body })
  return { wrapper, router, stub }
}

async function fillAndSubmit(wrapper: Awaited<ReturnType<typeof mountLogin>>['wrapper'], name: string, password: string) {
  await wrapper.find('[data-testid=login-username] input').setValue(name)
  await wrapper.find('[data-testid=login-password] input').setValue(password)
  await wrapper.find('form').trigger('submit')
  await flushPromises()
  await vi.waitFor(() => expect(wrapper.find('[data-testid=login-submit]').classes()).not.toContain('v-btn--loading'), {
    timeout: 10_000,
  })
}

beforeEach(() => applyLocale('en'))

afterEach(() => {
  vi.unstubAllGlobals()
  clearCookies()
  document.body.innerHTML = ''
})

describe('LoginView', () => {
  it('shows an understandable message for a wrong password', async () => {
    const { wrapper } = await mountLogin('/login', (req) =>
      req.path === '/api/auth/login' ? json({ msg: 'Wrong login id or password.' }, 401) : json({ msg: 'Missing cookie' }, 401),
    )

    await fillAndSubmit(wrapper, 'alice', 'wrong-password')

    expect(wrapper.find('[data-testid=login-error]').text()).toContain('Wrong user name or password.')
    expect((wrapper.find('[data-testid=login-password] input').element as HTMLInputElement).value).toBe('')
  })

  it('says so when the server is unreachable', async () => {
    const { wrapper } = await mountLogin('/login', () => Promise.reject(new TypeError('Failed to fetch')))

    await fillAndSubmit(wrapper, 'alice', 'password1')

    expect(wrapper.find('[data-testid=login-error]').text()).toContain("Can't reach the server")
  })

  it('logs in and returns to the redirect target', async () => {
    let session = false
    const { wrapper, router, stub } = await mountLogin('/login?redirect=/archived', (req) => {
      if (req.path === '/api/auth/login') {
        session = true
        return json({ msg: 'ok' })
      }
      if (!session) return json({ msg: 'Missing cookie "access_token_cookie"' }, 401)
      return json({ id: 1, user_name: 'alice', department: null, manager_role_attached: false })
    })
    stub.calls.length = 0

    await fillAndSubmit(wrapper, ' alice ', 'password1')

    expect(stub.calls[0]).toMatchObject({ method: 'POST', path: '/api/auth/login', body: { user_name: 'alice', password: 'password1' } })
    await vi.waitFor(() => expect(router.currentRoute.value.fullPath).toBe('/archived'), { timeout: 10_000 })
  })

  it('explains why the user is here after the session expired', async () => {
    const { wrapper } = await mountLogin('/login?redirect=/&reason=expired', () => json({}, 401))

    expect(wrapper.find('[data-testid=login-notice]').text()).toContain('Your session has expired')
  })

  it('does not submit empty fields', async () => {
    const { wrapper, stub } = await mountLogin('/login', () => json({}, 401))
    stub.calls.length = 0

    await wrapper.find('form').trigger('submit')
    await flushPromises()

    expect(stub.calls).toHaveLength(0)
    expect(wrapper.text()).toContain('Enter your user name.')
  })
})
