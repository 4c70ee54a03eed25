// Drives a running brix engine with the official `openai` npm client, the way
// applications do. Run by test_engine_openai.sh with node's test runner:
//   BRIX_BASE_URL=http://127.0.0.1:PORT/v1 BRIX_MODEL=name node --test openai_client.mjs
import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';

const baseURL = process.env.BRIX_BASE_URL;
const model = process.env.BRIX_MODEL;
assert.ok(baseURL && model, 'set BRIX_BASE_URL and BRIX_MODEL');
const client = new OpenAI({ baseURL, apiKey: 'x', maxRetries: 0, timeout: 30_000 });

test('models.list lists the served model', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m);
  assert.equal(ids.length, 1);
  assert.equal(ids[0].id, model);
  assert.equal(ids[0].object, 'model');
  assert.equal(ids[0].owned_by, 'vllm');
});

test('chat completion (non-streaming)', async () => {
  const r = await client.chat.completions.create({
    model,
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Name three colours.' },
    ],
    max_tokens: 9,
    ignore_eos: true,
  });
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, model);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.ok(r.choices[0].message.content.length > 0);
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 9);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 9);
});

test('chat completion (streaming, include_usage)', async () => {
  const stream = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: 'Stream to me.' }],
    max_tokens: 7,
    ignore_eos: true,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let first = null;
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (first === null && chunk.choices.length) first = chunk.choices[0].delta;
    for (const c of chunk.choices) {
      text += c.delta.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
    if (chunk.usage) {
      assert.deepEqual(chunk.choices, [], 'the usage chunk has no choices');
      usage = chunk.usage;
    }
  }
  assert.ok(chunks >= 3, `only ${chunks} chunks`);
  assert.equal(first.role, 'assistant');
  assert.ok(text.length > 0);
  assert.equal(finish, 'length');
  assert.ok(usage, 'no usage chunk');
  assert.equal(usage.completion_tokens, 7);
});

test('completion (non-streaming and streaming)', async () => {
  const r = await client.completions.create({ model, prompt: 'The quick brown fox', max_tokens: 5, ignore_eos: true });
  assert.match(r.id, /^cmpl-/);
  assert.equal(r.object, 'text_completion');
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 5);

  const stream = await client.completions.create({ model, prompt: 'Count:', max_tokens: 4, ignore_eos: true, stream: true });
  let text = '';
  let finish = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'text_completion');
    text += chunk.choices[0]?.text ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.ok(text.length > 0);
  assert.equal(finish, 'length');
});

test('embeddings are deterministic', async () => {
  const a = await client.embeddings.create({ model, input: 'same text' });
  const b = await client.embeddings.create({ model, input: 'same text' });
  assert.equal(a.data.length, 1);
  assert.ok(a.data[0].embedding.length > 0);
  assert.deepEqual(a.data[0].embedding, b.data[0].embedding);
  // The client asks for base64 by default and decodes it: request floats too.
  const f = await client.embeddings.create({ model, input: 'same text', encoding_format: 'float' });
  assert.equal(f.data[0].embedding.length, a.data[0].embedding.length);
  f.data[0].embedding.forEach((x, i) => assert.ok(Math.abs(x - a.data[0].embedding[i]) < 1e-5));
});

test('unknown model raises NotFoundError (404)', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
    (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 404);
      assert.match(err.message, /The model `no-such-model` does not exist/);
      return true;
    },
  );
});

test('bad request raises BadRequestError (400)', async () => {
  const long = Array.from({ length: 2000 }, (_, i) => `w${i}`).join(' ');
  await assert.rejects(client.completions.create({ model, prompt: long, max_tokens: 4 }), (err) => {
    assert.ok(err instanceof OpenAI.BadRequestError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, 400);
    return true;
  });
});
