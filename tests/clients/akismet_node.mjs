// Drive commentguard's Akismet endpoints with the real npm client `akismet-api` (6.0.0).
//
//   CG_BASE_URL=http://127.0.0.1:PORT CG_HOST_PORT=localhost:PORT CG_KEY=... \
//   CG_BLOG=https://blog.example.com CG_BAD_KEY=... CG_CLIENTS_DIR=DIR \
//   node tests/clients/akismet_node.mjs
//
// CG_CLIENTS_DIR is the directory given to setup.sh (the package is in DIR/node/node_modules);
// without it, `akismet-api` is resolved from NODE_PATH or next to this script.
// Prints one JSON line (the summary) on stdout, each failure on stderr; exits 0 only when
// every check passed (1 when one failed, 2 when the environment is incomplete).
//
// Client facts this script relies on (see README.md):
// - akismet-api has no port option: `host` is pasted into the URL, so `host: "localhost:PORT"`
//   works. verify-key goes to PROTOCOL://HOST/1.1/, every other call to PROTOCOL://KEY.HOST/1.1/:
//   the key travels only in the Host header (no api_key in the body).
// - glibc does not resolve `KEY.localhost`, so dns.lookup is patched below (before any request)
//   to answer 127.0.0.1 for every name under `localhost`.
// - Only known fields (and aliases) pass through; the honeypot is sent as
//   `honeypot_field_name=akismet_api_honeypot_field` plus that field when `honeypot` is given.
// - checkSpam() resolves to a boolean: discard is indistinguishable from spam for its users,
//   so the script also records response headers at the http layer to see X-akismet-pro-tip.
// - submitSpam()/submitHam() resolve with the raw superagent response and do not check its
//   text; the script checks it. The client has no usage-limit call: that check uses fetch.
// - No timeout is set by the client; the script bounds every call (CG_CLIENT_TIMEOUT seconds).

import dns from 'node:dns';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';

// --- *.localhost → 127.0.0.1 (glibc's getaddrinfo does not do it) -------------------------
const realLookup = dns.lookup;
dns.lookup = function lookup(hostname, options, callback) {
  if (typeof options === 'function') {
    callback = options;
    options = {};
  } else if (typeof options === 'number') {
    options = { family: options };
  }
  const name = String(hostname).toLowerCase().replace(/\.$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) {
    const address = { address: '127.0.0.1', family: 4 };
    process.nextTick(() =>
      options && options.all ? callback(null, [address]) : callback(null, address.address, 4),
    );
    return {};
  }
  return realLookup.call(this, hostname, options, callback);
};

// --- response headers as the wire saw them, per request ------------------------------------
const wire = [];
const realRequest = http.request;
http.request = function request(...args) {
  const req = realRequest.apply(this, args);
  const entry = { host: req.getHeader('host'), path: req.path, headers: null };
  wire.push(entry);
  req.on('response', (res) => {
    entry.headers = res.headers;
  });
  return req;
};

function fail(message) {
  console.error(`akismet_node: ${message}`);
  process.exit(2);
}

const env = process.env;
const missing = ['CG_BASE_URL', 'CG_HOST_PORT', 'CG_KEY', 'CG_BLOG', 'CG_BAD_KEY'].filter(
  (n) => !env[n],
);
if (missing.length) fail(`missing environment: ${missing.join(', ')}`);

const require = createRequire(
  env.CG_CLIENTS_DIR
    ? path.join(path.resolve(env.CG_CLIENTS_DIR), 'node', 'package.json')
    : import.meta.url,
);
let AkismetClient;
let clientVersion;
try {
  ({ AkismetClient } = require('akismet-api'));
  clientVersion = require('akismet-api/package.json').version;
} catch (e) {
  fail(`cannot load akismet-api (${e.message}); run tests/clients/setup.sh DIR and set CG_CLIENTS_DIR=DIR`);
}

const base = env.CG_BASE_URL.replace(/\/+$/, '');
const protocol = new URL(base).protocol.replace(':', '');
const timeoutMs = Number(env.CG_CLIENT_TIMEOUT || '10') * 1000;
const THANKS = 'Thanks for making the web a better place.';
const options = (key) => ({ key, blog: env.CG_BLOG, host: env.CG_HOST_PORT, protocol, lang: 'en', charset: 'UTF-8' });
const client = new AkismetClient(options(env.CG_KEY));
const badClient = new AkismetClient(options(env.CG_BAD_KEY));

const HAM = {
  ip: '203.0.113.7',
  useragent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  type: 'comment',
  name: 'Jane Reader',
  email: 'jane.reader@example.org',
  content:
    'Thanks for the clear write-up. I tried the second approach on my own garden beds ' +
    'last spring and the tomatoes did much better. Looking forward to part two.',
  isTest: true,
};
const { isTest: _unused, ...LIVE } = HAM;

function bounded(promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([Promise.resolve(promise), timeout]).finally(() => clearTimeout(timer));
}

const expect = (got, want, what) =>
  got === want ? true : `${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`;

/** The response headers of the last request whose path ends with `suffix`. */
function lastHeaders(suffix) {
  const hit = [...wire].reverse().find((w) => w.path && w.path.endsWith(suffix));
  return hit ? { host: hit.host, headers: hit.headers || {} } : { host: null, headers: {} };
}

const checks = [
  ['verify_key_valid', async () => expect(await client.verifyKey(), true, 'verifyKey() for CG_KEY')],
  ['verify_key_invalid', async () => expect(await badClient.verifyKey(), false, 'verifyKey() for CG_BAD_KEY')],
  [
    'comment_check_bad_key',
    async () => {
      try {
        const got = await badClient.checkSpam(HAM);
        return `checkSpam with CG_BAD_KEY resolved ${JSON.stringify(got)} instead of rejecting`;
      } catch (e) {
        return expect(e.message, 'Invalid API key', 'checkSpam with CG_BAD_KEY error');
      }
    },
  ],
  [
    'comment_check_ham',
    async () => {
      const got = await client.checkSpam(HAM);
      const { host, headers } = lastHeaders('/comment-check');
      if (host !== `${env.CG_KEY}.${env.CG_HOST_PORT}`) return `Host header was ${host}, expected KEY.${env.CG_HOST_PORT}`;
      if (!headers['x-akismet-guid']) return 'no X-akismet-guid header on comment-check';
      return expect(got, false, 'ordinary comment');
    },
  ],
  ['comment_check_admin_ham', async () => expect(await client.checkSpam({ ...HAM, role: 'administrator' }), false, 'user_role=administrator')],
  [
    'comment_check_spam',
    async () => {
      const got = await client.checkSpam({ ...HAM, name: 'viagra-test-123' });
      const tip = lastHeaders('/comment-check').headers['x-akismet-pro-tip'];
      if (tip !== undefined) return `plain spam carried X-akismet-pro-tip: ${tip}`;
      return expect(got, true, 'comment_author=viagra-test-123');
    },
  ],
  ['comment_check_spam_email', async () => expect(await client.checkSpam({ ...HAM, email: 'akismet-guaranteed-spam@example.com' }), true, 'guaranteed-spam e-mail')],
  [
    'comment_check_discard',
    async () => {
      const got = await client.checkSpam({ ...HAM, honeypot: 'https://cheap-pills.example/buy' });
      const tip = lastHeaders('/comment-check').headers['x-akismet-pro-tip'];
      if (got !== true) return `honeypot filled: checkSpam resolved ${JSON.stringify(got)}, expected true`;
      return expect(tip, 'discard', 'honeypot filled: X-akismet-pro-tip');
    },
  ],
  // Corrections go without isTest, so they are recorded and must take effect: the same
  // comment checked again gets the moderator's answer.
  [
    'submit_spam',
    async () => {
      const sneaky = { ...LIVE, content: 'Nice pond! We sell koi food at koi-feed-shop.example, tell your friends' };
      const res = await client.submitSpam(sneaky);
      const body = expect(res && res.text, THANKS, 'submitSpam() body');
      if (body !== true) return body;
      return expect(await client.checkSpam(sneaky), true, 'checkSpam after submitSpam');
    },
  ],
  [
    'submit_ham',
    async () => {
      const promo = { ...LIVE, content: 'Check out my channel and subscribe!!! http://promo.example/now' };
      if ((await client.checkSpam(promo)) !== true) return 'the promo comment was not spam to begin with';
      const res = await client.submitHam(promo);
      const body = expect(res && res.text, THANKS, 'submitHam() body');
      if (body !== true) return body;
      return expect(await client.checkSpam(promo), false, 'checkSpam after submitHam');
    },
  ],
  [
    'usage_limit',
    async () => {
      const url = `${base}/1.2/usage-limit?api_key=${encodeURIComponent(env.CG_KEY)}`;
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      if (res.status !== 200) return `usage-limit answered HTTP ${res.status}`;
      const body = await res.json();
      const absent = ['limit', 'usage', 'percentage', 'throttled'].filter((k) => !(k in body));
      if (absent.length) return `usage-limit lacks ${absent.join(', ')}: ${JSON.stringify(body)}`;
      return expect(typeof body.throttled, 'boolean', 'usage-limit throttled type');
    },
  ],
];

const results = {};
for (const [name, run] of checks) {
  let outcome;
  try {
    outcome = await bounded(run());
  } catch (e) {
    outcome = `threw ${e && e.message ? e.message : e}`;
  }
  if (outcome === true) {
    results[name] = 'ok';
  } else {
    results[name] = `FAIL: ${outcome}`;
    console.error(`akismet_node: FAIL ${name}: ${outcome}`);
  }
}

const failed = Object.values(results).filter((r) => r !== 'ok').length;
console.log(
  JSON.stringify({
    client: 'akismet-api',
    version: clientVersion,
    passed: Object.keys(results).length - failed,
    failed,
    checks: results,
  }),
);
process.exitCode = failed ? 1 : 0;
