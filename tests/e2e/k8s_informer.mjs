// An informer of the official JavaScript client (@kubernetes/client-node 1.4.0, pinned in
// package.json) against the fake Kubernetes API server: it lists, watches, gets add, update and
// delete events, re-watches from its last resourceVersion after a clean end of stream, and
// relists after a 410 (the fake compacts its history and expires the open watch), missing
// nothing that changed while its watch was hung.
// Usage: node k8s_informer.mjs KUBECONFIG FAKE_URL   (prints "ok" and exits 0 on success)
import * as k8s from '@kubernetes/client-node';

const [kubeconfig, base] = process.argv.slice(2);
const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(k8s.CoreV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const ns = 'default';

function die(msg) {
    console.error('FAIL: ' + msg);
    console.error('events: ' + JSON.stringify(events));
    process.exit(1);
}
async function until(what, fn, ms = 10000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        if (await fn()) return;
        await new Promise((r) => setTimeout(r, 20));
    }
    die('timed out waiting for ' + what);
}
async function fake(path, body) {
    const r = await fetch(base + path, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (r.status !== 200) die(`${path}: HTTP ${r.status}`);
    return r.json();
}

const events = [];
const errors = [];
let lists = 0;
const seen = (type, name) => events.some((e) => e[0] === type && e[1] === name);

await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'pre' }, data: { v: '0' } } });

const inf = k8s.makeInformer(kc, `/api/v1/namespaces/${ns}/configmaps`, () => {
    lists++;
    return core.listNamespacedConfigMap({ namespace: ns });
});
inf.on('add', (o) => events.push(['add', o.metadata.name, o.metadata.resourceVersion]));
inf.on('update', (o) => events.push(['update', o.metadata.name, o.metadata.resourceVersion]));
inf.on('delete', (o) => events.push(['delete', o.metadata.name, o.metadata.resourceVersion]));
inf.on('error', (e) => errors.push(String(e && (e.message || e))));
await inf.start();

// list, then watch: add, update, delete
await until('the listed object', () => seen('add', 'pre'));
await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'a' }, data: { v: '1' } } });
await until('add a', () => seen('add', 'a'));
const a = await core.readNamespacedConfigMap({ name: 'a', namespace: ns });
a.data.v = '2';
const a2 = await core.replaceNamespacedConfigMap({ name: 'a', namespace: ns, body: a });
await until('update a', () => events.some((e) => e[0] === 'update' && e[1] === 'a' && e[2] === a2.metadata.resourceVersion));
await core.deleteNamespacedConfigMap({ name: 'a', namespace: ns });
await until('delete a', () => seen('delete', 'a'));
if (lists !== 1) die(`lists=${lists} before any 410, want 1`);

// the fake ends each watch cleanly after 1 s (--watch-timeout 1): the informer re-watches
// from its last resourceVersion, without a relist, and keeps receiving
const w0 = (await fake('/fake/stats'))['verb:watch'] || 0;
await until('a re-watch after the clean end', async () => ((await fake('/fake/stats'))['verb:watch'] || 0) > w0 + 1);
await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'c' }, data: { v: '1' } } });
await until('add c', () => seen('add', 'c'));
if (lists !== 1) die(`lists=${lists} after clean re-watches, want 1`);

// the next watch hangs (half-open); changes made meanwhile reach the informer only through
// the relist that the 410 after compaction forces
await fake('/fake/fault', { action: 'hang', count: 1 });
const w1 = (await fake('/fake/stats'))['verb:watch'];
await until('the hung watch', async () => (await fake('/fake/stats'))['verb:watch'] > w1);
await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'b' }, data: { v: '1' } } });
await core.deleteNamespacedConfigMap({ name: 'pre', namespace: ns });
await new Promise((r) => setTimeout(r, 300));
if (seen('add', 'b') || seen('delete', 'pre')) die('the hung watch delivered events');
await fake('/fake/compact', { expireWatches: true });
await until('relist: add b', () => seen('add', 'b'));
await until('relist: delete pre', () => seen('delete', 'pre'));
if (lists !== 2) die(`lists=${lists} after the 410, want 2`);
const cached = inf.list(ns).map((o) => o.metadata.name).sort().join(',');
if (cached !== 'b,c') die(`cache after relist: ${cached}, want b,c`);
if (errors.length) die('informer errors: ' + errors.join('; '));

// a custom resource through the generic API: list and watch by the CRD's plural
await fetch(base + '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
        apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
        metadata: { name: 'widgets.example.brix.dev' },
        spec: {
            group: 'example.brix.dev', scope: 'Namespaced',
            names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
            versions: [{
                name: 'v1', served: true, storage: true, subresources: { status: {} },
                schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
            }],
        },
    }),
});
const crEvents = [];
const crInf = k8s.makeInformer(kc, `/apis/example.brix.dev/v1/namespaces/${ns}/widgets`, () =>
    custom.listNamespacedCustomObject({ group: 'example.brix.dev', version: 'v1', namespace: ns, plural: 'widgets' }));
crInf.on('add', (o) => crEvents.push('add ' + o.metadata.name));
crInf.on('update', (o) => crEvents.push('update ' + o.metadata.name + ' ' + (o.status && o.status.phase)));
crInf.on('error', (e) => errors.push(String(e && (e.message || e))));
await crInf.start();
await custom.createNamespacedCustomObject({
    group: 'example.brix.dev', version: 'v1', namespace: ns, plural: 'widgets',
    body: { apiVersion: 'example.brix.dev/v1', kind: 'Widget', metadata: { name: 'w' }, spec: { size: 1 } },
});
await until('add w', () => crEvents.includes('add w'));
await custom.patchNamespacedCustomObjectStatus({
    group: 'example.brix.dev', version: 'v1', namespace: ns, plural: 'widgets', name: 'w',
    body: [{ op: 'add', path: '/status', value: { phase: 'Running' } }],
});
await until('update w', () => crEvents.includes('update w Running'));
if (errors.length) die('informer errors: ' + errors.join('; '));
await inf.stop();
await crInf.stop();
console.log(`ok: ${events.length} events, ${lists} lists, custom: ${crEvents.join(', ')}`);
process.exit(0);
