import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

const api = `http://localhost:${process.env.API_PORT ?? '8000'}`;
const proxied = ['/health', '/metrics', '/content', '/analytics', '/alerts', '/silences', '/openapi.json', '/docs'];

export default defineConfig({
  plugins: [react()],
  base: './',
  server: {
    port: Number(process.env.FRONTEND_PORT ?? 3000),
    strictPort: true,
    proxy: {
      ...Object.fromEntries(proxied.map((p) => [p, { target: api, changeOrigin: true }])),
      '/socket.io': { target: api, ws: true, changeOrigin: true },
    },
  },
  build: {
    outDir: 'dist',
    sourcemap: false,
    chunkSizeWarningLimit: 900,
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
