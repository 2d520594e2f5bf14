/** The web console: sign in with an API key, then one page per task, chosen by the URL's hash (#/compare). */
import { html, render } from 'htm/preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { apiKey, createFaceproofClient, ok } from '@faceproof/client';
import { AuditPage, CollectionsPage, ComparePage, KeysPage, QualityPage, UsersPage } from './pages.ts';
import { clientFor, ErrorBox, storedKey, storeKey } from './ui.ts';

const PAGES = [
  { path: 'compare', title: 'Compare', Page: ComparePage },
  { path: 'audit', title: 'Audit', Page: AuditPage },
  { path: 'collections', title: 'Collections', Page: CollectionsPage },
  { path: 'users', title: 'Users', Page: UsersPage },
  { path: 'quality', title: 'Detect & quality', Page: QualityPage },
  { path: 'keys', title: 'Keys', Page: KeysPage },
];

const route = () => location.hash.replace(/^#\/?/, '') || 'compare';

function SignIn({ onKey }: { onKey: (key: string) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true); setError(undefined);
    try {
      // Any valid key may read the server's capabilities: a wrong key is told here, not on the first page.
      ok(await createFaceproofClient({ baseUrl: location.origin, auth: apiKey(key.trim()), retry: { attempts: 1 } }).GET('/v1/capabilities'));
      onKey(key.trim());
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  return html`<main id="main" class="sign-in"><h1>Faceproof console</h1>
    <form onSubmit=${submit}>
      <label for="api-key">API key</label>
      <input id="api-key" type="password" autocomplete="off" required value=${key} onInput=${(e: Event) => setKey((e.target as HTMLInputElement).value)} aria-describedby="api-key-help" />
      <p id="api-key-help" class="help">"&lt;key_id&gt;.&lt;secret&gt;". Kept in this tab's session storage only, until you sign out or close the tab.</p>
      <button type="submit" disabled=${busy || !key}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
    <${ErrorBox} error=${error} />
    <p><a href="/">Faceproof</a> · <a href="/docs">API documentation</a></p>
  </main>`;
}

function App() {
  const [key, setKey] = useState(storedKey());
  const [path, setPath] = useState(route());
  useEffect(() => {
    const on = () => setPath(route());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  const fp = useMemo(() => (key ? clientFor(key) : undefined), [key]);
  useEffect(() => {
    const page = PAGES.find((p) => p.path === path);
    document.title = page ? `${page.title} — Faceproof console` : 'Faceproof console';
  }, [path]);
  if (!key || !fp) return html`<${SignIn} onKey=${(k: string) => { storeKey(k); setKey(k); }} />`;
  const page = PAGES.find((p) => p.path === path) ?? PAGES[0];
  return html`<a class="skip" href="#main">Skip to the page</a>
    <header><h1><a href="/console#/compare">Faceproof</a></h1>
      <nav aria-label="Console pages"><ul>${PAGES.map((p) => html`<li><a href=${`#/${p.path}`} aria-current=${p === page ? 'page' : undefined}>${p.title}</a></li>`)}</ul></nav>
      <button type="button" class="sign-out" onClick=${() => { storeKey(null); setKey(null); }}>Sign out</button>
    </header>
    <main id="main" tabindex="-1"><${page.Page} key=${page.path} fp=${fp} /></main>`;
}

const root = document.getElementById('app')!;
root.replaceChildren(); // the "Loading…" placeholder: Preact 11's render() keeps what is there
render(html`<${App} />`, root);
