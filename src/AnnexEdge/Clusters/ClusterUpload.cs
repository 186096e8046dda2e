using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using AnnexEdge.Configuration;
using AnnexEdge.Logging;
using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using Microsoft.Extensions.Options;

namespace AnnexEdge.Clusters;

/// <summary>
/// putoffset and put on a cluster: the nodes that should hold the key (all live ones, or <c>Copies</c> of them) are
/// asked where they stand, and one upload from the client is streamed once to every node that needs it, each from
/// its own offset (<see cref="FanOutCopier"/>). Stored is claimed only for the nodes that said so.
/// </summary>
internal sealed partial class ClusterUpload(NodeClient nodes, IOptions<AnnexEdgeOptions> options, ILogger<ClusterUpload> logger)
{
    private readonly TimeSpan _stallTimeout = options.Value.Forwarding.ActivityTimeout;

    public async Task PutOffsetAsync(HttpContext context, P2pRequestFeature feature, Cluster cluster, IReadOnlyList<Repository> candidates, CancellationToken ct)
    {
        var request = feature.Request;
        var states = await PutOffsetsAsync(feature, UploadTargets(request, cluster, candidates), ct);
        if (states.Count == 0)
        {
            await context.FailAsync("no node of the cluster could take the upload");
        }
        else if (states.All(s => s.Has))
        {
            await context.AnswerAsync(P2pAnswers.AlreadyHave(states.Select(s => s.Node.Uuid).ToArray(), request.EffectiveVersion));
        }
        else
        {
            // The client resumes from the smallest offset any node needs; nodes further on skip what they have.
            await context.AnswerAsync(P2pAnswers.Offset(states.Where(s => !s.Has).Min(s => s.Offset)));
        }
    }

    public async Task PutAsync(HttpContext context, P2pRequestFeature feature, Cluster cluster, IReadOnlyList<Repository> candidates, CancellationToken ct)
    {
        var request = feature.Request;
        var states = await PutOffsetsAsync(feature, UploadTargets(request, cluster, candidates), ct);
        var holders = states.Where(s => s.Has).Select(s => s.Node.Uuid).ToList();
        var clientOffset = request.Offset ?? 0;
        var length = request.DataLength!.Value;
        // A node that needs bytes before the client's offset cannot be served from this upload.
        var senders = states.Where(s => !s.Has && s.Offset >= clientOffset && s.Offset <= clientOffset + length).ToArray();
        if (senders.Length == 0 || request.DataPresent)
        {
            await context.AnswerAsync(P2pAnswers.Stored(holders.Count > 0, holders, request.EffectiveVersion));
            return;
        }

        var destinations = senders.Select(s => new FanOutDestination(s.Node.Name, s.Offset - clientOffset, _stallTimeout)).ToArray();
        var stored = new List<string>(holders);
        try
        {
            var uploads = new Task<P2pAnswer?>[senders.Length];
            for (var i = 0; i < senders.Length; i++)
            {
                uploads[i] = UploadToNodeAsync(feature, senders[i].Node, senders[i].Offset, clientOffset + length - senders[i].Offset, destinations[i], ct);
            }

            try
            {
                await FanOutCopier.CopyAsync(context.Request.Body, destinations, _stallTimeout, ct);
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
        await context.AnswerAsync(P2pAnswers.Stored(distinct.Length > 0, distinct, request.EffectiveVersion));
    }

    private IReadOnlyList<Repository> UploadTargets(P2pRequest request, Cluster cluster, IReadOnlyList<Repository> candidates) =>
        NodePlacement.UploadTargets(cluster, request.Key!, candidates.Where(nodes.IsLive).ToArray());

    /// <summary>Where each target node stands on a key: already has it, wants it from an offset, or did not answer.</summary>
    private async Task<IReadOnlyList<(Repository Node, bool Has, long Offset)>> PutOffsetsAsync(
        P2pRequestFeature feature, IReadOnlyList<Repository> targets, CancellationToken ct)
    {
        var answers = await Task.WhenAll(targets.Select(n =>
            nodes.PostAsync(feature, n, nodes.NodeRequest(feature.Request, n, P2pEndpoint.PutOffset), ct)));
        var result = new List<(Repository, bool, long)>();
        for (var i = 0; i < targets.Count; i++)
        {
            if (answers[i]?.Bool("alreadyhave") == true)
            {
                result.Add((targets[i], true, 0));
            }
            else if (answers[i]?.Number("offset") is { } offset and >= 0)
            {
                result.Add((targets[i], false, offset));
            }
        }

        return result;
    }

    private async Task<P2pAnswer?> UploadToNodeAsync(
        P2pRequestFeature feature, Repository node, long offset, long dataLength, FanOutDestination destination, CancellationToken ct)
    {
        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(ct, destination.Aborted);
        try
        {
            var request = nodes.NodeRequest(feature.Request, node, P2pEndpoint.Put) with { Offset = offset, DataPresent = false };
            destination.Content.Headers.TryAddWithoutValidation(P2pRequestParser.DataLengthHeader, dataLength.ToString(CultureInfo.InvariantCulture));
            destination.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");

            // Framed by length rather than chunks: each piece goes to the node in one write, and a body cut short
            // by a failure can never end cleanly.
            destination.Content.Headers.ContentLength = dataLength;
            using var response = await nodes.SendAsync(feature, node, HttpMethod.Post, request, destination.Content, aborted.Token);
            if (response is null || response.Message.StatusCode != HttpStatusCode.OK)
            {
                destination.Fail(new IOException($"node {node.Name} answered {(int?)response?.Message.StatusCode}"));
                return null;
            }

            var body = await Forwarding.BoundedContent.ReadAsync(response.Message.Content, P2pAnswer.MaxBytes, aborted.Token);
            return body is null ? null : P2pAnswer.Parse(body);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            destination.Fail(destination.Failure is null && destination.Aborted.IsCancellationRequested && !ct.IsCancellationRequested
                ? new TimeoutException($"node {node.Name} did not answer within {_stallTimeout} of receiving the last byte")
                : e);
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.ClusterNodeDidNotStore, LogLevel.Warning, "Cluster {Cluster}: node {Node} did not store {Key} ({Reason}); it is left out of plusuuids")]
        public static partial void NodeDidNotStore(ILogger logger, string node, string cluster, string? key, string? reason);

        [LoggerMessage(EdgeEventIds.ClusterUploadAborted, LogLevel.Warning, "Cluster {Cluster}: the client's upload of {Key} broke off; no node keeps it")]
        public static partial void UploadAborted(ILogger logger, string cluster, string? key);
    }
}
