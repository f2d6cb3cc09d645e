import { createPinia } from 'pinia'
import { createApp } from 'vue'

import App from './App.vue'
import { vuetify } from './plugins/vuetify'
import { createAppRouter } from './router'

const app = createApp(App)
const pinia = createPinia()
app.use(pinia)
app.use(createAppRouter(undefined, pinia))
app.use(vuetify)
app.mount('#app')
