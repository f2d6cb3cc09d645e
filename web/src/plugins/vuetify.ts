import 'vuetify/styles'

import { createVuetify } from 'vuetify'
import { aliases, mdi } from 'vuetify/iconsets/mdi-svg'
import { createVueI18nAdapter } from 'vuetify/locale/adapters/vue-i18n'
import { useI18n } from 'vue-i18n'

import { i18n } from '@/i18n'

type AdapterI18n = Parameters<typeof createVueI18nAdapter>[0]['i18n']

/**
 * Components and directives are imported on demand by vite-plugin-vuetify. The colours are
 * chosen for WCAG AA contrast in both themes (checked by axe-core in the e2e suite): white text
 * on the light theme's colours, near-black text on the dark theme's lighter ones.
 */
export const vuetify = createVuetify({
  icons: { defaultSet: 'mdi', aliases, sets: { mdi } },
  // The adapter is typed for an untyped instance; ours only adds the message schema.
  locale: { adapter: createVueI18nAdapter({ i18n: i18n as unknown as AdapterI18n, useI18n }) },
  theme: {
    defaultTheme: 'system',
    themes: {
      light: {
        dark: false,
        // Vuetify's 0.60 leaves labels and hints at 4.3:1 on white; 0.75 makes them AA.
        variables: { 'medium-emphasis-opacity': 0.75 },
        colors: {
          primary: '#1867c0',
          secondary: '#5c6bc0',
          error: '#b00020',
          success: '#2e7d32',
          info: '#0d61a8',
          warning: '#8a5300',
          highlight: '#fff176',
          'on-highlight': '#000000',
        },
      },
      dark: {
        dark: true,
        variables: { 'medium-emphasis-opacity': 0.75 },
        colors: {
          background: '#121212',
          surface: '#1e1e1e',
          primary: '#90caf9',
          secondary: '#b39ddb',
          error: '#ff8a80',
          success: '#81c784',
          info: '#81d4fa',
          warning: '#ffcc80',
          highlight: '#6d5200',
          'on-highlight': '#ffffff',
          'on-primary': '#000000',
          'on-secondary': '#000000',
          'on-error': '#000000',
          'on-success': '#000000',
          'on-info': '#000000',
          'on-warning': '#000000',
        },
      },
    },
  },
  defaults: {
    VTextField: { variant: 'outlined', density: 'comfortable' },
    VTextarea: { variant: 'outlined', density: 'comfortable' },
  },
})
