import { createPinia } from 'pinia'
import { createApp } from 'vue'

import App from './App.vue'
import { i18n } from './i18n'
import { vuetify } from './plugins/vuetify'
import { createAppRouter } from './router'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia)
app.use(i18n)
app.use(createAppRouter(undefined, pinia))
app.use(vuetify)
app.mount('#app')
