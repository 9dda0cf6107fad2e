// Join tokens: where they come from (the URL fragment, a pasted link or token) and what they say.
// The claims are decoded only to greet the user; the relay alone verifies the signature and dates.

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** The token in a fragment like "#token=eyJ...", or "". */
export function tokenFromFragment(hash) {
  const params = new URLSearchParams(String(hash || '').replace(/^#/, ''));
  return (params.get('token') || '').trim();
}

/** A pasted join link or bare token -> the token, or "" when it is neither. */
export function tokenFromInput(text) {
  const s = String(text || '').trim();
  const hash = s.indexOf('#');
  const candidate = hash >= 0 ? tokenFromFragment(s.slice(hash)) : s;
  return JWT_SHAPE.test(candidate) ? candidate : '';
}

function base64UrlDecode(part) {
  const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The token's claims ({room, name, role, exp, ...}) for display, or null if unreadable. */
export function readClaims(token) {
  if (!JWT_SHAPE.test(token || '')) return null;
  try {
    const claims = JSON.parse(base64UrlDecode(token.split('.')[1]));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}
