#!/usr/bin/env python3
"""
deploy/grafana/build_dashboards.py — writes the Grafana dashboards of AkiDB
(deploy/grafana/dashboards/*.json) from the panel lists below, so that the
four dashboards share one layout, one set of variables and one datasource
convention. Edit the panels here, run

    python3 deploy/grafana/build_dashboards.py

and commit the JSON it writes; `python3 deploy/grafana/build_dashboards.py
--check` (ctest grafana_dashboards) fails when the committed JSON differs
from what this script writes.

Every query uses the metrics of docs/metrics.md and the recording rules of
deploy/prometheus/alerts.yml, filtered by the dashboard variables
`$job` and `$instance` (`job=~"$job", instance=~"$instance"`). The panels'
datasource is the variable `${datasource}` (any Prometheus datasource; the
provisioned one, uid `akidb-prometheus`, is the default).
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job", instance=~"$instance"'
RI = "$__rate_interval"


def q(expr, legend=""):
    return (expr, legend)


def hq(quantile, metric, by="", extra=""):
    """histogram_quantile of a histogram's buckets summed by `by` (plus le)."""
    labels = f"{SEL}, {extra}" if extra else SEL
    group = f"{by}, le" if by else "le"
    return (f"histogram_quantile({quantile}, sum by ({group}) "
            f"(rate({metric}_bucket{{{labels}}}[{RI}])))")


class Board:
    def __init__(self, uid, title, description, tags):
        self.uid, self.title, self.description, self.tags = uid, title, description, tags
        self.panels = []
        self.y = 0
        self.x = 0
        self.row_h = 0

    def _place(self, w, h):
        if self.x + w > 24:
            self.x = 0
            self.y += self.row_h
            self.row_h = 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def row(self, title):
        if self.x:
            self.y += self.row_h
        self.x, self.row_h = 0, 0
        self.panels.append({"type": "row", "title": title, "collapsed": False, "panels": [],
                            "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}})
        self.y += 1

    def _targets(self, queries):
        return [{"datasource": DS, "refId": chr(ord("A") + i), "expr": expr,
                 "legendFormat": legend or "__auto", "range": True, "instant": False}
                for i, (expr, legend) in enumerate(queries)]

    def timeseries(self, title, description, queries, unit="short", w=12, h=8, stack=False,
                   min0=True):
        defaults = {"unit": unit, "custom": {"drawStyle": "line", "lineWidth": 1,
                                             "fillOpacity": 10 if not stack else 40,
                                             "showPoints": "never", "spanNulls": True,
                                             "stacking": {"mode": "normal" if stack else "none",
                                                          "group": "A"}}}
        if min0:
            defaults["min"] = 0
        self.panels.append({
            "type": "timeseries", "title": title, "description": description,
            "datasource": DS, "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom",
                                   "showLegend": True},
                        "tooltip": {"mode": "multi", "sort": "desc"}},
            "targets": self._targets(queries)})

    def stat(self, title, description, queries, unit="short", w=4, h=4, thresholds=None,
             mappings=None, text_mode="auto"):
        steps = [{"color": "green", "value": None}]
        for value, color in thresholds or []:
            steps.append({"color": color, "value": value})
        self.panels.append({
            "type": "stat", "title": title, "description": description,
            "datasource": DS, "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": {"unit": unit, "mappings": mappings or [],
                                         "thresholds": {"mode": "absolute", "steps": steps},
                                         "color": {"mode": "thresholds"}},
                            "overrides": []},
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                          "values": False},
                        "colorMode": "background", "graphMode": "none",
                        "textMode": text_mode, "justifyMode": "auto",
                        "orientation": "auto"},
            "targets": self._targets(queries)})

    def model(self):
        for i, p in enumerate(self.panels, 1):
            p["id"] = i
        return {
            "description": self.description, "title": self.title, "uid": self.uid,
            "tags": ["akidb"] + self.tags, "schemaVersion": 39, "version": 1,
            "editable": True, "graphTooltip": 1, "timezone": "browser",
            "time": {"from": "now-6h", "to": "now"}, "refresh": "30s",
            "fiscalYearStartMonth": 0, "liveNow": False, "weekStart": "",
            "annotations": {"list": [{
                "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts", "type": "dashboard"}]},
            "links": [{"title": "AkiDB dashboards", "type": "dashboards", "tags": ["akidb"],
                       "asDropdown": True, "includeVars": True, "keepTime": True,
                       "icon": "external link", "targetBlank": False, "tooltip": "",
                       "url": ""}],
            "templating": {"list": [
                {"name": "datasource", "label": "Data source", "type": "datasource",
                 "query": "prometheus", "current": {}, "hide": 0, "refresh": 1,
                 "regex": "", "includeAll": False, "multi": False, "options": []},
                {"name": "job", "label": "Job", "type": "query", "datasource": DS,
                 "query": {"query": "label_values(akidb_build_info, job)",
                           "refId": "PrometheusVariableQueryEditor-VariableQuery"},
                 "definition": "label_values(akidb_build_info, job)",
                 "current": {}, "hide": 0, "refresh": 2, "regex": "", "sort": 1,
                 "includeAll": True, "allValue": ".*akidb.*", "multi": True,
                 "options": []},
                {"name": "instance", "label": "Instance", "type": "query", "datasource": DS,
                 "query": {"query": 'label_values(akidb_build_info{job=~"$job"}, instance)',
                           "refId": "PrometheusVariableQueryEditor-VariableQuery"},
                 "definition": 'label_values(akidb_build_info{job=~"$job"}, instance)',
                 "current": {}, "hide": 0, "refresh": 2, "regex": "", "sort": 1,
                 "includeAll": True, "allValue": ".+", "multi": True, "options": []},
            ]},
            "panels": self.panels,
        }


def rate(metric, extra="", by=None):
    labels = f"{SEL}, {extra}" if extra else SEL
    inner = f"rate({metric}{{{labels}}}[{RI}])"
    return f"sum by ({by}) ({inner})" if by is not None else f"sum({inner})"


def gauge(metric, extra="", agg="sum", by=None):
    labels = f"{SEL}, {extra}" if extra else SEL
    if by is not None:
        return f"{agg} by ({by}) ({metric}{{{labels}}})"
    return f"{agg}({metric}{{{labels}}})"


REQUESTS_ALL = '{__name__=~"akidb_http_requests_total|akidb_grpc_requests_total", ' + SEL + "}"


# ------------------------------------------------------------------ overview --
def overview():
    b = Board("akidb-overview", "AkiDB / Overview",
              "Is AkiDB up, ready, answering, fast and within its objectives? One row per "
              "question; the other AkiDB dashboards go into detail.", ["overview"])
    b.row("Health")
    b.stat("Up", "Prometheus' scrape of /metrics (1 = answered).",
           [q(f'up{{{SEL}}}', "{{instance}}")], thresholds=[],
           mappings=[{"type": "value", "options": {"0": {"text": "DOWN", "color": "red"},
                                                    "1": {"text": "UP", "color": "green"}}}])
    b.stat("Ready", "akidb_ready: 1 when GET /ready answers 200.",
           [q(f'akidb_ready{{{SEL}}}', "{{instance}}")],
           mappings=[{"type": "value", "options": {"0": {"text": "NOT READY", "color": "red"},
                                                    "1": {"text": "READY", "color": "green"}}}])
    b.stat("Uptime", "Seconds since the server started.",
           [q(f'akidb_process_uptime_seconds{{{SEL}}}', "{{instance}}")], unit="s")
    b.stat("Version", "akidb_build_info.", [q(f'akidb_build_info{{{SEL}}}', "{{version}}")],
           text_mode="name")
    b.stat("Live points", "Points in the loaded collections.",
           [q(gauge("akidb_points"), "points")])
    b.stat("Collections refusing writes",
           "Loaded collections whose write-ahead log is in sticky failure (writes refused).",
           [q(gauge("akidb_collections_wal_failed"), "failed")], thresholds=[(1, "red")])
    b.row("Traffic and errors")
    b.timeseries("Requests per second", "Answered requests by transport.", [
        q(rate("akidb_http_requests_total"), "REST"),
        q(rate("akidb_grpc_requests_total"), "gRPC")], unit="reqps")
    b.timeseries("Server error ratio",
                 "Share of requests that failed with `internal` or `unavailable` "
                 "(recording rule akidb:request_errors:ratio_rate5m; alert AkiDBHighErrorRate "
                 "at 5%).",
                 [q(f'akidb:request_errors:ratio_rate5m{{{SEL}}}', "{{instance}} 5m"),
                  q(f'akidb:request_errors:ratio_rate1h{{{SEL}}}', "{{instance}} 1h")],
                 unit="percentunit")
    b.timeseries("Search latency", "Percentiles of one search request (every mode).", [
        q(hq(0.5, "akidb_search_duration_seconds"), "p50"),
        q(hq(0.99, "akidb_search_duration_seconds"), "p99")], unit="s")
    b.timeseries("Objective burn rates",
                 "How fast the two 30-day error budgets are spent (1 = exactly on budget). "
                 "Availability: 99.9% of requests without server error; latency: 99% of "
                 "searches within 250 ms. The fast burn alerts page at 14.4 (1h).", [
                     q(f'akidb:request_errors:ratio_rate1h{{{SEL}}} / 0.001',
                       "availability {{instance}}"),
                     q(f'akidb:search_slow:ratio_rate1h{{{SEL}}} / 0.01',
                       "search latency {{instance}}")])
    b.row("Resources")
    b.timeseries("Memory", "Process RSS, memory the resident collections hold, and the "
                 "memory budget (0 = unlimited).", [
                     q(gauge("akidb_process_resident_memory_bytes"), "process RSS"),
                     q(gauge("akidb_resident_memory_bytes"), "resident collections"),
                     q(gauge("akidb_memory_budget_bytes"), "budget")], unit="bytes", w=8)
    b.timeseries("Data directory disk", "Free share of the data directory's file system "
                 "(alerts at 20% and falling, and at 5%).", [
                     q(f'akidb_data_dir_free_bytes{{{SEL}}} / akidb_data_dir_size_bytes{{{SEL}}}',
                       "free {{instance}}")], unit="percentunit", w=8)
    b.timeseries("Collections by tier", "hot: in memory; warm: local disk only; cold: "
                 "object store only.", [q(gauge("akidb_collections", by="tier"), "{{tier}}")],
                 w=8, stack=True)
    return b


# --------------------------------------------------------------- performance --
def performance():
    b = Board("akidb-performance", "AkiDB / Performance",
              "Request rates and latencies by route, gRPC method and search mode; writes; "
              "embeddings; the worker pool and the process.", ["performance"])
    b.row("REST")
    b.timeseries("REST requests by route", "Requests per second by route pattern.",
                 [q(rate("akidb_http_requests_total", by="method, route"),
                    "{{method}} {{route}}")], unit="reqps")
    b.timeseries("REST p99 latency by route", "99th percentile of the time to answer.",
                 [q(hq(0.99, "akidb_http_request_duration_seconds", by="method, route"),
                    "{{method}} {{route}}")], unit="s")
    b.row("gRPC")
    b.timeseries("gRPC calls by method", "Calls per second by method.",
                 [q(rate("akidb_grpc_requests_total", by="method"), "{{method}}")],
                 unit="reqps")
    b.timeseries("gRPC p99 latency by method", "99th percentile (a stream: its whole life).",
                 [q(hq(0.99, "akidb_grpc_request_duration_seconds", by="method"), "{{method}}")],
                 unit="s")
    b.row("Search")
    b.timeseries("Queries searched by mode", "Query vectors or texts per second (a batch "
                 "counts each).", [q(rate("akidb_search_queries_total", by="mode"), "{{mode}}")],
                 unit="ops")
    b.timeseries("Search latency by mode", "p50 and p99 of one search request.", [
        q(hq(0.5, "akidb_search_duration_seconds", by="mode"), "p50 {{mode}}"),
        q(hq(0.99, "akidb_search_duration_seconds", by="mode"), "p99 {{mode}}")], unit="s")
    b.timeseries("Searches within the 250 ms objective",
                 "Share of searches answered within 250 ms (objective: 99%).", [
                     q(f'1 - akidb:search_slow:ratio_rate5m{{{SEL}}}', "{{instance}} 5m"),
                     q(f'1 - akidb:search_slow:ratio_rate1h{{{SEL}}}', "{{instance}} 1h")],
                 unit="percentunit", min0=False)
    b.timeseries("Slow requests", "Requests slower than [log] slow_request_ms (each one is "
                 "logged with its plan).",
                 [q(rate("akidb_slow_requests_total", by="transport"), "{{transport}}")],
                 unit="reqps")
    b.row("Writes")
    b.timeseries("Points upserted", "Points written by upsert batches per second.",
                 [q(rate("akidb_points_upserted_total"), "points/s")], unit="ops")
    b.timeseries("Upsert latency", "One upsert batch made durable and visible.", [
        q(hq(0.5, "akidb_upsert_duration_seconds"), "p50"),
        q(hq(0.99, "akidb_upsert_duration_seconds"), "p99")], unit="s")
    b.row("Embeddings")
    b.timeseries("Embedding calls", "Calls per second by provider and outcome.",
                 [q(rate("akidb_embedding_calls_total", by="provider, outcome"),
                    "{{provider}} {{outcome}}")], unit="ops", w=8)
    b.timeseries("Embedding call latency", "p99 of one embedding call (all its HTTP requests).",
                 [q(hq(0.99, "akidb_embedding_call_duration_seconds", by="provider"),
                    "p99 {{provider}}")], unit="s", w=8)
    b.timeseries("Texts embedded", "Texts and bytes of text embedded per second.", [
        q(rate("akidb_embedding_inputs_total", by="provider"), "texts {{provider}}"),
        q(rate("akidb_embedding_input_bytes_total", by="provider"), "bytes {{provider}}")],
        w=8)
    b.row("Worker pool and process")
    b.timeseries("Worker pool", "Threads, jobs waiting and job slices run per second.", [
        q(gauge("akidb_worker_threads"), "threads"),
        q(gauge("akidb_worker_queued_jobs"), "queued jobs"),
        q(rate("akidb_worker_slices_total"), "slices/s")], w=8)
    b.timeseries("CPU", "CPU seconds per second (user + system).",
                 [q(rate("akidb_process_cpu_seconds_total"), "cpu")], unit="percentunit", w=8)
    b.timeseries("Threads and descriptors", "Threads, open file descriptors and their limit.",
                 [q(gauge("akidb_process_threads"), "threads"),
                  q(gauge("akidb_process_open_fds"), "open fds"),
                  q(gauge("akidb_process_max_fds"), "max fds")], w=8)
    b.timeseries("Tracing", "Spans begun, exported and dropped per second, and spans waiting "
                 "for export.", [
                     q(rate("akidb_trace_spans_started_total"), "started/s"),
                     q(rate("akidb_trace_spans_exported_total"), "exported/s"),
                     q(rate("akidb_trace_spans_dropped_total", by="reason"),
                       "dropped/s {{reason}}"),
                     q(gauge("akidb_trace_queue_spans"), "queued")], w=24)
    return b


# --------------------------------------------------------- storage and tiering --
def storage():
    b = Board("akidb-storage", "AkiDB / Storage and tiering",
              "Durability (write-ahead log, checkpoints, compaction), disk, tiers and "
              "residency, memory budget, the object store and snapshots.", ["storage"])
    b.row("Points and durability")
    b.timeseries("Points", "Live points in the loaded collections, and those acknowledged "
                 "but not yet in the HNSW graph.", [
                     q(gauge("akidb_points"), "live"),
                     q(gauge("akidb_pending_points"), "pending indexing")], w=8)
    b.timeseries("Write-ahead log", "p99 of one append (before its fsync) and of one "
                 "fdatasync (alert AkiDBSlowWalFsync at 100 ms).", [
                     q(hq(0.99, "akidb_wal_append_duration_seconds"), "append p99"),
                     q(hq(0.99, "akidb_wal_fsync_duration_seconds"), "fsync p99"),
                     q(hq(0.5, "akidb_wal_fsync_duration_seconds"), "fsync p50")],
                 unit="s", w=8)
    b.timeseries("Log fsyncs per second", "fdatasync calls of the write-ahead logs.",
                 [q(rate("akidb_wal_fsync_duration_seconds_count"), "fsyncs/s")], unit="ops",
                 w=8)
    b.timeseries("Checkpoints and compactions", "p99 durations of one checkpoint and one "
                 "graph compaction.", [
                     q(hq(0.99, "akidb_checkpoint_duration_seconds"), "checkpoint p99"),
                     q(hq(0.99, "akidb_compaction_duration_seconds"), "compaction p99")],
                 unit="s", w=8)
    b.timeseries("Oldest unsaved log", "The longest a loaded collection with new log "
                 "records has gone without a checkpoint (alert at 30 minutes).",
                 [q(gauge("akidb_checkpoint_oldest_age_seconds", agg="max"), "oldest")],
                 unit="s", w=8)
    b.timeseries("Failed collections", "Collections whose log is in sticky failure, and "
                 "those whose last load failed.", [
                     q(gauge("akidb_collections_wal_failed"), "log failed"),
                     q(gauge("akidb_collections_load_failed"), "load failed")], w=8)
    b.row("Disk")
    b.timeseries("Disk used by collections", "Logs and checkpoints of the loaded collections.",
                 [q(gauge("akidb_disk_bytes"), "collections")], unit="bytes")
    b.timeseries("Data directory file system", "Free and total bytes of the file system "
                 "holding the data directory.", [
                     q(gauge("akidb_data_dir_free_bytes"), "free"),
                     q(gauge("akidb_data_dir_size_bytes"), "size")], unit="bytes")
    b.row("Tiers and residency")
    b.timeseries("Collections by tier", "hot: in memory; warm: local disk only; cold: "
                 "object store only.", [q(gauge("akidb_collections", by="tier"), "{{tier}}")],
                 w=8, stack=True)
    b.timeseries("Tier transitions", "Completed moves between tiers per second.",
                 [q(rate("akidb_tier_transitions_total", by="from, to"), "{{from}} → {{to}}")],
                 unit="ops", w=8)
    b.timeseries("Tier changes asked and cold moves", "Tier changes asked through the API, "
                 "and moves to and from the object store by outcome.", [
                     q(rate("akidb_collection_tier_changes_total", by="tier"),
                       "asked {{tier}}"),
                     q(rate("akidb_collection_cold_moves_total", by="to, outcome"),
                       "to {{to}} {{outcome}}")], unit="ops", w=8)
    b.timeseries("Loads and unloads", "Collection loads by outcome and unloads by reason "
                 "per second.", [
                     q(rate("akidb_collection_loads_total", by="outcome"), "load {{outcome}}"),
                     q(rate("akidb_collection_unloads_total", by="reason"),
                       "unload {{reason}}")], unit="ops", w=8)
    b.timeseries("Load time", "p50 and p99 of loading a collection (recovery included).", [
        q(hq(0.5, "akidb_collection_load_duration_seconds", by="outcome"), "p50 {{outcome}}"),
        q(hq(0.99, "akidb_collection_load_duration_seconds", by="outcome"), "p99 {{outcome}}")],
        unit="s", w=8)
    b.timeseries("Memory budget", "Memory the resident collections hold against "
                 "storage.memory_budget_bytes (0 = unlimited).", [
                     q(gauge("akidb_resident_memory_bytes"), "resident"),
                     q(gauge("akidb_memory_budget_bytes"), "budget")], unit="bytes", w=8)
    b.row("Object store")
    b.timeseries("Object-store calls", "Calls per second by operation and outcome.",
                 [q(rate("akidb_object_store_requests_total", by="op, outcome"),
                    "{{op}} {{outcome}}")], unit="ops", w=8)
    b.timeseries("Object-store latency", "p99 of one call by operation (retries included).",
                 [q(hq(0.99, "akidb_object_store_request_duration_seconds", by="op"),
                    "{{op}}")], unit="s", w=8)
    b.timeseries("Object-store bytes", "Payload bytes per second to (out) and from (in) "
                 "the object store.",
                 [q(rate("akidb_object_store_bytes_total", by="direction"), "{{direction}}")],
                 unit="Bps", w=8)
    b.timeseries("Circuit breaker and dead letters", "Breaker state (0 closed, 1 half-open, "
                 "2 open) and object-store work waiting in the dead-letter queue.", [
                     q(gauge("akidb_object_store_breaker_state", agg="max"), "breaker state"),
                     q(gauge("akidb_dead_letters"), "dead letters")], w=12)
    b.timeseries("Retries, breaker opens and probes", "Per second.", [
        q(rate("akidb_object_store_retries_total", by="op"), "retries {{op}}"),
        q(rate("akidb_object_store_breaker_opens_total"), "breaker opens"),
        q(rate("akidb_object_store_breaker_probes_total"), "breaker probes")], unit="ops",
        w=12)
    b.row("Snapshots")
    b.timeseries("Snapshots", "Snapshots created and restored per second, by outcome.",
                 [q(rate("akidb_snapshots_total", by="op, outcome"), "{{op}} {{outcome}}")],
                 unit="ops")
    b.timeseries("Snapshot time", "p99 of one snapshot create or restore.",
                 [q(hq(0.99, "akidb_snapshot_duration_seconds", by="op"), "{{op}}")], unit="s")
    return b


# ------------------------------------------------------------------- errors --
def errors():
    b = Board("akidb-errors", "AkiDB / Errors",
              "What fails and why: error codes over both transports, HTTP statuses, gRPC "
              "codes, the error budget, quotas, logins, the object store, embedding "
              "providers and the telemetry itself.", ["errors"])
    b.row("Requests")
    b.timeseries("Errors by code", "Failed requests per second over REST and gRPC by "
                 "error code.", [q(rate("akidb_errors_total", by="code"), "{{code}}")],
                 unit="reqps")
    b.timeseries("REST errors by status", "REST answers with a 4xx or 5xx status per second.",
                 [q(rate("akidb_http_requests_total", extra='status=~"[45].."',
                         by="status, route"), "{{status}} {{route}}")], unit="reqps")
    b.timeseries("gRPC errors by code", "gRPC calls that did not end OK, per second.",
                 [q(rate("akidb_grpc_requests_total", extra='code!="OK"', by="code, method"),
                    "{{code}} {{method}}")], unit="reqps")
    b.timeseries("Server error ratio by window",
                 "Share of requests failing with `internal` or `unavailable` over 5m, 1h, "
                 "6h and 1d (availability objective: at most 0.1%).", [
                     q(f'akidb:request_errors:ratio_rate5m{{{SEL}}}', "5m {{instance}}"),
                     q(f'akidb:request_errors:ratio_rate1h{{{SEL}}}', "1h {{instance}}"),
                     q(f'akidb:request_errors:ratio_rate6h{{{SEL}}}', "6h {{instance}}"),
                     q(f'akidb:request_errors:ratio_rate1d{{{SEL}}}', "1d {{instance}}")],
                 unit="percentunit")
    b.timeseries("Slow searches by window",
                 "Share of searches slower than 250 ms (latency objective: at most 1%).", [
                     q(f'akidb:search_slow:ratio_rate5m{{{SEL}}}', "5m {{instance}}"),
                     q(f'akidb:search_slow:ratio_rate1h{{{SEL}}}', "1h {{instance}}"),
                     q(f'akidb:search_slow:ratio_rate6h{{{SEL}}}', "6h {{instance}}"),
                     q(f'akidb:search_slow:ratio_rate1d{{{SEL}}}', "1d {{instance}}")],
                 unit="percentunit")
    b.timeseries("Request share of server errors",
                 "Server-side errors per second against all requests per second.", [
                     q(rate("akidb_errors_total", extra='code=~"internal|unavailable"'),
                       "server errors"),
                     q(f"sum(rate({REQUESTS_ALL}[{RI}]))", "all requests")], unit="reqps")
    b.row("Tenants and logins")
    b.timeseries("Quota rejections", "Requests refused by a tenant quota per second.",
                 [q(rate("akidb_quota_rejections_total", by="quota"), "{{quota}}")],
                 unit="reqps")
    b.timeseries("Logins", "Login attempts per second by outcome.",
                 [q(rate("akidb_logins_total", by="outcome"), "{{outcome}}")], unit="ops")
    b.row("Dependencies")
    b.timeseries("Object-store errors", "Failed object-store calls and retries per second.", [
        q(rate("akidb_object_store_requests_total", extra='outcome="error"', by="op"),
          "errors {{op}}"),
        q(rate("akidb_object_store_retries_total", by="op"), "retries {{op}}")], unit="ops",
        w=8)
    b.timeseries("Breaker, dead letters, failed collections",
                 "Object-store breaker state (2 = open), dead letters, collections whose log "
                 "failed or whose load failed.", [
                     q(gauge("akidb_object_store_breaker_state", agg="max"), "breaker state"),
                     q(gauge("akidb_dead_letters"), "dead letters"),
                     q(gauge("akidb_collections_wal_failed"), "log failed"),
                     q(gauge("akidb_collections_load_failed"), "load failed")], w=8)
    b.timeseries("Embedding errors", "Failed embedding attempts by provider and cause, and "
                 "model-server breakers open.", [
                     q(rate("akidb_embedding_errors_total", by="provider, cause"),
                       "{{provider}} {{cause}}"),
                     q(gauge("akidb_embedding_breakers_open"), "breakers open")], w=8)
    b.row("Telemetry")
    b.timeseries("Dropped telemetry", "Metric observations not recorded, spans dropped and "
                 "trace export batches given up, per second.", [
                     q(rate("akidb_metrics_dropped_observations_total"),
                       "metric observations"),
                     q(rate("akidb_trace_spans_dropped_total", by="reason"),
                       "spans {{reason}}"),
                     q(rate("akidb_trace_export_failures_total"), "export failures")],
                 unit="ops", w=24)
    return b


BOARDS = {"akidb-overview.json": overview, "akidb-performance.json": performance,
          "akidb-storage.json": storage, "akidb-errors.json": errors}


def render():
    return {name: json.dumps(make().model(), indent=2, ensure_ascii=False) + "\n"
            for name, make in BOARDS.items()}


def main(argv):
    out = render()
    if argv[1:] == ["--check"]:
        stale = [n for n, text in out.items()
                 if not (OUT / n).exists() or (OUT / n).read_text() != text]
        extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in out)
        if stale or extra:
            print("deploy/grafana/dashboards is not what build_dashboards.py writes: "
                  f"differs {stale}, not generated {extra}; run "
                  "python3 deploy/grafana/build_dashboards.py", file=sys.stderr)
            return 1
        return 0
    if argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    OUT.mkdir(exist_ok=True)
    for name, text in out.items():
        (OUT / name).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
