# scripts/hostile/slow.py (docs/performance.md). Usage: slow.py BINARY LABEL [N]: RSS of the server with N connections each declaring
# Content-Length: 1000 and sending 10 bytes.
import os, socket, subprocess, sys, time, urllib.request
binary, label = sys.argv[1], sys.argv[2]
n = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
port = 18282
env = dict(os.environ, WORKERS="2", PORT=str(port), RUST_LOG="error")
proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
def rss():
    with open(f"/proc/{proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
deadline = time.time() + 20
while True:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=1); break
    except Exception:
        if time.time() > deadline: raise
        time.sleep(0.05)
base = rss()
socks = []
figures = []
for wave in range(3):
    for i in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"POST /v2/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"features\"")
        socks.append(c)
    time.sleep(2)
    figures.append(f"wave{wave + 1}_2s={rss():.1f}")
    time.sleep(10)
    figures.append(f"wave{wave + 1}_12s={rss():.1f}")
open_count = 0
for c in socks:
    c.settimeout(0.01)
    try:
        if c.recv(4096) == b"":
            pass
    except socket.timeout:
        open_count += 1
    except Exception:
        pass
print(f"{label}: {n} slow bodies per wave, every 12 s; RSS MB idle={base:.1f} " + " ".join(figures) + f"; connections still silent at the end: {open_count}")
proc.terminate(); proc.wait()
