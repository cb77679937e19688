import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// `npm run dev` proxies /api to a running `plait server` (PLAIT_API, default http://127.0.0.1:8080).
// `npm run build` writes the production bundle where the Python server serves it from.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../src/plait/api/static",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      "/api": { target: process.env.PLAIT_API ?? "http://127.0.0.1:8080", changeOrigin: false },
    },
  },
});
