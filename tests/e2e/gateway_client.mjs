// Drives `brix gateway` in front of several engines with the official
// `openai` npm client. Run by test_gateway.sh and, with the gateway's API key
// in BRIX_API_KEY, by test_gateway_auth.sh:
//   BRIX_BASE_URL=http://127.0.0.1:PORT/v1 BRIX_MODEL=name [BRIX_API_KEY=key] node --test gateway_client.mjs
import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';

const baseURL = process.env.BRIX_BASE_URL;
const model = process.env.BRIX_MODEL;
assert.ok(baseURL && model, 'set BRIX_BASE_URL and BRIX_MODEL');
const apiKey = process.env.BRIX_API_KEY;
const client = new OpenAI({ baseURL, apiKey: apiKey ?? 'x', maxRetries: 0, timeout: 30_000 });

test('a wrong API key is a 401 AuthenticationError', { skip: !apiKey }, async () => {
  const bad = new OpenAI({ baseURL, apiKey: `${apiKey}-wrong`, maxRetries: 0, timeout: 30_000 });
  await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError);
  await assert.rejects(
    bad.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});

test('models.list is the union of the fleet', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, [model]);
});

test('chat through the gateway (non-streaming), engine named in headers', async () => {
  const { data, response } = await client.chat.completions
    .create({ model, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 7, ignore_eos: true })
    .withResponse();
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.usage.completion_tokens, 7);
  assert.match(response.headers.get('target-pod') ?? '', /^127\.0\.0\.1:\d+$/);
  assert.ok(response.headers.get('routing-strategy'));
  assert.match(response.headers.get('request-id') ?? '', /^brx-/);
});

test('streaming chat passes every chunk and the usage chunk', async () => {
  const stream = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'count' }], max_tokens: 12, ignore_eos: true,
    stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  let chunks = 0;
  for await (const ch of stream) {
    chunks++;
    if (ch.choices.length) text += ch.choices[0].delta.content ?? '';
    if (ch.usage) usage = ch.usage;
  }
  assert.ok(chunks >= 13);
  assert.equal(usage.completion_tokens, 12);
  assert.ok(text.length > 0);
});

test('completions through every strategy', async () => {
  for (const s of ['random', 'least-request', 'least-kv-cache', 'prefix-cache', 'predicted-ttft', 'session-affinity']) {
    const r = await client.completions.create(
      { model, prompt: 'the cat sat on the mat and the dog ran far away from the big red car', max_tokens: 3, ignore_eos: true },
      { headers: { 'routing-strategy': s } });
    assert.equal(r.usage.completion_tokens, 3, s);
  }
});

test('unknown model is a 404 NotFoundError', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 404);
});

test('unknown strategy is a 400', async () => {
  await assert.rejects(
    client.completions.create({ model, prompt: 'x', max_tokens: 1 }, { headers: { 'routing-strategy': 'bogus' } }),
    (e) => e.status === 400);
});
