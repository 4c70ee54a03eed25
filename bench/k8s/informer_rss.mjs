// The peer of bench/k8s_scale.sh's memory figure: an informer of the official JavaScript client
// (@kubernetes/client-node, the version pinned in tests/e2e/package.json) holding the pods that
// carry model.aibrix.ai/name, as brix's gateway and controller do. It lists, watches, waits until
// its cache holds WANT pods and a quiet second has passed, runs a full GC when node was started
// with --expose-gc, and prints {"pods": N, "rss_kib": K} (the process's VmRSS).
// Usage: node informer_rss.mjs KUBECONFIG NAMESPACE WANT
import * as k8s from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';

const [kubeconfig, ns, wantArg] = process.argv.slice(2);
const want = Number(wantArg);
const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(k8s.CoreV1Api);
const labelSelector = 'model.aibrix.ai/name';
const inf = k8s.makeInformer(kc, `/api/v1/namespaces/${ns}/pods`,
    () => core.listNamespacedPod({ namespace: ns, labelSelector }), labelSelector);
inf.on('error', (e) => { console.error('informer error: ' + e); process.exit(1); });
await inf.start();
const end = Date.now() + 300000;
while (inf.list(ns).length < want) {
    if (Date.now() > end) { console.error(`cache holds ${inf.list(ns).length} of ${want}`); process.exit(1); }
    await new Promise((r) => setTimeout(r, 100));
}
await new Promise((r) => setTimeout(r, 1000));
if (globalThis.gc) globalThis.gc();
await new Promise((r) => setTimeout(r, 200));
const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
console.log(JSON.stringify({ pods: inf.list(ns).length, rss_kib: rss }));
process.exit(0); // (stopping the informer first reports its aborted watch as an error)
