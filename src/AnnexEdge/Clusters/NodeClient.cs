using System.Buffers;
using System.Net;
using System.Text;
using AnnexEdge.Configuration;
using AnnexEdge.Health;
using AnnexEdge.Routing;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Clusters;

/// <summary>
/// Talks p2phttp to a cluster's node repositories on the edge's own behalf, through the same YARP clusters
/// (HTTP clients, health state) that serve the nodes' own UUIDs. A replica that refuses the connection is
/// skipped for the next; in-flight counts feed "least busy" node choices.
/// </summary>
internal sealed class NodeClient(IProxyStateLookup proxyState, BackendLoad load, IOptions<AnnexEdgeOptions> options)
{
    /// <summary>The protocol version the edge speaks to nodes: the oldest with every request a gateway needs.</summary>
    public const string NodeVersion = "v3";

    private const int MaxAnswerBytes = 64 * 1024;

    private readonly TimeSpan _answerTimeout = options.Value.Forwarding.NodeAnswerTimeout;

    /// <summary>Transfers this edge has in flight to each node (by repository name).</summary>
    private readonly Dictionary<string, int> _inFlight = new(StringComparer.Ordinal);

    public int InFlight(Repository node)
    {
        lock (_inFlight)
        {
            return _inFlight.GetValueOrDefault(node.Name);
        }
    }

    /// <summary>Whether any replica of the node is in rotation.</summary>
    public bool IsLive(Repository node) =>
        proxyState.TryGetCluster(node.ClusterId, out var cluster) && InRotation(cluster).Any();

    /// <summary>POSTs a bodiless request and reads the node's JSON answer; null when the node could not answer.</summary>
    public async Task<NodeAnswer?> PostAsync(Repository node, string endpoint, NodeQuery query, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_answerTimeout);
        try
        {
            using var response = await SendAsync(node, HttpMethod.Post, endpoint, query, content: null, timeout.Token);
            if (response is null || response.StatusCode != HttpStatusCode.OK)
            {
                return null;
            }

            return await Forwarding.BoundedContent.ReadAsync(response.Content, MaxAnswerBytes, timeout.Token) is { } body ? NodeAnswer.Parse(body) : null;
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return null;
        }
    }

    /// <summary>
    /// Sends a request to a live replica of the node and returns the response once its headers arrived (the body
    /// streams), or null when no replica could be connected to. A request with a body is tried on one replica only.
    /// </summary>
    public async Task<HttpResponseMessage?> SendAsync(
        Repository node, HttpMethod method, string endpoint, NodeQuery query, HttpContent? content, CancellationToken cancellationToken)
    {
        if (!proxyState.TryGetCluster(node.ClusterId, out var cluster))
        {
            return null;
        }

        // A node out of rotation (down or wedged) is routed around, not waited for.
        var candidates = InRotation(cluster).OrderBy(load.InFlight).ToArray();
        foreach (var destination in candidates)
        {
            var uri = new Uri($"{destination.Model.Config.Address.TrimEnd('/')}/git-annex/{node.Uuid}/{NodeVersion}/{endpoint}{query}");
            var request = new HttpRequestMessage(method, uri)
            {
                Version = HttpVersion.Version11,
                VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
                Content = content,
            };
            using var counted = load.Enter(destination);
            try
            {
                return await cluster.Model.HttpClient.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException e) when (content is null && ConnectFailurePolicy.IsConnectFailure(e))
            {
                // Never reached this replica: try the next one.
            }
        }

        return null;
    }

    /// <summary>
    /// The replicas no health check calls unhealthy. Not YARP's available destinations alone: its default policy
    /// (HealthyOrPanic) offers every replica again once all are unhealthy, so a dead node would still count as live
    /// for placement and be waited for.
    /// </summary>
    private static IEnumerable<DestinationState> InRotation(ClusterState cluster) =>
        cluster.DestinationsState.AvailableDestinations.Where(d =>
            d.Health.Active != DestinationHealth.Unhealthy && d.Health.Passive != DestinationHealth.Unhealthy);

    /// <summary>Counts a transfer to the node for "least busy" choices until the returned scope is disposed.</summary>
    public IDisposable Busy(Repository node)
    {
        lock (_inFlight)
        {
            _inFlight[node.Name] = _inFlight.GetValueOrDefault(node.Name) + 1;
        }

        return new BusyScope(this, node.Name);
    }

    private sealed class BusyScope(NodeClient owner, string name) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                lock (owner._inFlight)
                {
                    owner._inFlight[name]--;
                }
            }
        }
    }
}

/// <summary>A query string for a node request, values escaped.</summary>
internal sealed class NodeQuery
{
    private readonly StringBuilder _query = new();

    public NodeQuery Add(string name, string? value)
    {
        if (value is not null)
        {
            _query.Append(_query.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
        }

        return this;
    }

    public NodeQuery Add(string name, long? value) =>
        value is null ? this : Add(name, value.Value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public NodeQuery AddAll(string name, IEnumerable<string> values)
    {
        foreach (var value in values)
        {
            Add(name, value);
        }

        return this;
    }

    public override string ToString() => _query.ToString();
}
