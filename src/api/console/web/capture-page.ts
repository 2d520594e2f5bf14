/** The hosted capture page (/capture): a token field, <faceproof-capture>, and the signed result checked against the JWKS. */
import { verifyResult } from '@faceproof/client';
import './capture.ts';
import type { FaceproofCapture } from './capture.ts';

const capture = document.querySelector('faceproof-capture') as FaceproofCapture;
const form = document.getElementById('token-form') as HTMLFormElement;
const input = document.getElementById('token') as HTMLInputElement;
const section = document.getElementById('result') as HTMLElement;

form.addEventListener('submit', (e) => {
  e.preventDefault();
  capture.token = input.value.trim(); // kept in this page's memory only
  input.value = '';
  form.hidden = true;
  capture.hidden = false;
  capture.shadowRoot?.querySelector('button')?.focus();
});

capture.addEventListener('faceproof-result', async (e) => {
  const outcome = (e as CustomEvent).detail;
  section.hidden = false;
  document.getElementById('outcome')!.textContent = outcome.status + (outcome.reason ? ` (${outcome.reason})` : '');
  document.getElementById('result-json')!.textContent = JSON.stringify(outcome, null, 2);
  const sig = document.getElementById('signature')!;
  sig.textContent = 'checking…';
  try {
    const jwks = await (await fetch('/.well-known/jwks.json')).json();
    const check = await verifyResult(outcome, jwks);
    sig.textContent = check.valid ? `valid (key ${check.kid})` : `INVALID: ${check.reason}`;
  } catch (err) { sig.textContent = `not checked: ${(err as Error).message}`; }
});
