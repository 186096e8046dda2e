using System.Globalization;
using System.Net;
using AnnexEdge.Configuration;
using AnnexEdge.Logging;
using Microsoft.Extensions.Options;
using AnnexEdge.Protocol;
using AnnexEdge.Routing;

namespace AnnexEdge.Clusters;

/// <summary>
/// GET of a key from a cluster: among the nodes that have it, the cheapest, then the least busy. A node that fails
/// before its first byte is replaced by the next; one that fails mid-body is continued by another node from the
/// byte reached (the <c>offset</c> parameter), so the client sees one complete, correct stream.
/// </summary>
internal sealed partial class ClusterDownload(NodeClient nodes, IOptions<AnnexEdgeOptions> options, ILogger<ClusterDownload> logger)
{
    private const int ChunkSize = 64 * 1024;

    /// <summary>A node that sends nothing for this long has failed: the download moves to the next node.</summary>
    private readonly TimeSpan _activityTimeout = options.Value.Forwarding.ActivityTimeout;

    public async Task ServeAsync(HttpContext context, P2pRequest request, IReadOnlyList<Repository> candidates, CancellationToken ct)
    {
        var startOffset = Math.Max(0, request.Offset ?? 0);

        // A node that lacks a key answers its GET at once with an empty body (p2phttp does not say 404), so when the
        // key's size tells an empty answer from content, the nodes are asked for the content directly, in download
        // order, saving the checkpresent round. Without a size, only nodes that said they have the key are asked.
        var sized = request.Key is not null && AnnexKey.TryParse(request.Key, out var keySize) && keySize > startOffset;
        // Whether some node could not tell (or serve) what it has: then no "not found" can be said truthfully.
        var (holders, failed) = sized ? (candidates, false) : await HoldersAsync(request, candidates, ct);
        var order = NodePlacement.DownloadOrder(holders, nodes.InFlight).ToList();
        long? total = null;
        long sent = 0;

        while (order.Count > 0)
        {
            var node = order[0];
            order.RemoveAt(0);
            using var busy = nodes.Busy(node);

            // Re-armed before every wait on the node; the client's own token stays separate, so a stalled node is
            // a node failure and a departed client is the end.
            using var activity = CancellationTokenSource.CreateLinkedTokenSource(ct);
            activity.CancelAfter(_activityTimeout);
            var query = new NodeQuery().Add("clientuuid", request.ClientUuid ?? Health.P2pProbingRequestFactory.DefaultProbeClientUuid).AddAll("bypass", request.Bypass)
                .Add("associatedfile", request.AssociatedFile).Add("offset", startOffset + sent);
            HttpResponseMessage? response;
            try
            {
                response = await nodes.SendAsync(node, HttpMethod.Get, "key/" + Uri.EscapeDataString(request.Key!), query, null, activity.Token);
            }
            catch (Exception e) when (e is HttpRequestException or IOException || (e is OperationCanceledException && !ct.IsCancellationRequested))
            {
                failed = true;
                continue;
            }

            using (response)
            {
                var remaining = DataLength(response);
                if (response is null || response.StatusCode != HttpStatusCode.OK || remaining is null
                    || (total is not null && remaining != total - sent))
                {
                    // Not this node: it does not have it (any more), could not be reached, or disagrees about the size.
                    failed |= response?.StatusCode != HttpStatusCode.NotFound;
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
                try
                {
                    await using var body = await response.Content.ReadAsStreamAsync(activity.Token);
                    while (sent < total)
                    {
                        var memory = writer.GetMemory(ChunkSize);
                        activity.CancelAfter(_activityTimeout);
                        var read = await body.ReadAsync(memory[..(int)Math.Min(memory.Length, total.Value - sent)], activity.Token);

                        // A slow client is not the node's inactivity.
                        activity.CancelAfter(Timeout.InfiniteTimeSpan);
                        if (read == 0)
                        {
                            break;
                        }

                        writer.Advance(read);
                        sent += read;

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
                }

                if (sent == total)
                {
                    return;
                }
            }
        }

        if (total is null)
        {
            if (failed)
            {
                // Some node could not be asked, or failed before its first byte: the key may well be there.
                await ClusterGateway.WriteErrorAsync(context, "no node of the cluster could serve the key");
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

    /// <summary>The nodes that say they have the key, and whether some node did not answer.</summary>
    private async Task<(IReadOnlyList<Repository> Holders, bool SomeUnanswered)> HoldersAsync(
        P2pRequest request, IReadOnlyList<Repository> candidates, CancellationToken ct)
    {
        var query = new NodeQuery().Add("key", request.Key).Add("clientuuid", request.ClientUuid ?? Health.P2pProbingRequestFactory.DefaultProbeClientUuid);
        var answers = await Task.WhenAll(candidates.Select(n => nodes.PostAsync(n, "checkpresent", query, ct)));
        return (candidates.Where((_, i) => answers[i]?.Bool("present") == true).ToArray(), answers.Any(a => a?.Bool("present") is null));
    }

    private static long? DataLength(HttpResponseMessage? response) =>
        response is not null && response.Headers.TryGetValues(P2pRequestParser.DataLengthHeader, out var values)
            && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    private static partial class Log
    {
        [LoggerMessage(EdgeEventIds.ClusterDownloadResumed, LogLevel.Warning, "Download continued from node {Node} at byte {Offset} after the previous node failed")]
        public static partial void Resumed(ILogger logger, string node, long offset);

        [LoggerMessage(EdgeEventIds.ClusterDownloadFailed, LogLevel.Error, "Download of {Key} stopped at {Sent} of {Total} bytes: no node could continue it; the client's connection was cut")]
        public static partial void Failed(ILogger logger, string? key, long sent, long total);
    }
}
