// Secrets sealed in the browser before they leave the page: HPKE base mode (RFC 9180),
// DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, info "connmgr/secrets/v1/<id>",
// empty associated data; `sealed` is base64 of enc || ciphertext (src/connmgr/schemas/sealed.py).
// The HPKE code is @hpke/core (vendored, see docs/console.md) over WebCrypto.
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "./vendor/hpke-core/mod.js";

const encoder = new TextEncoder();

function fromBase64(text) {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function toBase64(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

/** {sealed, key_id} of `secrets` (an object of strings) for one connection id. */
export async function sealSecrets(secrets, sealKey, connectionId) {
  if (sealKey.kem && sealKey.kem !== "X25519") throw new Error(`unsupported seal key: ${sealKey.kem}`);
  const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });
  const recipientPublicKey = await suite.kem.importKey("raw", fromBase64(sealKey.public_key).buffer, true);
  const sender = await suite.createSenderContext({
    recipientPublicKey,
    info: encoder.encode(`connmgr/secrets/v1/${connectionId}`),
  });
  const ciphertext = new Uint8Array(await sender.seal(encoder.encode(JSON.stringify(secrets))));
  const enc = new Uint8Array(sender.enc);
  const blob = new Uint8Array(enc.length + ciphertext.length);
  blob.set(enc);
  blob.set(ciphertext, enc.length);
  return { sealed: toBase64(blob), key_id: sealKey.key_id };
}
