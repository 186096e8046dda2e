using System.Globalization;
using System.Net;
using AnnexEdge.Configuration;
using AnnexEdge.Logging;
using Microsoft.Extensions.Options;
using AnnexEdge.Pipeline;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;
using AnnexEdge.Telemetry;

namespace AnnexEdge.Clusters;

/// <summary>
/// GET of a key from a cluster: among the nodes that have it, the cheapest, then the least busy. A node that fails
/// before its first byte is replaced by the next; one that fails mid-body is continued by another node from the
/// byte reached (the <c>offset</c> parameter), so the client sees one complete, correct stream. A node that stalled
/// after sending some of the object is asked once more, after the others: git-annex 10.20250416's p2phttp now and
/// then stops a GET's answer short of its end, most often the first GET of a key it has just got, and answers the
/// next GET whole.
/// </summary>
internal sealed partial class ClusterDownload(
    NodeClient nodes,
    ClusterCheckPresent checkPresent,
    EdgeMetrics metrics,
    IOptions<AnnexEdgeOptions> options,
    TimeProvider time,
    ILogger<ClusterDownload> logger)
{
    private const int ChunkSize = 64 * 1024;

    /// <summary>A node that does not answer for this long has failed: the download moves to the next node.</summary>
    private readonly TimeSpan _activityTimeout = options.Value.Forwarding.ActivityTimeout;

    /// <summary>A node that sends nothing for this long midway through the body has stalled.</summary>
    private readonly TimeSpan _stallTimeout = options.Value.Forwarding.StallTimeout < options.Value.Forwarding.ActivityTimeout
        ? options.Value.Forwarding.StallTimeout
        : options.Value.Forwarding.ActivityTimeout;

    public async Task ServeAsync(HttpContext context, P2pRequestFeature feature, IReadOnlyList<Repository> candidates, CancellationToken ct)
    {
        var request = feature.Request;
        var startOffset = Math.Max(0, request.Offset ?? 0);

        // A node that lacks a key answers its GET at once with an empty body (p2phttp does not say 404), so when the
        // key's size tells an empty answer from content, this edge's nodes are asked for the content directly, in
        // download order, saving the checkpresent round. Nodes at other sites are not: each asked in turn would cost a
        // round trip over its link (bench/multisite.sh: a 4 KiB GET from the third site took 2.7x the direct time), so
        // when the first of them comes in download order, they are all asked checkpresent at once, and only holders
        // are read.
        // Without a size, only nodes that say they have the key are asked, wherever they are.
        var sized = request.Key is not null && AnnexKey.TryParse(request.Key, out var keySize) && keySize > startOffset;
        var search = sized ? null : checkPresent.Ask(feature, candidates, ct);
        ClusterCheckPresent.Search? remoteSearch = null;

        async IAsyncEnumerable<Repository> SizedOrderAsync()
        {
            foreach (var node in NodePlacement.DownloadOrder(candidates, nodes.InFlight))
            {
                if (node.Via is null)
                {
                    yield return node;
                    continue;
                }

                remoteSearch ??= checkPresent.Ask(feature, candidates.Where(n => n.Via is not null).ToArray(), ct);
                if (await remoteSearch.HasAsync(node))
                {
                    yield return node;
                }
            }
        }

        // Whether some node could not tell (or serve) what it has: then no "not found" can be said truthfully.
        var failed = false;
        long? total = null;
        long sent = 0;

        // Nodes that stalled after making progress, each asked again once, after the first round.
        var again = new List<Repository>();
        await foreach (var node in WithSecondTries(search?.HoldersInOrderAsync() ?? SizedOrderAsync(), again))
        {
            // Re-armed before every wait on the node; the client's own token stays separate, so a stalled node is
            // a node failure and a departed client is the end.
            using var stall = new CancellationTokenSource(_activityTimeout, time);
            using var activity = CancellationTokenSource.CreateLinkedTokenSource(ct, stall.Token);
            var nodeRequest = nodes.NodeRequest(request, node, P2pEndpoint.Key) with { Offset = startOffset + sent };
            NodeResponse? response;
            try
            {
                response = await nodes.SendAsync(feature, node, HttpMethod.Get, nodeRequest, null, activity.Token, stall.Token);
            }
            catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested))
            {
                failed = true;
                continue;
            }

            using (response)
            {
                var message = response?.Message;
                var remaining = message is not null && P2pAnswer.TryReadDataLength(
                    message.Headers.TryGetValues(P2pRequestParser.DataLengthHeader, out var values) ? values : null, out var n) ? n : (long?)null;
                if (message is null || message.StatusCode != HttpStatusCode.OK || remaining is null
                    || (total is not null && remaining != total - sent))
                {
                    // Not this node: it does not have it (any more), could not be reached, or disagrees about the size.
                    failed |= message?.StatusCode != HttpStatusCode.NotFound;
                    continue;
                }

                if (total is null)
                {
                    if (remaining == 0 && sized)
                    {
                        // This node does not have it (or lost it since checkpresent): ask the next.
                        continue;
                    }

                    total = remaining;
                    context.Response.StatusCode = StatusCodes.Status200OK;
                    context.Response.ContentType = "application/octet-stream";
                    context.Response.Headers[P2pRequestParser.DataLengthHeader] = remaining.Value.ToString(CultureInfo.InvariantCulture);

                    // Framed by length, not chunks: cheaper to send, and a cut connection can never look complete.
                    context.Response.ContentLength = remaining.Value;
                }
                else
                {
                    Log.Resumed(logger, node.Name, startOffset + sent);
                }

                // The node's bytes are read straight into Kestrel's output buffer: no copy in between.
                var writer = context.Response.BodyWriter;
                var sentBefore = sent;
                var measured = metrics.NodeDownloadStarted((Cluster)feature.Target, node);
                var outcome = EdgeMetrics.DownloadOutcome.Failed;
                try
                {
                    await using var body = await message.Content.ReadAsStreamAsync(activity.Token);
                    while (sent < total)
                    {
                        var memory = writer.GetMemory(ChunkSize);
                        stall.CancelAfter(_stallTimeout);
                        var read = await body.ReadAsync(memory[..(int)Math.Min(memory.Length, total.Value - sent)], activity.Token);

                        // A slow client is not the node's inactivity.
                        stall.CancelAfter(Timeout.InfiniteTimeSpan);
                        if (read == 0)
                        {
                            break;
                        }

                        writer.Advance(read);
                        sent += read;
                        feature.Sent(read);

                        // The client's failures end the request; only the node's failures move to another node.
                        try
                        {
                            if ((await writer.FlushAsync(ct)) is { IsCanceled: true } or { IsCompleted: true })
                            {
                                return;
                            }
                        }
                        catch (Exception e) when (e is IOException or OperationCanceledException)
                        {
                            return;
                        }
                    }
                }
                catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested))
                {
                    if (stall.IsCancellationRequested)
                    {
                        outcome = EdgeMetrics.DownloadOutcome.TimedOut;
                        if (sent > sentBefore && !again.Contains(node))
                        {
                            // A short answer after some progress, not (yet) a wedged node: it stays in rotation, to
                            // be asked again.
                            again.Add(node);
                        }
                        else
                        {
                            response!.Failed();
                        }
                    }
                }
                finally
                {
                    measured.End(sent == total ? EdgeMetrics.DownloadOutcome.Complete : outcome, sent - sentBefore);
                }

                if (sent == total)
                {
                    return;
                }
            }
        }

        failed |= search?.SomeUnanswered == true || remoteSearch?.SomeUnanswered == true;
        if (total is null)
        {
            if (failed)
            {
                // Some node could not be asked, or failed before its first byte: the key may well be there.
                await context.FailAsync("no node of the cluster could serve the key");
            }
            else
            {
                // Every node said it lacks the key: as for a repository that lacks it.
                context.Response.StatusCode = StatusCodes.Status404NotFound;
            }

            return;
        }

        // Started but could not finish from any node: cut the connection so a short copy is never taken for whole.
        Log.Failed(logger, request.Key, sent, total.Value);
        context.Abort();
    }

    /// <summary>The first round of nodes, then those added to <paramref name="again"/> meanwhile (each only once).</summary>
    private static async IAsyncEnumerable<Repository> WithSecondTries(IAsyncEnumerable<Repository> firstRound, List<Repository> again)
    {
        await foreach (var node in firstRound)
        {
            yield return node;
        }

        // Read by index: a node of the second round that stalls again is already in the list, so it does not grow.
        for (var i = 0; i < again.Count; i++)
        {
            yield return again[i];
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.ClusterDownloadResumed, LogLevel.Warning, "Download continued from node {Node} at byte {Offset} after the previous node failed")]
        public static partial void Resumed(ILogger logger, string node, long offset);

        [LoggerMessage(EdgeEventIds.ClusterDownloadFailed, LogLevel.Error, "Download of {Key} stopped at {Sent} of {Total} bytes: no node could continue it; the client's connection was cut")]
        public static partial void Failed(ILogger logger, string? key, long sent, long total);
    }
}
