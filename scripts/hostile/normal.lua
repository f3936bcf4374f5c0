# Throughput measurement of the long-path attack (docs/performance.md):
wrk.method = "POST"
wrk.path = "/v2/predict"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"features": [5.1, 3.5, 1.4, 0.2]}'
