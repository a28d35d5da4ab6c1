import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { Provider } from 'react-redux';
import { makeStore } from './store';
import { LiveFeed } from './live/liveFeed';
import App from './App';

const store = makeStore();
const feed = new LiveFeed(store);
feed.start();
window.addEventListener('beforeunload', () => feed.stop());

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <Provider store={store}>
      <App />
    </Provider>
  </StrictMode>,
);
