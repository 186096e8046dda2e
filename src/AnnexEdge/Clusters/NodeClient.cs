using System.Net;
using AnnexEdge.Configuration;
using AnnexEdge.Forwarding;
using AnnexEdge.Forwarding.Download;
using AnnexEdge.Health;
using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy;
using Yarp.ReverseProxy.Model;

namespace AnnexEdge.Clusters;

/// <summary>
/// Talks p2phttp to a cluster's nodes on the edge's own behalf, through the same YARP clusters (HTTP clients,
/// health, load) that serve the nodes' own UUIDs: a node is live when YARP's health checks say so, a backend that
/// fails for the gateway is taken out of rotation for everyone, and a transfer counts as the backend's load until its
/// last byte. A replica that refuses the connection is skipped for the next.
/// </summary>
internal sealed class NodeClient(
    IProxyStateLookup proxyState,
    BackendLoad load,
    ConnectFailurePolicy health,
    RepositoryCatalog catalog,
    IOptions<AnnexEdgeOptions> options,
    TimeProvider time)
{
    /// <summary>The protocol version the edge speaks to nodes: the oldest with every request a gateway needs.</summary>
    public const int NodeVersion = 3;

    private readonly TimeSpan _answerTimeout = options.Value.Forwarding.NodeAnswerTimeout;

    /// <summary>
    /// The request a node gets for a client's request to its cluster: the node's UUID, the version the gateway speaks,
    /// the client's identity (or the edge's), and this gateway added to <c>bypass</c> so no node loops back to it. A
    /// peer's share of the cluster (<see cref="Repository.Share"/>) also gets the nodes it must leave alone.
    /// </summary>
    public P2pRequest NodeRequest(P2pRequest request, Repository node, P2pEndpoint endpoint)
    {
        var bypass = request.Bypass;
        if (catalog.GatewayUuid is { } gateway && !bypass.Contains(gateway, StringComparer.Ordinal))
        {
            bypass = [.. bypass, gateway];
        }

        if (node.Share is { } share)
        {
            bypass = [.. bypass.Union(share.Bypass, StringComparer.Ordinal)];
        }

        return request with
        {
            Uuid = node.Uuid,
            Version = NodeVersion,
            Endpoint = endpoint,
            ClientUuid = request.ClientUuid ?? catalog.ClientUuid,
            Bypass = bypass,
        };
    }

    /// <summary>Transfers in flight to the node's backends: YARP's and the gateway's, one count per backend.</summary>
    public int InFlight(Repository node) =>
        proxyState.TryGetCluster(node.YarpClusterId, out var yarpCluster) ? yarpCluster.Destinations.Values.Sum(load.InFlight) : 0;

    /// <summary>Whether any replica of the node is in rotation.</summary>
    public bool IsLive(Repository node) =>
        proxyState.TryGetCluster(node.YarpClusterId, out var yarpCluster) && InRotation(yarpCluster).Any();

    /// <summary>
    /// POSTs a request (bodiless, or with a small <paramref name="content"/>) and reads the node's JSON answer; null when
    /// the node could not answer. A node that does not answer within <c>NodeAnswerTimeout</c> is taken out of rotation,
    /// except for a removal: a node legitimately holds a remove of content it has locked.
    /// </summary>
    public async Task<P2pAnswer?> PostAsync(
        P2pRequestFeature feature, Repository node, P2pRequest request, CancellationToken cancellationToken, HttpContent? content = null)
    {
        using var answerTimer = new CancellationTokenSource(_answerTimeout, time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, answerTimer.Token);
        var removal = request.Endpoint.IsRemoval();
        NodeResponse? response = null;
        try
        {
            response = await SendAsync(feature, node, HttpMethod.Post, request, content, timeout.Token, removal ? default : answerTimer.Token);
            if (response is null || response.Message.StatusCode != HttpStatusCode.OK)
            {
                return null;
            }

            return await BoundedContent.ReadAsync(response.Message.Content, P2pAnswer.MaxBytes, timeout.Token) is { } body ? P2pAnswer.Parse(body) : null;
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            if (response is not null && answerTimer.IsCancellationRequested && !removal)
            {
                response.Failed();
            }

            return null;
        }
        finally
        {
            response?.Dispose();
        }
    }

    /// <summary>
    /// Where the node stands on the request's key before an upload to it: has it, or wants it from an offset; null when
    /// it did not answer. A small key is asked with checkpresent, any other with putoffset (<see cref="NodePuts"/>). A
    /// peer's share is always asked with putoffset of the cluster there: only that answers for every node of it
    /// (alreadyhave when each has the key, naming them), where checkpresent says whether any has it.
    /// </summary>
    public async Task<NodeOffset?> StandingAsync(P2pRequestFeature feature, Repository node, CancellationToken cancellationToken)
    {
        if (node.Share is null && NodePuts.IsSmall(feature.Request.Key!))
        {
            return await PresenceAsync(feature, node, cancellationToken);
        }

        var answer = await PostAsync(feature, node, NodeRequest(feature.Request, node, P2pEndpoint.PutOffset), cancellationToken);
        return answer?.Bool("alreadyhave") == true ? new NodeOffset(node, true, 0, TargetAnswers.Confirmed(node, answer, "alreadyhave"))
            : answer?.Number("offset") is { } offset and >= 0 ? new NodeOffset(node, false, offset)
            : null;
    }

    /// <summary>
    /// The nodes of a peer's share that hold the request's key now, as the peer's put with <c>data-present</c> names
    /// them (it sends nothing; a peer's checkpresent names no node); empty when the peer did not answer.
    /// </summary>
    public async Task<IReadOnlyList<string>> ShareHoldersAsync(P2pRequestFeature feature, Repository share, CancellationToken cancellationToken)
    {
        // data-present came with v4, which an AnnexEdge peer speaks.
        var request = NodeRequest(feature.Request, share, P2pEndpoint.Put) with { Version = 4, DataPresent = true, Offset = null };
        using var empty = new ByteArrayContent([]);
        empty.Headers.TryAddWithoutValidation(P2pRequestParser.DataLengthHeader, "0");
        return await PostAsync(feature, share, request, cancellationToken, empty) is { } answer ? TargetAnswers.Confirmed(share, answer, TargetAnswers.Stored) : [];
    }

    /// <summary>Whether the node has the request's key now, by checkpresent, which takes no transfer lock; null when it did not answer.</summary>
    public async Task<NodeOffset?> PresenceAsync(P2pRequestFeature feature, Repository node, CancellationToken cancellationToken) =>
        await PostAsync(feature, node, NodeRequest(feature.Request, node, P2pEndpoint.CheckPresent), cancellationToken) is { } answer
            && answer.Bool("present") is { } present
            ? new NodeOffset(node, present, 0)
            : null;

    /// <summary>
    /// Sends a request to a live replica of the node and returns its response once the headers arrived (the body
    /// streams; the backend's load is counted until the response is disposed), or null when no replica could be
    /// connected to. A request with a body is tried on one replica only. When <paramref name="nodeTimeout"/> fires
    /// before the headers arrive, the node has failed (it is taken out of rotation) and the cancellation is thrown.
    /// </summary>
    public async Task<NodeResponse?> SendAsync(
        P2pRequestFeature feature,
        Repository node,
        HttpMethod method,
        P2pRequest request,
        HttpContent? content,
        CancellationToken cancellationToken,
        CancellationToken nodeTimeout = default)
    {
        if (!proxyState.TryGetCluster(node.YarpClusterId, out var yarpCluster))
        {
            return null;
        }

        // A node out of rotation (down or wedged) is routed around, not waited for.
        foreach (var destination in InRotation(yarpCluster).OrderBy(load.InFlight).ToArray())
        {
            feature.UsedBackend(destination.DestinationId);
            var message = BackendRequests.Create(method, destination.Model.Config.Address, request, content);

            // A cut download is the gateway's to continue, maybe from another node (ClusterDownload).
            message.Options.Set(KeyDownloadHandler.Resume, false);
            var counted = load.Enter(destination);
            try
            {
                var response = await yarpCluster.Model.HttpClient.SendAsync(message, cancellationToken);
                return new NodeResponse(response, counted, () => health.BackendFailed(yarpCluster, destination));
            }
            catch (Exception e)
            {
                counted.Dispose();
                if (e is OperationCanceledException && nodeTimeout.IsCancellationRequested)
                {
                    health.BackendFailed(yarpCluster, destination);
                }
                else if (ConnectFailurePolicy.IsConnectFailure(e))
                {
                    // Never reached this replica: it is down for every request, and a bodiless one tries the next.
                    health.BackendFailed(yarpCluster, destination);
                    if (content is null)
                    {
                        continue;
                    }

                    return null;
                }

                throw;
            }
        }

        return null;
    }

    /// <summary>
    /// The replicas no health check calls unhealthy. Not YARP's available destinations alone: its default policy
    /// (HealthyOrPanic) offers every replica again once all are unhealthy, so a dead node would still count as live
    /// for placement and be waited for.
    /// </summary>
    private static IEnumerable<DestinationState> InRotation(ClusterState yarpCluster) =>
        yarpCluster.DestinationsState.AvailableDestinations.Where(IsInRotation);

    /// <summary>Whether no health check, active or passive, calls this replica unhealthy.</summary>
    public static bool IsInRotation(DestinationState destination) =>
        destination.Health.Active != DestinationHealth.Unhealthy && destination.Health.Passive != DestinationHealth.Unhealthy;
}

/// <summary>A node's response whose body may still be streaming: its backend counts as busy until it is disposed.</summary>
internal sealed class NodeResponse(HttpResponseMessage message, BackendLoad.Scope load, Action failed) : IDisposable
{
    private int _disposed;

    public HttpResponseMessage Message { get; } = message;

    /// <summary>The backend stopped answering mid-request: out of rotation until a probe brings it back.</summary>
    public void Failed() => failed();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Message.Dispose();
            load.Dispose();
        }
    }
}
