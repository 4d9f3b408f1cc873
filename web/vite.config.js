// Builds the web-form page's script into the Python package (scripts/build_webforms.sh).
// The built files are committed, so `pip install` needs no Node.
import { defineConfig } from 'vite';

// ODK Web Forms embeds 27 Roboto subsets as base64 @font-face rules (~450 kB, a third of
// what a phone would download); the page uses the system's sans-serif instead.
const EMBEDDED_FONT = /@font-face\{[^{}]*?data:font\/woff[^{}]*?\}/g;

function dropEmbeddedFonts() {
  return {
    name: 'citizendata-drop-embedded-fonts',
    renderChunk(code) {
      if (!code.includes('data:font/woff')) return null;
      return { code: code.replace(EMBEDDED_FONT, ''), map: null };
    },
  };
}

export default defineConfig({
  base: '/static/webforms/',
  publicDir: 'public',
  define: {
    __VUE_OPTIONS_API__: 'true',
    __VUE_PROD_DEVTOOLS__: 'false',
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
  },
  plugins: [dropEmbeddedFonts()],
  build: {
    outDir: '../src/citizendata/server/static/webforms',
    emptyOutDir: true,
    manifest: 'manifest.json',
    sourcemap: false,
    target: 'es2022',
    chunkSizeWarningLimit: 4000,
    rollupOptions: {
      input: { webforms: 'src/main.js' },
      output: {
        entryFileNames: '[name]-[hash].js',
        chunkFileNames: '[name]-[hash].js',
        assetFileNames: '[name]-[hash][extname]',
      },
    },
  },
});
