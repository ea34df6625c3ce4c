#!/usr/bin/env bash
# The Horizontal Pod Autoscaler on wincri, by hand, on a cluster that
# hack/cluster.sh up started: hack/examples/hpa-demo.yaml (a CPU consumer
# requesting 100m, its Service, an HPA at 50 % of it, 1 to 4 replicas), then
# 300 millicores of load for LOAD_SECONDS (default 120) through the Service's
# ClusterIP, watching `kubectl get hpa` and `kubectl top pods` until the HPA is
# back at 1 replica. `kubectl delete -f hack/examples/hpa-demo.yaml` removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(hack/cluster.sh env)"
load=${LOAD_SECONDS:-120}
kubectl apply -f hack/examples/hpa-demo.yaml
kubectl rollout status deployment/consumer --timeout=180s
ip=$(kubectl get service consumer -o jsonpath='{.spec.clusterIP}')
echo "waiting for the HPA's first CPU figure (metrics-server needs two scrapes)"
until kubectl get hpa consumer -o jsonpath='{.status.currentMetrics[0].resource.current.averageUtilization}' | grep -q .; do sleep 5; done
kubectl get hpa consumer
for _ in $(seq 30); do
  curl -sf -X POST "http://$ip/ConsumeCPU?millicores=300&durationSec=$load" >/dev/null && break
  sleep 2
done
echo "load: 300 millicores for ${load}s in one pod; the HPA should go to 4 replicas, then back to 1"
start=$(date +%s)
while :; do
  sleep 10
  echo "--- $(($(date +%s) - start))s"
  kubectl get hpa consumer --no-headers
  kubectl top pods -l app=consumer --no-headers 2>/dev/null || true
  replicas=$(kubectl get hpa consumer -o jsonpath='{.status.currentReplicas}')
  if [ "$(($(date +%s) - start))" -gt "$load" ] && [ "$replicas" = 1 ]; then break; fi
  if [ "$(($(date +%s) - start))" -gt $((load + 600)) ]; then echo "hpa-demo: not back at 1 replica" >&2; exit 1; fi
done
echo "back at 1 replica $(($(date +%s) - start))s after the load started"
