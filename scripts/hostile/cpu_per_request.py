# CPU time the service spends per long-path request (docs/performance.md).
# Usage: python3 scripts/hostile/cpu_per_request.py BINARY REQUESTS PATH_BYTES
import os, socket, subprocess, sys, time, urllib.request
binary = sys.argv[1]; n = int(sys.argv[2]); plen = int(sys.argv[3])
port = 18383
proc = subprocess.Popen([binary], env=dict(os.environ, WORKERS="2", PORT=str(port), RUST_LOG="error"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def cpu():
    f = open(f"/proc/{proc.pid}/stat").read().split(")")[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
for _ in range(200):
    try: urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1); break
    except Exception: time.sleep(0.05)
raw = ("GET /v1/models/" + "a" * (plen - 11) + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").encode()
c0 = cpu()
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port)); s.sendall(raw)
    while s.recv(65536): pass
    s.close()
c1 = cpu()
print(f"{binary} path={plen}: {(c1 - c0) / n * 1000:.2f} ms CPU per request")
proc.terminate(); proc.wait()
