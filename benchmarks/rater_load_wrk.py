"""benchmarks/rater_load.py's client, wrk (https://github.com/wg/wrk): the Lua scripts its raters
run (``LUA``: one rater per thread and connection; ``PAUSE_LUA``: a crowd pausing between
submits), finding or installing wrk (``ensure_wrk``) and one run of it (``run_wrk``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path


LUA = r"""
-- One wrk thread per rater (one connection each), so each keeps its own cookie and pair.
local counter, threads = 0, {}
function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  mode, raters_file, max_requests = args[1], args[2], tonumber(args[3])
  pause_min, pause_max = tonumber(args[4]), tonumber(args[5])
  vote_path, out_file = args[6], args[7]
  local i = 0
  for line in io.lines(raters_file) do
    if i == id then cookie, csrf, token = line:match("([^\t]*)\t([^\t]*)\t([^\t]*)") end
    i = i + 1
  end
  acked, acked_n, bad, sent = {}, 0, 0, 0
  math.randomseed(id * 7919 + 17)
end

function request()
  sent = sent + 1
  if mode == "baseline" then
    return wrk.format("GET", "/livez/", {["Cookie"] = cookie})
  end
  local body = '{"token": "' .. token .. '", "answers": {"prompt_adherence": "left", "image_quality": "right"}, "response_ms": 1500}'
  return wrk.format("POST", vote_path, {["Content-Type"] = "application/json", ["Cookie"] = cookie, ["X-CSRFToken"] = csrf}, body)
end

function response(status, headers, body)
  if mode == "baseline" then
    if status ~= 200 then bad = bad + 1 end
  else
    if status == 200 and body:find('"status": "recorded"', 1, true) then
      acked_n = acked_n + 1
      acked[acked_n] = token
    else
      bad = bad + 1
    end
    local next_token = body:match('"token": "([%x%-]+)"')
    if next_token then token = next_token end
  end
  if sent >= max_requests then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local acked_total, bad_total = 0, 0
  local out_file = threads[1]:get("out_file")  -- done() runs in the main state, which has no args
  local tokens = io.open(out_file .. ".tokens", "w")
  for _, thread in ipairs(threads) do
    acked_total = acked_total + thread:get("acked_n")
    bad_total = bad_total + thread:get("bad")
    for _, t in ipairs(thread:get("acked")) do tokens:write(t, "\n") end
  end
  tokens:close()
  local e = summary.errors
  local f = io.open(out_file, "w")
  f:write(string.format('{"requests": %d, "duration_us": %d, "socket_errors": %d, "http_errors": %d, "bad": %d, "acked": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status, bad_total, acked_total,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
  f:close()
end
"""

PAUSE_LUA = r"""
-- A crowd: raters arrive over a few seconds (thread by thread), send their first submit as
-- soon as they are connected, as a browser does, then pause 2-5 s before each next one.
local started = false
local arrive = init
function init(args)
  arrive(args)
  os.execute("sleep 0.006")
end
function delay()
  if not started then
    started = true
    return 0
  end
  return math.random(pause_min, pause_max)
end
"""


WRK_HOW_TO_INSTALL = (
    "This benchmark drives the server with wrk (https://github.com/wg/wrk), which is not installed. Install it, then run "
    "the benchmark again: `sudo apt-get update && sudo apt-get install -y wrk` on Debian or Ubuntu (run as root, the "
    "benchmark does this itself), `brew install wrk` on macOS, or build it from https://github.com/wg/wrk "
    "(`git clone https://github.com/wg/wrk && make -C wrk`) and put the `wrk` binary on your PATH."
)


def ensure_wrk(log=print) -> str:
    """The path of ``wrk``: found on PATH, installed with apt-get when running as root on Debian
    or Ubuntu, or ``SystemExit`` saying exactly how to install it."""
    found = shutil.which("wrk")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        log("wrk is not installed: installing it with apt-get (Debian's wrk package)...")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "wrk"]):
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr.strip()[-500:]}\n{WRK_HOW_TO_INSTALL}")
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(WRK_HOW_TO_INSTALL)


def run_wrk(*, url: str, script: Path, connections: int, seconds: int, args: list[str], out: Path) -> dict:
    command = [
        "wrk", "-t", str(connections), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
        "-s", str(script), url, "--", *args, str(out),
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=seconds + 120)
    return json.loads(out.read_text())
