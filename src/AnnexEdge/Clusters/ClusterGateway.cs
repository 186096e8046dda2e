using System.Net;
using AnnexEdge.Configuration;
using AnnexEdge.Logging;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Clusters;

/// <summary>
/// Serves a cluster UUID: the edge is the cluster's gateway and answers every p2phttp request by asking its
/// nodes, as git-annex's own gateway does (<c>Annex/Cluster.hs</c>, <c>P2P/Proxy.hs</c>), but from live answers of
/// the nodes rather than a location log. It never claims a copy stored, removed or locked that a node did not confirm.
/// </summary>
internal sealed partial class ClusterGateway(
    NodeClient nodes,
    ClusterClock clock,
    ClusterDownload download,
    IOptions<AnnexEdgeOptions> options,
    ILogger<ClusterGateway> logger)
{
    private readonly string? _gatewayUuid = options.Value.Uuid;
    private readonly TimeSpan _stallTimeout = options.Value.Forwarding.ActivityTimeout;

    public async Task ServeAsync(HttpContext context, P2pRequest request, Cluster cluster)
    {
        var ct = context.RequestAborted;
        switch (request.Endpoint)
        {
            case P2pEndpoint.GetTimestamp:
                await WriteJsonAsync(context, P2pAnswers.Timestamp(clock.Timestamp()));
                break;
            case P2pEndpoint.LockContent:
            case P2pEndpoint.KeepLocked:
                // git-annex never locks a cluster as a whole: clients lock content on individual nodes.
                await WriteJsonAsync(context, P2pAnswers.Locked(false));
                break;
            case P2pEndpoint.CheckPresent:
                await CheckPresentAsync(context, request, cluster, ct);
                break;
            case P2pEndpoint.Remove:
            case P2pEndpoint.RemoveBefore:
                await RemoveAsync(context, request, cluster, ct);
                break;
            case P2pEndpoint.PutOffset:
                await PutOffsetAsync(context, request, cluster, ct);
                break;
            case P2pEndpoint.Put:
                await PutAsync(context, request, cluster, ct);
                break;
            case P2pEndpoint.Key:
                await download.ServeAsync(context, request, NodesFor(request, cluster), ct);
                break;
        }
    }

    /// <summary>
    /// Serves the gateway's own UUID (<c>AnnexEdge:Uuid</c>) as git-annex's gateway serves itself: an ordinary
    /// repository, which for the edge stores nothing, so every answer is the honest one for an empty repository.
    /// </summary>
    public async Task ServeSelfAsync(HttpContext context, P2pRequest request)
    {
        var answer = request.Endpoint switch
        {
            P2pEndpoint.GetTimestamp => P2pAnswers.Timestamp(clock.Timestamp()),
            P2pEndpoint.CheckPresent => P2pAnswers.Present(false),
            P2pEndpoint.LockContent or P2pEndpoint.KeepLocked => P2pAnswers.Locked(false),
            // Nothing is stored here, so there is nothing left to remove.
            P2pEndpoint.Remove or P2pEndpoint.RemoveBefore => P2pAnswers.Removed(true, [], request.EffectiveVersion),
            P2pEndpoint.PutOffset => P2pAnswers.Offset(0),
            P2pEndpoint.Put => P2pAnswers.Stored(false, [], request.EffectiveVersion),
            _ => null,
        };
        if (answer is null)
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        await WriteJsonAsync(context, answer);
    }

    /// <summary>The cluster's nodes, less any the client asked to bypass.</summary>
    private static Repository[] NodesFor(P2pRequest request, Cluster cluster) =>
        cluster.Nodes.Where(n => !request.Bypass.Contains(n.Uuid, StringComparer.Ordinal)).ToArray();

    /// <summary>The query a node gets: the client's identity, and this gateway added to bypass so no node loops back.</summary>
    private NodeQuery BaseQuery(P2pRequest request)
    {
        var query = new NodeQuery().Add("key", request.Key).Add("clientuuid", request.ClientUuid ?? _gatewayUuid);
        query.AddAll("bypass", request.Bypass);
        if (_gatewayUuid is not null && !request.Bypass.Contains(_gatewayUuid, StringComparer.Ordinal))
        {
            query.Add("bypass", _gatewayUuid);
        }

        return query;
    }

    private async Task CheckPresentAsync(HttpContext context, P2pRequest request, Cluster cluster, CancellationToken ct)
    {
        var answer = await CheckPresentOnNodesAsync(request, NodesFor(request, cluster), ct);
        if (answer is null)
        {
            await WriteErrorAsync(context, "no node of the cluster could be asked");
            return;
        }

        await WriteJsonAsync(context, P2pAnswers.Present(answer.Value));
    }

    /// <summary>
    /// Asks every node at once, cheapest first; the first "present" wins and the rest are cancelled.
    /// False only when some node answered and none has it; null when no node could answer.
    /// </summary>
    internal async Task<bool?> CheckPresentOnNodesAsync(P2pRequest request, IReadOnlyList<Repository> candidates, CancellationToken ct)
    {
        using var hedge = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var pending = NodePlacement.DownloadOrder(candidates, nodes.InFlight)
            .Select(n => nodes.PostAsync(n, "checkpresent", BaseQuery(request), hedge.Token))
            .ToList();
        var anyAnswer = false;
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending);
            pending.Remove(done);
            var present = (await done)?.Bool("present");
            if (present == true)
            {
                await hedge.CancelAsync();
                return true;
            }

            anyAnswer |= present == false;
        }

        return anyAnswer ? false : null;
    }

    private async Task RemoveAsync(HttpContext context, P2pRequest request, Cluster cluster, CancellationToken ct)
    {
        var targets = NodesFor(request, cluster);
        var results = await Task.WhenAll(targets.Select(n => request.Endpoint == P2pEndpoint.RemoveBefore
            ? RemoveBeforeOnNodeAsync(n, request, cluster, ct)
            : RemoveOnNodeAsync(n, BaseQuery(request), "remove", ct)));

        var removedFrom = results.Where(r => r.Removed).SelectMany(r => r.Uuids).Distinct(StringComparer.Ordinal).ToArray();
        var allRemoved = targets.Length > 0 && results.All(r => r.Removed);
        if (!allRemoved)
        {
            Log.PartialRemoval(logger, cluster.Name, request.Key, removedFrom.Length, targets.Length);
        }

        await WriteJsonAsync(context, P2pAnswers.Removed(allRemoved, removedFrom, request.EffectiveVersion));
    }

    private async Task<(bool Removed, IReadOnlyList<string> Uuids)> RemoveOnNodeAsync(Repository node, NodeQuery query, string endpoint, CancellationToken ct)
    {
        var answer = await nodes.PostAsync(node, endpoint, query, ct);
        return answer?.Bool("removed") == true ? (true, [node.Uuid, .. answer.PlusUuids()]) : (false, []);
    }

    private async Task<(bool Removed, IReadOnlyList<string> Uuids)> RemoveBeforeOnNodeAsync(Repository node, P2pRequest request, Cluster cluster, CancellationToken ct)
    {
        var deadline = request.Timestamp!.Value;
        if (deadline <= clock.Now())
        {
            return (false, []);
        }

        var stamp = await nodes.PostAsync(node, "gettimestamp", new NodeQuery().Add("clientuuid", request.ClientUuid), ct);
        var nodeTimestamp = stamp?.Integer("timestamp");
        var readBy = clock.Now();
        if (nodeTimestamp is null)
        {
            return (false, []);
        }

        var nodeDeadline = RemoveBeforeTranslation.NodeDeadline(deadline, nodeTimestamp.Value, readBy, cluster.TimestampSkewMargin);
        if (nodeDeadline is null)
        {
            return (false, []);
        }

        return await RemoveOnNodeAsync(node, BaseQuery(request).Add("timestamp", nodeDeadline), "remove-before", ct);
    }

    /// <summary>Where each target node stands on a key: already has it, wants it from an offset, or did not answer.</summary>
    private async Task<IReadOnlyList<(Repository Node, bool Has, long Offset)>> PutOffsetsAsync(
        P2pRequest request, IReadOnlyList<Repository> targets, CancellationToken ct)
    {
        var answers = await Task.WhenAll(targets.Select(n => nodes.PostAsync(n, "putoffset", BaseQuery(request), ct)));
        var result = new List<(Repository, bool, long)>();
        for (var i = 0; i < targets.Count; i++)
        {
            if (answers[i]?.Bool("alreadyhave") == true)
            {
                result.Add((targets[i], true, 0));
            }
            else if (answers[i]?.Integer("offset") is { } offset and >= 0)
            {
                result.Add((targets[i], false, offset));
            }
        }

        return result;
    }

    private IReadOnlyList<Repository> UploadTargets(P2pRequest request, Cluster cluster)
    {
        var live = NodesFor(request, cluster).Where(nodes.IsLive).ToArray();
        return NodePlacement.UploadTargets(cluster, request.Key!, live);
    }

    private async Task PutOffsetAsync(HttpContext context, P2pRequest request, Cluster cluster, CancellationToken ct)
    {
        var states = await PutOffsetsAsync(request, UploadTargets(request, cluster), ct);
        if (states.Count == 0)
        {
            await WriteErrorAsync(context, "no node of the cluster could take the upload");
        }
        else if (states.All(s => s.Has))
        {
            await WriteJsonAsync(context, P2pAnswers.AlreadyHave(states.Select(s => s.Node.Uuid).ToArray(), request.EffectiveVersion));
        }
        else
        {
            // The client resumes from the smallest offset any node needs; nodes further on skip what they have.
            await WriteJsonAsync(context, P2pAnswers.Offset(states.Where(s => !s.Has).Min(s => s.Offset)));
        }
    }

    private async Task PutAsync(HttpContext context, P2pRequest request, Cluster cluster, CancellationToken ct)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } max)
        {
            max.MaxRequestBodySize = null;
        }

        var states = await PutOffsetsAsync(request, UploadTargets(request, cluster), ct);
        var holders = states.Where(s => s.Has).Select(s => s.Node.Uuid).ToList();
        var clientOffset = request.Offset ?? 0;
        var length = request.DataLength!.Value;
        // A node that needs bytes before the client's offset cannot be served from this upload.
        var senders = states.Where(s => !s.Has && s.Offset >= clientOffset && s.Offset <= clientOffset + length).ToArray();
        if (senders.Length == 0 || request.DataPresent)
        {
            await WriteJsonAsync(context, P2pAnswers.Stored(holders.Count > 0, holders, request.EffectiveVersion));
            return;
        }

        var destinations = senders.Select(s => new FanOutDestination(s.Node.Name, s.Offset - clientOffset, _stallTimeout)).ToArray();
        var stored = new List<string>(holders);
        try
        {
            var uploads = new Task<NodeAnswer?>[senders.Length];
            for (var i = 0; i < senders.Length; i++)
            {
                uploads[i] = UploadToNodeAsync(senders[i].Node, request, senders[i].Offset, clientOffset + length - senders[i].Offset, destinations[i], ct);
            }

            try
            {
                await FanOutStream.CopyAsync(context.Request.Body, destinations, _stallTimeout, ct);
            }
            catch (Exception e) when (e is IOException or BadHttpRequestException or OperationCanceledException)
            {
                // The client's upload broke off: every node's request was failed with it, nothing is stored.
                Log.UploadAborted(logger, cluster.Name, request.Key);
                await Task.WhenAll(uploads);
                return;
            }

            var answers = await Task.WhenAll(uploads);
            for (var i = 0; i < senders.Length; i++)
            {
                if (answers[i]?.Bool("stored") == true)
                {
                    stored.Add(senders[i].Node.Uuid);
                    stored.AddRange(answers[i]!.PlusUuids());
                }
                else
                {
                    Log.NodeDidNotStore(logger, senders[i].Node.Name, cluster.Name, request.Key, destinations[i].Failure?.Message);
                }
            }
        }
        finally
        {
            foreach (var destination in destinations)
            {
                destination.Dispose();
            }
        }

        var distinct = stored.Distinct(StringComparer.Ordinal).ToArray();
        await WriteJsonAsync(context, P2pAnswers.Stored(distinct.Length > 0, distinct, request.EffectiveVersion));
    }

    private async Task<NodeAnswer?> UploadToNodeAsync(
        Repository node, P2pRequest request, long offset, long dataLength, FanOutDestination destination, CancellationToken ct)
    {
        using var busy = nodes.Busy(node);
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(ct, destination.Aborted);
        try
        {
            var query = BaseQuery(request).Add("associatedfile", request.AssociatedFile).Add("offset", offset);
            destination.Content.Headers.TryAddWithoutValidation(P2pRequestParser.DataLengthHeader, dataLength.ToString(System.Globalization.CultureInfo.InvariantCulture));
            destination.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");

            // Framed by length rather than chunks: each piece goes to the node in one write, and a body cut short
            // by a failure can never end cleanly.
            destination.Content.Headers.ContentLength = dataLength;
            using var response = await nodes.SendAsync(node, HttpMethod.Post, "put", query, destination.Content, aborted.Token);
            if (response is null || response.StatusCode != HttpStatusCode.OK)
            {
                destination.Fail(new IOException($"node {node.Name} answered {(int?)response?.StatusCode}"));
                return null;
            }

            return NodeAnswer.Parse(await response.Content.ReadAsByteArrayAsync(aborted.Token));
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            destination.Fail(destination.Failure is null && destination.Aborted.IsCancellationRequested && !ct.IsCancellationRequested
                ? new TimeoutException($"node {node.Name} did not answer within {_stallTimeout} of receiving the last byte")
                : e);
            return null;
        }
    }

    internal static async Task WriteJsonAsync(HttpContext context, byte[] json)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json;charset=utf-8";
        await context.Response.Body.WriteAsync(json, context.RequestAborted);
    }

    internal static async Task WriteErrorAsync(HttpContext context, string message)
    {
        context.Response.StatusCode = StatusCodes.Status502BadGateway;
        context.Response.ContentType = "text/plain;charset=utf-8";
        await context.Response.WriteAsync(message, context.RequestAborted);
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.ClusterPartialRemoval, LogLevel.Warning, "Cluster {Cluster}: {Key} was removed from {Removed} of {Nodes} nodes; the client is told it was not removed")]
        public static partial void PartialRemoval(ILogger logger, string cluster, string? key, int removed, int nodes);

        [LoggerMessage(EdgeEventIds.ClusterNodeDidNotStore, LogLevel.Warning, "Cluster {Cluster}: node {Node} did not store {Key} ({Reason}); it is left out of plusuuids")]
        public static partial void NodeDidNotStore(ILogger logger, string node, string cluster, string? key, string? reason);

        [LoggerMessage(EdgeEventIds.ClusterUploadAborted, LogLevel.Warning, "Cluster {Cluster}: the client's upload of {Key} broke off; no node keeps it")]
        public static partial void UploadAborted(ILogger logger, string cluster, string? key);
    }
}
