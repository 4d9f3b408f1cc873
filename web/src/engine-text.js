// The engine's own words in the page's language. Imported before the engine, so the
// lookup exists when the engine's modules run (see ENGINE_TEXT in vite.config.js).
const node = document.getElementById('webform-config');
const words = node ? (JSON.parse(node.textContent).engineStrings || {}) : {};

globalThis.__cdT = (text) => {
  const key = text.trim();
  const said = words[key];
  if (!said) return text;
  // keep the spaces the engine puts around a word (" Add ")
  return text.replace(key, said);
};
