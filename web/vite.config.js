// Builds the web-form page's script into the Python package (scripts/build_webforms.sh).
// The built files are committed, so `pip install` needs no Node.
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';
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

// The server sends these as they are (Content-Encoding br or gzip) when the browser
// accepts them: about a quarter of the bytes on a slow connection. Both encoders are
// deterministic (no time stamp), so a rebuild gives the same files.
function precompress() {
  let outDir = '';
  return {
    name: 'citizendata-precompress',
    configResolved(config) { outDir = config.build.outDir; },
    closeBundle() {
      for (const name of readdirSync(outDir)) {
        if (!/\.(js|json|svg)$/.test(name)) continue;
        const data = readFileSync(join(outDir, name));
        writeFileSync(join(outDir, `${name}.gz`), gzipSync(data, { level: 9 }));
        writeFileSync(join(outDir, `${name}.br`), brotliCompressSync(data, { params: {
          [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }));
      }
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
  plugins: [dropEmbeddedFonts(), precompress()],
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
