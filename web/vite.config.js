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

// Drafts reopen through the engine's own "restore" mode (FormInstance mode 'restore',
// made for drafts: the instance keeps its instanceID and the questions behave as in a new
// form). The Vue component of 0.22 offers only "edit" (which adds a deprecatedID and shows
// every geopoint as a map); this patch lets `editInstance: { restoreData: [FormData] }`
// reach restoreInstance. The build fails if the engine's code no longer matches.
const LOAD_EDIT = 'const rA = resolvableFormInstanceInput(tA.editInstance), oA = await AA.editInstance(rA, nA);';
const LOAD_RESTORE = 'const oA = tA.editInstance.restoreData ? await AA.restoreInstance({ data: tA.editInstance.restoreData }, nA) : await AA.editInstance(resolvableFormInstanceInput(tA.editInstance), nA);';

// The engine's own words (0.22 has no translations): each literal is routed through
// globalThis.__cdT (web/src/engine-text.js), which answers it in the page's language.
const T = (s) => `globalThis.__cdT(${JSON.stringify(s)})`;
const ENGINE_TEXT = [
  ['label: "Send"', `label: ${T('Send')}`],
  ['createTextVNode(" Add ", -1)', `createTextVNode(${T(' Add ')}, -1)`],
  ['label: "Remove"', `label: ${T('Remove')}`],
  ['label: "Cancel"', `label: ${T('Cancel')}`],
  ['label: "Save location"', `label: ${T('Save location')}`],
  ['label: "Change language"', `label: ${T('Change language')}`],
  ['createElementVNode("span", null, "Get location", -1)', `createElementVNode("span", null, ${T('Get location')}, -1)`],
  ['createElementVNode("span", null, "Take picture", -1)', `createElementVNode("span", null, ${T('Take picture')}, -1)`],
  ['createElementVNode("span", null, "Choose image", -1)', `createElementVNode("span", null, ${T('Choose image')}, -1)`],
  ['QA === 1 ? "1 question with error." : `${QA} questions with errors.`',
    `QA === 1 ? ${T('1 question with error.')} : ${T('{n} questions with errors.')}.replace("{n}", QA)`],
  ['"Location unavailable. Enable GPS and browser permissions, then restart the form to try again."',
    T('Location unavailable. Enable GPS and browser permissions, then restart the form to try again.')],
  ['constraintMsg: "Condition not satisfied: constraint"',
    `get constraintMsg() { return ${T('Condition not satisfied: constraint')}; }`],
  ['requiredMsg: "Condition not satisfied: required"',
    `get requiredMsg() { return ${T('Condition not satisfied: required')}; }`],
];

function patchEngine() {
  return {
    name: 'citizendata-patch-engine',
    transform(code, id) {
      if (!id.includes('@getodk/web-forms/dist/') || !code.includes('loadFormState')) return null;
      let out = code;
      for (const [from, to] of [[LOAD_EDIT, LOAD_RESTORE], ...ENGINE_TEXT]) {
        if (!out.includes(from)) {
          throw new Error(`web-forms: the engine's code changed; update the patch for ${from}`);
        }
        out = out.split(from).join(to);
      }
      return { code: out, map: null };
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
  plugins: [patchEngine(), dropEmbeddedFonts(), precompress()],
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
