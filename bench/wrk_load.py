"""wrk as the tracking benchmarks' load generator: a Lua script that gives every request a fresh
click (postbacks) or sub id (clicks), one run's figures (:class:`LoadRun`), and the CPU that wrk
(its own rusage), the server and PostgreSQL spent meanwhile. wrk counts a response of status
400 or more as an error; a request still in flight when wrk stops is neither counted nor lost."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Protocol

import psutil

WRK = "/usr/bin/wrk"


class LoadedServer(Protocol):
    """The server under load: where it listens and the CPU it has used so far."""

    port: int

    def cpu_seconds(self) -> float: ...


# args: kind (postback, postback_gokart, click, floor, floor_click), the first index, wrk's
# thread count, then the postback token (postback_gokart: and the offset of its clicks), or the
# click's offer and partner ids. Thread k takes indexes first + k,
# first + k + threads, … so no two requests share one; done() prints the totals and the next
# free index (warm-up and timed runs use disjoint ranges).
LUA_SCRIPT = r"""
local threads = {}
local started = 0
function setup(thread)
  thread:set("thread_number", started)
  started = started + 1
  table.insert(threads, thread)
end
function init(args)
  kind, stride = args[1], tonumber(args[3])
  n = tonumber(args[2]) + thread_number
  first_arg, second_arg = args[4], args[5]
end
function request()
  local i = n
  n = n + stride
  local id = string.format("%032x", i)
  if kind == "postback" then
    return wrk.format("GET", "/postback/?gk_click_id=" .. id .. "&event=install&txn_id=bench-"
      .. i .. "&token=" .. first_arg)
  elseif kind == "postback_gokart" then
    -- GoKart's names and every cnv_* value, on the clicks from index second_arg on
    local j = i + tonumber(second_arg)
    return wrk.format("GET", "/postback/?gk_click_id=" .. string.format("%032x", j)
      .. "&cnv_event_id=install&cnv_conversion_id=bench-" .. j .. "&cnv_amount=49.99"
      .. "&cnv_user_id=adv-user-" .. j .. "&cnv_conversion_ip_address=203.0.113.42"
      .. "&cnv_sub_1=s1&cnv_sub_2=s2&cnv_sub_3=s3&cnv_sub_4=s4&cnv_sub_5=s5&token=" .. first_arg)
  elseif kind == "click" then
    return wrk.format("GET", "/click/" .. first_arg .. "/" .. second_arg .. "/?sub=user-" .. i)
  elseif kind == "floor_click" then
    return wrk.format("GET", "/bench/floor/click/?gk_click_id=" .. id)
  end
  return wrk.format("GET", "/bench/floor/?gk_click_id=" .. id)
end
function done(summary, latency, requests)
  local next_index = 0
  for _, thread in ipairs(threads) do
    local thread_next = thread:get("n")
    if thread_next > next_index then next_index = thread_next end
  end
  local e = summary.errors
  io.write(string.format('WRK_RESULT {"requests": %d, "duration_us": %d, "socket_errors": %d, '
    .. '"status_errors": %d, "p50_us": %d, "p99_us": %d, "next_index": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), next_index))
end
"""


@dataclass(frozen=True)
class LoadRun:
    """One wrk run: what it got back, and the CPU that wrk and the server spent meanwhile."""

    requests: int  # answered
    seconds: float
    errors: int  # socket errors and answers of status 400 or more
    status_errors: int  # answers of status 400 or more
    p50_ms: float
    p99_ms: float
    next_index: int
    wrk_cpu_seconds: float
    server_cpu_seconds: float
    postgres_cpu_seconds: float  # every PostgreSQL process of the machine (others' too)

    @property
    def answered_ok(self) -> int:
        return self.requests - self.status_errors

    @property
    def per_second(self) -> float:
        """Answers below status 400 per second."""
        return self.answered_ok / self.seconds

    @property
    def wrk_cpu_percent(self) -> float:
        """wrk's CPU time over the run, in per cent of one core."""
        return 100 * self.wrk_cpu_seconds / self.seconds

    @property
    def server_cpu_ms(self) -> float:
        """Server CPU (all gunicorn processes) per answered request, in milliseconds."""
        return 1000 * self.server_cpu_seconds / max(1, self.requests)

    @property
    def postgres_cpu_ms(self) -> float:
        """PostgreSQL's CPU per answered request, in milliseconds (exact with nothing else
        using the database server)."""
        return 1000 * self.postgres_cpu_seconds / max(1, self.requests)


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine so far (those that exited are not
    counted: the benchmark's connections are pooled and live through a run)."""
    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        if process.info["name"] in ("postgres", "postmaster") and process.info["cpu_times"]:
            total += process.info["cpu_times"].user + process.info["cpu_times"].system
    return total


def wrk_run(
    server: LoadedServer,
    *,
    kind: str,
    first_index: int,
    seconds: int,
    connections: int,
    threads: int,
    args: list[str],
) -> LoadRun:
    """One wrk run against ``server``; wrk's CPU time from its own rusage (``wait4``)."""
    with (
        tempfile.NamedTemporaryFile("w", suffix=".lua") as script,
        tempfile.TemporaryFile() as output,
    ):
        script.write(LUA_SCRIPT)
        script.flush()
        command = [
            WRK,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout=10s",
            f"-s{script.name}",
            f"http://127.0.0.1:{server.port}",
            "--",
            kind,
            str(first_index),
            str(threads),
            *args,
        ]
        server_cpu_before, postgres_cpu_before = server.cpu_seconds(), postgres_cpu_seconds()
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        server_cpu = server.cpu_seconds() - server_cpu_before
        postgres_cpu = postgres_cpu_seconds() - postgres_cpu_before
        output.seek(0)
        text = output.read().decode(errors="replace")
    found = [line for line in text.splitlines() if line.startswith("WRK_RESULT ")]
    if process.returncode != 0 or not found:
        raise SystemExit(f"wrk failed ({process.returncode}): {text[-2000:]}")
    result = json.loads(found[-1].removeprefix("WRK_RESULT "))
    return LoadRun(
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        errors=result["socket_errors"] + result["status_errors"],
        status_errors=result["status_errors"],
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        next_index=result["next_index"],
        wrk_cpu_seconds=usage.ru_utime + usage.ru_stime,
        server_cpu_seconds=server_cpu,
        postgres_cpu_seconds=postgres_cpu,
    )


def warmed_run(server: LoadedServer, *, kind: str, first_index: int, **load) -> list[LoadRun]:
    """A 2-second warm-up, then the timed run (on the next free indexes): both runs."""
    seconds = load.pop("seconds")
    warmup = wrk_run(server, kind=kind, first_index=first_index, seconds=2, **load)
    timed = wrk_run(server, kind=kind, first_index=warmup.next_index, seconds=seconds, **load)
    return [warmup, timed]


def summary_line(name: str, timed: LoadRun, *, connections: int) -> str:
    """What a timed run measured, for stderr."""
    return (
        f"{name}: {timed.requests} in {timed.seconds:.1f} s ({timed.per_second:.0f}/s) over "
        f"{connections} connections, p50 {timed.p50_ms:.1f} ms, p99 {timed.p99_ms:.1f} ms, "
        f"errors {timed.errors}; wrk used {timed.wrk_cpu_percent:.0f}% of one core; CPU per "
        f"request: gunicorn {timed.server_cpu_ms:.2f} ms, PostgreSQL {timed.postgres_cpu_ms:.2f} "
        "ms (all its processes)"
    )
