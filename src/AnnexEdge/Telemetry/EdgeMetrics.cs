using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using AnnexEdge.Locking;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using Prometheus;

namespace AnnexEdge.Telemetry;

/// <summary>Why the gateway left a node without the key, or that it did not (the <c>outcome</c> label).</summary>
internal enum NodeOutcome
{
    Stored,
    AlreadyHad,
    Failed,
    TimedOut,
}

/// <summary>
/// Every instrument of the edge, in one registry of this edge's own (tests run several edges in one process), named
/// <c>annexedge_*</c> by Prometheus conventions. Labels come only from the configuration and the protocol (target,
/// node, backend, endpoint, status, reason), never from clients (keys, client UUIDs, addresses), so the number of
/// series is bounded by the configuration. The code paths record here; state the edge holds anyway (health, load,
/// lock slots, certificates) is read when scraped (<see cref="StateGauges"/>). A recording costs a lookup of a
/// cached child and an atomic add: no allocation.
/// </summary>
internal sealed class EdgeMetrics
{
    public const string Prefix = "annexedge_";

    private static readonly string[] StatusNames = Enumerable.Range(0, 600).Select(s => s.ToString(CultureInfo.InvariantCulture)).ToArray();
    private static readonly string[] EndpointNames = Enum.GetValues<P2pEndpoint>().Select(e => e.Name()).ToArray();

    private readonly Counter _requests;
    private readonly Histogram _requestDuration;
    private readonly ConcurrentDictionary<(int Endpoint, TargetKind Kind, int Status), Counter.Child> _requestChildren = new();
    private readonly ConcurrentDictionary<(int Endpoint, TargetKind Kind), Histogram.Child> _durationChildren = new();
    private readonly Counter _targetReceived;
    private readonly Counter _targetSent;
    private readonly ConcurrentDictionary<(TargetKind Kind, string Name), (Counter.Child In, Counter.Child Out)> _targetBytes = new();
    private readonly Counter _nodeBytes;
    private readonly Gauge _nodeInFlight;
    private readonly Histogram _nodeDuration;
    private readonly Gauge _nodeDownloadsInFlight;
    private readonly Counter _nodeReceivedBytes;
    private readonly Histogram _nodeDownloadDuration;
    private readonly Histogram _fanOutWidth;
    private readonly Counter _nodeOutcomes;
    private readonly Counter _healthTransitions;
    private readonly Counter _lockRefusals;
    private readonly Counter _loginFailures;
    private readonly Counter _loginsThrottled;

    public EdgeMetrics(RepositoryCatalog catalog)
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);

        _requests = factory.CreateCounter(Prefix + "requests_total",
            "p2phttp requests answered, by endpoint, target kind (repository, cluster, gateway; none when refused before a target was known) and HTTP status.", ["endpoint", "target_kind", "status"]);
        _requestDuration = factory.CreateHistogram(Prefix + "request_duration_seconds",
            "Time from a p2phttp request's arrival to the end of its answer, by endpoint and target kind.",
            new HistogramConfiguration
            {
                LabelNames = ["endpoint", "target_kind"],
                Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
            });

        _targetReceived = factory.CreateCounter(Prefix + "target_received_bytes_total",
            "Request body bytes the edge read from clients, by repository or cluster (target) and its kind.", ["target_kind", "target"]);
        _targetSent = factory.CreateCounter(Prefix + "target_sent_bytes_total",
            "Response body bytes the edge sent to clients, by repository or cluster (target) and its kind.", ["target_kind", "target"]);
        var targets = catalog.Repositories.Cast<Target>().Concat(catalog.Clusters);
        if (catalog.GatewayUuid is { } gateway)
        {
            targets = targets.Append(new Gateway(gateway));
        }

        // Every target has its series from the start (at 0); a target a reload adds gets them at its first request.
        foreach (var target in targets)
        {
            TargetBytes(target);
        }

        _nodeBytes = factory.CreateCounter(Prefix + "node_sent_bytes_total",
            "Bytes the cluster gateway sent to a node in uploads (counted when each node's transfer ends).", ["cluster", "node"]);
        _nodeInFlight = factory.CreateGauge(Prefix + "node_uploads_in_flight",
            "Uploads the cluster gateway is sending to a node now.", ["cluster", "node"]);
        _nodeDuration = factory.CreateHistogram(Prefix + "node_upload_duration_seconds",
            "Duration of the cluster gateway's uploads to a node, from the request to the node's answer, by outcome.",
            new HistogramConfiguration
            {
                LabelNames = ["cluster", "node", "outcome"],
                Buckets = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600],
            });
        _nodeDownloadsInFlight = factory.CreateGauge(Prefix + "node_downloads_in_flight",
            "Downloads the cluster gateway is taking from a node now for a client's GET.", ["cluster", "node"]);
        _nodeReceivedBytes = factory.CreateCounter(Prefix + "node_received_bytes_total",
            "Bytes the cluster gateway received from a node in downloads (counted when each node's part ends).", ["cluster", "node"]);
        _nodeDownloadDuration = factory.CreateHistogram(Prefix + "node_download_duration_seconds",
            "Duration of the cluster gateway's downloads from a node, by outcome: complete (the node sent the rest of the object), "
            + "timed_out (it stopped sending for Forwarding:StallTimeout midway, or Forwarding:ActivityTimeout before its first byte) or failed (its connection broke, or the client left).",
            new HistogramConfiguration
            {
                LabelNames = ["cluster", "node", "outcome"],
                Buckets = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600],
            });
        _fanOutWidth = factory.CreateHistogram(Prefix + "fanout_width",
            "Nodes one cluster upload was streamed to at once.",
            new HistogramConfiguration { LabelNames = ["cluster"], Buckets = [1, 2, 3, 4, 5, 6, 8, 12, 16] });
        _nodeOutcomes = factory.CreateCounter(Prefix + "fanout_node_outcomes_total",
            "What each node of a cluster put ended with: stored, already_had, failed or timed_out.", ["cluster", "node", "outcome"]);
        _healthTransitions = factory.CreateCounter(Prefix + "backend_health_transitions_total",
            "Times a backend went into rotation (to=up) or out of it (to=down).", ["repository", "backend", "to"]);
        _lockRefusals = factory.CreateCounter(Prefix + "lock_refusals_total",
            "lockcontent requests the edge answered locked:false itself, by reason: budget (the backend's MaxLocks), reserved_for_users, share (one client's share of a backend) or client_quota (MaxLocksPerClient).", ["repository", "reason"]);
        _loginFailures = factory.CreateCounter(Prefix + "login_failures_total", "Requests with credentials that did not match a user.");
        _loginsThrottled = factory.CreateCounter(Prefix + "logins_throttled_total",
            "Logins refused unchecked because their address failed too often (reason=failures) or has its share of password checks running (reason=busy).", ["reason"]);

        Factory = factory;
    }

    /// <summary>
    /// Stops exporting the per-repository series (bytes, health transitions, lock refusals) of repositories that
    /// <paramref name="catalog"/> does not serve: a directory's repositories come and go. Called at scrape time.
    /// </summary>
    public void ForgetRepositoriesOtherThan(CatalogSnapshot catalog)
    {
        var served = catalog.Repositories.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        var repository = KindName(TargetKind.Repository);
        foreach (var gone in _targetBytes.Keys.Where(k => k.Kind == TargetKind.Repository && !served.Contains(k.Name)))
        {
            _targetBytes.TryRemove(gone, out _);
        }

        foreach (var counter in (Counter[])[_targetReceived, _targetSent])
        {
            foreach (var labels in counter.GetAllLabelValues().Where(l => l[0] == repository && !served.Contains(l[1])).ToArray())
            {
                counter.RemoveLabelled(labels);
            }
        }

        foreach (var counter in (Counter[])[_healthTransitions, _lockRefusals])
        {
            foreach (var labels in counter.GetAllLabelValues().Where(l => !served.Contains(l[0])).ToArray())
            {
                counter.RemoveLabelled(labels);
            }
        }
    }

    /// <summary>What <c>/metrics</c> exports.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>For the gauges read at scrape time (<see cref="StateGauges"/>).</summary>
    internal IMetricFactory Factory { get; }

    public enum TargetKind
    {
        None,
        Repository,
        Cluster,
        Gateway,
    }

    private (Counter.Child In, Counter.Child Out) TargetBytes(Target target) =>
        _targetBytes.GetOrAdd((KindOf(target), target.Name), static (k, metrics) =>
            (metrics._targetReceived.WithLabels(KindName(k.Kind), k.Name), metrics._targetSent.WithLabels(KindName(k.Kind), k.Name)), this);

    public static TargetKind KindOf(Target? target) => target switch
    {
        null => TargetKind.None,
        Cluster => TargetKind.Cluster,
        Gateway => TargetKind.Gateway,
        _ => TargetKind.Repository,
    };

    public static string KindName(TargetKind kind) => kind switch
    {
        TargetKind.Repository => "repository",
        TargetKind.Cluster => "cluster",
        TargetKind.Gateway => "gateway",
        _ => "none",
    };

    /// <summary>One answered p2phttp request; <paramref name="endpoint"/> is null when it could not be parsed.</summary>
    public void RequestAnswered(P2pEndpoint? endpoint, Target? target, int status, long startTimestamp, long bytesIn, long bytesOut)
    {
        var kind = KindOf(target);
        var e = endpoint is { } known ? (int)known : -1;
        var s = status is >= 0 and < 600 ? status : 0;
        _requestChildren.GetOrAdd((e, kind, s), static (k, requests) =>
            requests.WithLabels(k.Endpoint < 0 ? "invalid" : EndpointNames[k.Endpoint], KindName(k.Kind), StatusNames[k.Status]), _requests).Inc();
        _durationChildren.GetOrAdd((e, kind), static (k, durations) =>
            durations.WithLabels(k.Endpoint < 0 ? "invalid" : EndpointNames[k.Endpoint], KindName(k.Kind)), _requestDuration)
            .Observe(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);

        if (target is not null)
        {
            var bytes = TargetBytes(target);
            if (bytesIn > 0)
            {
                bytes.In.Inc(bytesIn);
            }

            if (bytesOut > 0)
            {
                bytes.Out.Inc(bytesOut);
            }
        }
    }

    /// <summary>Counts one upload to a node as in flight until the returned scope ends it with its outcome.</summary>
    public NodeTransfer NodeUploadStarted(Cluster cluster, Repository node)
    {
        var inFlight = _nodeInFlight.WithLabels(cluster.Name, node.Name);
        inFlight.Inc();
        return new NodeTransfer(this, cluster.Name, node.Name, inFlight, Stopwatch.GetTimestamp());
    }

    /// <summary>Counts one download from a node as in flight until <see cref="NodeDownload.End"/>.</summary>
    public NodeDownload NodeDownloadStarted(Cluster cluster, Repository node)
    {
        var inFlight = _nodeDownloadsInFlight.WithLabels(cluster.Name, node.Name);
        inFlight.Inc();
        return new NodeDownload(this, cluster.Name, node.Name, inFlight, Stopwatch.GetTimestamp());
    }

    public void FanOutStarted(Cluster cluster, int width) => _fanOutWidth.WithLabels(cluster.Name).Observe(width);

    /// <summary>A node of a cluster put that was sent nothing (its transfers end in <see cref="NodeTransfer.End"/>).</summary>
    public void NodeOutcome(Cluster cluster, Repository node, NodeOutcome outcome) =>
        _nodeOutcomes.WithLabels(cluster.Name, node.Name, OutcomeName(outcome)).Inc();

    public static string OutcomeName(NodeOutcome outcome) => outcome switch
    {
        Telemetry.NodeOutcome.Stored => "stored",
        Telemetry.NodeOutcome.AlreadyHad => "already_had",
        Telemetry.NodeOutcome.TimedOut => "timed_out",
        _ => "failed",
    };

    public void HealthChanged(string repository, string backendId, bool up) =>
        _healthTransitions.WithLabels(repository, backendId, up ? "up" : "down").Inc();

    public void LockRefused(Repository repository, LockRefusal refusal) =>
        _lockRefusals.WithLabels(repository.Name, RefusalName(refusal)).Inc();

    public static string RefusalName(LockRefusal refusal) => refusal switch
    {
        LockRefusal.BackendBudget => "budget",
        LockRefusal.ReservedForUsers => "reserved_for_users",
        LockRefusal.ShareOfSlots => "share",
        LockRefusal.ClientQuota => "client_quota",
        _ => "none",
    };

    public void LoginFailed() => _loginFailures.Inc();

    /// <param name="busy">Refused for checks running rather than for failures.</param>
    public void LoginThrottled(bool busy) => _loginsThrottled.WithLabels(busy ? "busy" : "failures").Inc();

    /// <summary>How a node's part of a cluster download ended (the <c>outcome</c> label).</summary>
    internal enum DownloadOutcome
    {
        Complete,
        TimedOut,
        Failed,
    }

    /// <summary>One download of the gateway from one node: in flight until <see cref="End"/>.</summary>
    internal sealed class NodeDownload(EdgeMetrics metrics, string cluster, string node, Gauge.Child inFlight, long started)
    {
        public void End(DownloadOutcome outcome, long bytesReceived)
        {
            inFlight.Dec();
            var name = outcome switch
            {
                DownloadOutcome.Complete => "complete",
                DownloadOutcome.TimedOut => "timed_out",
                _ => "failed",
            };
            metrics._nodeDownloadDuration.WithLabels(cluster, node, name).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
            if (bytesReceived > 0)
            {
                metrics._nodeReceivedBytes.WithLabels(cluster, node).Inc(bytesReceived);
            }
        }
    }

    /// <summary>One upload of the gateway to one node: in flight until <see cref="End"/>.</summary>
    internal sealed class NodeTransfer(EdgeMetrics metrics, string cluster, string node, Gauge.Child inFlight, long started)
    {
        private int _ended;

        /// <param name="outcome">Null when the client's upload broke off: no node's fault, no outcome.</param>
        public void End(NodeOutcome? outcome, long bytesSent)
        {
            if (Interlocked.Exchange(ref _ended, 1) != 0)
            {
                return;
            }

            inFlight.Dec();
            if (outcome is { } known)
            {
                metrics._nodeOutcomes.WithLabels(cluster, node, OutcomeName(known)).Inc();
                metrics._nodeDuration.WithLabels(cluster, node, OutcomeName(known)).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
            }

            if (bytesSent > 0)
            {
                metrics._nodeBytes.WithLabels(cluster, node).Inc(bytesSent);
            }
        }
    }
}
